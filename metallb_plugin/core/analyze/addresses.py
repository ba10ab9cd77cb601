"""Pools and their addresses: objects outside MetalLB's namespace, invalid entries, overlapping pools, and
addresses that belong to something else (special ranges, nodes, the service CIDR, pod CIDRs)."""

import bisect
import ipaddress
import itertools
from typing import Any, Callable, Dict, List, Tuple

from metallb_plugin.core import ipam, pools
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.analyze.finding import ERROR, WARNING, Finding, Ref, finding, rule
from metallb_plugin.core.analyze.model import CONFIG_KINDS, Entry, Model
from metallb_plugin.core.checks import register
from metallb_plugin.core.objects import name

POOLS = ("ipaddresspools",)


def outside_namespace(model: Model) -> List[Finding]:
    found = []
    for key, kind in CONFIG_KINDS:
        for obj in model.everywhere[key]:
            if k8s.namespace(obj) != model.ns:
                found.append(
                    finding(
                        "MLB0401",
                        f"{kind} {k8s.namespace(obj) or '(no namespace)'}/{name(obj)} is outside {model.ns}, the "
                        "only namespace MetalLB reads: it is ignored",
                        f"create it in {model.ns} instead (and delete this one)",
                        Ref.of(obj, kind=kind),
                    )
                )
    return found


def invalid_entries(model: Model) -> List[Finding]:
    found = []
    for pool in model.everywhere["ipaddresspools"]:
        entries = model.entries(pool)
        if not entries:
            found.append(
                finding(
                    "MLB0403",
                    f"IPAddressPool {k8s.key(pool)} has no addresses: MetalLB rejects it",
                    "list the pool's addresses in spec.addresses (CIDRs or START-END ranges)",
                    Ref.of(pool, "spec.addresses", kind="IPAddressPool"),
                )
            )
        for entry in entries:
            if entry.range is None:
                found.append(
                    finding(
                        "MLB0403",
                        f"IPAddressPool {k8s.key(pool)}: {entry.error}: MetalLB rejects the pool",
                        "write a CIDR like 192.168.10.0/24 or a range like 192.168.10.1-192.168.10.50",
                        Ref.of(pool, entry.path, kind="IPAddressPool"),
                    )
                )
    return found


def overlapping(model: Model) -> List[Finding]:
    where: Dict[int, Entry] = {}
    ranges: Dict[str, List[ipam.AddressRange]] = {}
    for pool in model.everywhere["ipaddresspools"]:
        for entry in model.entries(pool):
            if entry.range is not None:
                where[id(entry.range)] = entry
                ranges.setdefault(k8s.key(pool), []).append(entry.range)
    found = []
    for overlap in ipam.pool_overlaps(ranges):
        first, second = where[id(overlap.entry)], where[id(overlap.other_entry)]
        same_ns = k8s.namespace(first.pool) == k8s.namespace(second.pool) == model.ns
        found.append(
            finding(
                "MLB0402",
                f"{overlap.entry} of IPAddressPool {k8s.key(first.pool)} overlaps {overlap.other_entry} of "
                f"IPAddressPool {k8s.key(second.pool)}" + (": MetalLB refuses overlapping pools" if same_ns else ""),
                "give each pool addresses of its own (kubectl metallb pools shows them)",
                Ref.of(first.pool, first.path, kind="IPAddressPool"),
                Ref.of(second.pool, second.path, kind="IPAddressPool"),
            )
        )
    return found


def _entries(model: Model) -> List[Tuple[Entry, ipam.AddressRange]]:
    return [(e, e.range) for p in model.pools for e in model.entries(p) if e.range is not None]


def special(model: Model) -> List[Finding]:
    found = []
    for entry, address_range in _entries(model):
        for hit in ipam.special_overlaps([address_range]):
            found.append(
                finding(
                    "MLB0404",
                    f"IPAddressPool {name(entry.pool)}: {hit}. MetalLB would hand them out all the same",
                    "use addresses of your LAN that no host, router or DHCP server uses, like "
                    "192.168.10.240-192.168.10.250",
                    Ref.of(entry.pool, entry.path, kind="IPAddressPool"),
                )
            )
    return found


