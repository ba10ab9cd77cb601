"""The pools view and the objects `pools create` / `pools delete` write (pure: raw dicts in, dicts out).

- `summarize(pools, advertisements, services) -> (rows, warnings)`: one row per IPAddressPool with capacity and
  use (the stable JSON shape of `pools list`), plus problems worth a warning (unannounced pools, bad entries,
  overlapping pools).
- `pool_object(...)`, `advertisement_object(...)`: what `pools create` writes.
- `validate_name(name)`, `parse_node_selector("k=v,k2=v2")`: input checks with one-line ValueErrors.
- `placement_warnings(ranges, nodes, service_cidrs)`: a new pool overlapping node addresses, pod CIDRs or
  the service CIDR.
- `cleanup_plan(pool_name, advertisements)`: which advertisements to delete (they named only this pool) and
  which to edit (they named it among others) when the pool goes.
"""

import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import ipam, pool_usage
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.text import echo
from metallb_plugin.defaults import MANAGED_BY, V1BETA1

GROUP = "metallb.io"
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
PROTOCOL_LABEL = {adv.L2: "L2", adv.BGP: "BGP"}


# --------------------------------------------------------------------------------------------- list


def _status_used(pool: Obj) -> Optional[Tuple[int, int]]:
    """(v4, v6) in use from the pool's status counters (MetalLB v0.15+), or None when it has none."""
    status = pool.get("status") or {}
    if "assignedIPv4" not in status and "assignedIPv6" not in status:
        return None
    return int(status.get("assignedIPv4") or 0), int(status.get("assignedIPv6") or 0)