def _network_findings(model: Model, code: str, networks: List[Tuple[str, Any]], why: str) -> List[Finding]:
    found = []
    overlapping = _index([ipam.network_range(network) for _, network in networks])
    for entry, address_range in _entries(model):
        for index in overlapping(address_range):
            what, network = networks[index]
            shown = network.network_address if network.num_addresses == 1 else network
            found.append(
                finding(
                    code,
                    f"IPAddressPool {name(entry.pool)}: {entry.text} overlaps {what} ({shown}): {why}",
                    "take those addresses out of the pool (split the range around them)",
                    Ref.of(entry.pool, entry.path, kind="IPAddressPool"),
                )
            )
    return found


def _index(ranges: List[ipam.AddressRange]) -> Callable[[ipam.AddressRange], List[int]]:
    """A function giving the positions of the ranges that overlap a range, in order, without comparing it with
    each of them (thousands of node addresses and pod CIDRs against every pool entry)."""
    families: Dict[int, List[Tuple[int, int, int]]] = {}
    for position, address_range in enumerate(ranges):
        family, first, last = address_range.span
        families.setdefault(family, []).append((first, last, position))
    firsts, reach = {}, {}  # per family: sorted starts; the furthest end among the ranges up to each
    for family, items in families.items():
        items.sort()
        firsts[family] = [first for first, _, _ in items]
        reach[family] = list(itertools.accumulate((last for _, last, _ in items), max))

    def overlapping(address_range: ipam.AddressRange) -> List[int]:
        family, first, last = address_range.span
        items, found = families.get(family, []), []
        at = bisect.bisect_right(firsts.get(family, []), last) - 1  # the ranges from here down start by `last`
        while at >= 0 and reach[family][at] >= first:  # some range from here down still ends at or after `first`
            if items[at][1] >= first:
                found.append(items[at][2])
            at -= 1
        return sorted(found)

    return overlapping


def node_addresses(model: Model) -> List[Finding]:
    networks = pools.node_networks(model.nodes, pod_cidrs=False)
    why = "MetalLB would hand out a node's own address, and that node would lose traffic to ARP/NDP conflicts"
    return _network_findings(model, "MLB0405", networks, why)


def service_cidr(model: Model) -> List[Finding]:
    cidrs = model.service_cidrs()
    if cidrs is None:  # an older server: ClusterIPs in use tell the service CIDR's addresses
        model.need("services")
        networks: List[Tuple[str, Any]] = []
        for service in model.view.services:
            spec = k8s.spec(service)
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                network = _network(ip)
                if network is not None:
                    networks.append((f"the ClusterIP of Service {k8s.key(service)}", network))
    else:
        networks = [("the service CIDR", n) for n in map(_network, cidrs) if n is not None]
    why = "those addresses belong to ClusterIPs"
    return _network_findings(model, "MLB0406", networks, why)


def _network(text: Any) -> Any:
    """An address or CIDR as a network; None for anything else ("None" of a headless Service included)."""
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def pod_cidrs(model: Model) -> List[Finding]:
    networks = pools.node_networks(model.nodes, addresses=False)
    return _network_findings(model, "MLB0407", networks, "those addresses belong to Pods")


register(
    "analyze.addresses",
    "Pools and addresses",
    (
        rule(
            "MLB0401",
            ERROR,
            "MetalLB objects are in MetalLB's namespace",
            outside_namespace,
            needs=tuple(key for key, _ in CONFIG_KINDS),
        ),
        rule("MLB0402", ERROR, "pools do not overlap", overlapping, needs=POOLS),
        rule("MLB0403", ERROR, "pool addresses are valid", invalid_entries, needs=POOLS),
        rule("MLB0404", ERROR, "pool addresses can be reached", special, needs=POOLS),
        rule("MLB0405", WARNING, "pools avoid node addresses", node_addresses, needs=POOLS + ("nodes",)),
        rule("MLB0406", WARNING, "pools avoid the service CIDR", service_cidr, needs=POOLS),
        rule("MLB0407", WARNING, "pools avoid the pod CIDRs", pod_cidrs, needs=POOLS + ("nodes",)),
    ),
)