def summarize(
    pools: Sequence[Obj], advertisements: Sequence[Obj], services: Optional[Sequence[Obj]]
) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Rows (stable JSON shape) and warnings for raw IPAddressPool, L2/BGPAdvertisement and Service dicts.

    services may be None when they could not be read: use then comes from the pools' status only.
    """
    warnings: List[str] = []
    parsed: Dict[str, List[ipam.AddressRange]] = {}
    for pool in pools:
        name = k8s.name(pool)
        ranges, error = k8s.pool_ranges(pool)
        if error:
            warnings.append(f'pool "{name}": {error}: MetalLB rejects this configuration until it is fixed')
        else:
            parsed[name] = ranges
    for overlap in ipam.pool_overlaps(parsed):
        warnings.append(f"{overlap}: MetalLB rejects overlapping pools until this is fixed")
    usage = pool_usage.usage(services or [], parsed)
    rows: List[Dict[str, Any]] = []
    for pool in sorted(pools, key=k8s.name):
        name, spec = k8s.name(pool), pool.get("spec") or {}
        avoid = bool(spec.get("avoidBuggyIPs"))
        readable = parsed.get(name)
        size = ipam.capacity(readable, avoid) if readable is not None else None
        from_status = _status_used(pool)
        found = usage.pools.get(name, pool_usage.PoolUsage())
        if from_status is not None:
            used, source = ipam.Capacity(*from_status), "status"
        elif services is not None:
            used, source = found.by_family(), "services"
        else:
            used, source = None, "unknown"
        covering = adv.covering(pool, advertisements)
        protocols = sorted({PROTOCOL_LABEL[adv.protocol(a)] for a in covering}, key=["L2", "BGP"].index)
        if not covering:
            warnings.append(
                f'pool "{name}" is not advertised: MetalLB assigns its addresses but never announces '
                "them; add an L2Advertisement or BGPAdvertisement for it"
            )
        allocation = spec.get("serviceAllocation") or {}
        rows.append(
            {
                "name": name,
                "addresses": list(spec.get("addresses") or []),
                "autoAssign": spec.get("autoAssign", True) is not False,
                "avoidBuggyIPs": avoid,
                "priority": allocation.get("priority"),
                "namespaces": list(allocation.get("namespaces") or []),
                "size": None if size is None else size.total,
                "used": None if used is None else used.total,
                "free": None if size is None or used is None else max(size.total - used.total, 0),
                "ipv4": _family(size.v4 if size else None, used.v4 if used else None, size, used),
                "ipv6": _family(size.v6 if size else None, used.v6 if used else None, size, used),
                "usedFrom": source,
                "advertised": protocols,
                "advertisements": [f"{a.get('kind')}/{k8s.name(a)}" for a in covering],
                "services": None if services is None else list(found.services),
            }
        )
    return rows, warnings


def _family(
    size: Optional[int], used: Optional[int], size_known: Optional[ipam.Capacity], used_known: Optional[ipam.Capacity]
) -> Dict[str, Optional[int]]:
    if size_known is None:
        return {"size": None, "used": None if used_known is None else used, "free": None}
    if used_known is None:
        return {"size": size, "used": None, "free": None}
    return {"size": size, "used": used, "free": max((size or 0) - (used or 0), 0)}


def table_rows(rows: Sequence[Dict[str, Any]]) -> List[List[str]]:
    """The table cells: NAME ADDRESSES SIZE USED FREE AUTO-ASSIGN ADVERTISED SERVICES."""

    def count(value: Optional[int]) -> str:
        return "?" if value is None else ipam.readable_count(value)

    return [
        [
            r["name"],
            ",".join(r["addresses"]),
            count(r["size"]),
            count(r["used"]),
            count(r["free"]),
            str(r["autoAssign"]).lower(),
            "+".join(r["advertised"]) or "none",
            "?" if r["services"] is None else str(len(r["services"])),
        ]
        for r in rows
    ]


HEADERS = ["name", "addresses", "size", "used", "free", "auto-assign", "advertised", "services"]


# --------------------------------------------------------------------------------------------- create


def validate_name(name: str) -> None:
    """ValueError unless name is a valid object name (DNS-1123 subdomain)."""
    if not name:
        raise ValueError("the pool name is empty")
    if len(name) > 253:
        raise ValueError(f"invalid pool name: {len(name)} characters, at most 253 allowed")
    if not DNS1123_SUBDOMAIN.match(name):
        raise ValueError(
            f'invalid pool name "{name}": use lower-case letters, digits, "-" and ".", starting and '
            "ending with a letter or digit (a DNS-1123 subdomain)"
        )


def parse_node_selector(text: str) -> Dict[str, Dict[str, str]]:
    """`k=v,k2=v2` -> {"matchLabels": {...}} (one node selector)."""
    labels: Dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        prefix, slash, label = key.rpartition("/")
        if not sep or not key:
            raise ValueError(f'invalid node selector "{echo(text)}": write key=value[,key=value...]')
        if (
            not LABEL_NAME.match(label if slash else key)
            or len(label if slash else key) > 63
            or (slash and not DNS1123_SUBDOMAIN.match(prefix))
        ):
            raise ValueError(f'invalid node selector "{echo(text)}": "{echo(key)}" is not a valid label key')
        if len(value) > 63 or not LABEL_VALUE.match(value):
            raise ValueError(f'invalid node selector "{echo(text)}": "{echo(value)}" is not a valid label value')
        labels[key] = value
    return {"matchLabels": labels}


def pool_object(
    name: str,
    namespace: str,
    addresses: Iterable[str],
    auto_assign: bool = True,
    avoid_buggy_ips: bool = False,
    priority: Optional[int] = None,
    namespaces: Optional[Iterable[str]] = None,
) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"addresses": list(addresses)}
    if not auto_assign:
        spec["autoAssign"] = False
    if avoid_buggy_ips:
        spec["avoidBuggyIPs"] = True
    allocation: Dict[str, Any] = {}
    if priority is not None:
        allocation["priority"] = priority
    if namespaces:
        allocation["namespaces"] = list(namespaces)
    if allocation:
        spec["serviceAllocation"] = allocation
    return {
        "apiVersion": V1BETA1,
        "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


def advertisement_object(
    protocol: str,
    name: str,
    namespace: str,
    pool: str,
    interfaces: Iterable[str] = (),
    node_selectors: Iterable[Obj] = (),
    peers: Iterable[str] = (),
) -> Dict[str, Any]:
    """An L2Advertisement (protocol "layer2") or BGPAdvertisement ("bgp") announcing exactly this pool."""
    spec: Dict[str, Any] = {"ipAddressPools": [pool]}
    if node_selectors:
        spec["nodeSelectors"] = list(node_selectors)
    if protocol == adv.L2 and interfaces:
        spec["interfaces"] = list(interfaces)
    if protocol == adv.BGP and peers:
        spec["peers"] = list(peers)
    kind = "L2Advertisement" if protocol == adv.L2 else "BGPAdvertisement"
    return {
        "apiVersion": V1BETA1,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


def node_networks(nodes: Iterable[Obj], addresses: bool = True, pod_cidrs: bool = True) -> List[Tuple[str, Any]]:
    """[(what, network)] for node addresses (/32 or /128) and pod CIDRs of raw Node dicts (either, or both)."""
    import ipaddress

    found: List[Tuple[str, Any]] = []
    for node in nodes:
        name = k8s.name(node)
        for kind, address in k8s.node_addresses(node) if addresses else []:
            try:
                found.append((f'the {kind} of node "{name}"', ipaddress.ip_network(address)))
            except ValueError:
                pass
        for cidr in k8s.pod_cidrs(node) if pod_cidrs else []:
            try:
                found.append((f'the pod CIDR of node "{name}"', ipaddress.ip_network(cidr, strict=False)))
            except ValueError:
                pass
    return found


def placement_warnings(
    ranges: Sequence[ipam.AddressRange], nodes: Iterable[Obj] = (), service_cidrs: Iterable[str] = ()
) -> List[str]:
    """Warnings for a pool sharing addresses with nodes, pod CIDRs or the service CIDR(s)."""
    import ipaddress

    found = node_networks(nodes)
    for cidr in service_cidrs:
        try:
            found.append(("the service CIDR", ipaddress.ip_network(cidr, strict=False)))
        except ValueError:
            pass
    warnings = []
    for what, network in found:
        for entry in ipam.network_overlaps(ranges, network):
            shown = network.network_address if network.num_addresses == 1 else network
            warnings.append(
                f"{entry} overlaps {what} ({shown}): MetalLB would hand out addresses that are already in use"
            )
    return warnings


# --------------------------------------------------------------------------------------------- delete


def cleanup_plan(pool_name: str, advertisements: Iterable[Obj]) -> Tuple[List[Obj], List[Tuple[Obj, List[str]]]]:
    """(to delete, to edit as [(adv, remaining pool names)]) when pool_name is deleted.

    Only advertisements that name the pool explicitly are touched; one that selects pools by label or
    covers every pool keeps announcing the others.
    """
    delete: List[Obj] = []
    edit: List[Tuple[Obj, List[str]]] = []
    for item in advertisements:
        spec = item.get("spec") or {}
        names = list(spec.get("ipAddressPools") or [])
        if pool_name not in names:
            continue
        remaining = [n for n in names if n != pool_name]
        if not remaining and not spec.get("ipAddressPoolSelectors"):
            delete.append(item)
        else:
            edit.append((item, remaining))
    return delete, edit
