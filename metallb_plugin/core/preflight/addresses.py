"""Planned addresses (--addresses): usable at all and how many, and overlaps with nodes, the service and pod CIDRs,
pools, Services."""

from typing import Iterable, List, Optional

from metallb_plugin.core import ipam, pool_usage
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.preflight.facts import Facts
from metallb_plugin.core.text import plural


def parse_addresses(values: Iterable[str]) -> List[ipam.AddressRange]:
    """--addresses values (repeatable, comma-separated) -> [AddressRange]; ipam.AddressError when invalid."""
    return ipam.parse_entries(ipam.split_addresses(list(values)))


def planned(facts: Facts) -> bool:
    """Whether --addresses was given: the category's checks only run then."""
    return facts.addresses is not None


def _ranges_text(ranges: Iterable[ipam.AddressRange]) -> str:
    return ", ".join(str(r) for r in ranges)


def _addresses(facts: Facts) -> List[ipam.AddressRange]:
    return facts.addresses or []  # the checks only run when --addresses was given


def check_address_size(facts: Facts) -> Result:
    special = ipam.special_overlaps(_addresses(facts))
    if special:
        return Result(
            FAIL,
            "the planned range holds addresses no client can reach as a Service address: MetalLB would hand "
            "them out anyway",
            tuple(str(s) for s in special),
        )
    size = ipam.capacity(_addresses(facts))
    families = [f"IPv{v}: {ipam.readable_count(n)}" for v, n in ((4, size.v4), (6, size.v6)) if n]
    return Result(
        OK,
        details=(
            f"{ipam.readable_count(size.total)} usable {'address' if size.total == 1 else 'addresses'} "
            f"({', '.join(families)}) in "
            f"{_ranges_text(_addresses(facts))}",
        ),
    )


def check_addresses_nodes(facts: Facts) -> Result:
    hits = []
    for node in facts.items("nodes"):
        for kind, address in k8s.node_addresses(node):
            if ipam.contains(_addresses(facts), address):
                hits.append(f"{k8s.name(node)}: {kind} {address}")
    if hits:
        return Result(
            WARN,
            f"{len(hits)} node address(es) are inside the planned range: MetalLB would hand them "
            "out and the node would lose traffic (ARP/NDP conflicts)",
            tuple(hits),
        )
    return Result(OK)


def service_cidrs(facts: Facts) -> Optional[List[str]]:
    """The service CIDRs (ServiceCIDR objects, Kubernetes 1.33+), or None when the server does not serve them."""
    if not facts.readable("servicecidrs"):
        raise Skip(facts.reason("servicecidrs"))
    if facts.objects.get("servicecidrs") is None:
        return None
    return [cidr for obj in facts.items("servicecidrs") for cidr in (obj.get("spec") or {}).get("cidrs") or []]


def check_addresses_service_cidr(facts: Facts) -> Result:
    cidrs = service_cidrs(facts)
    if cidrs is None:  # older server: at least the ClusterIPs in use must stay out
        used = [
            f"{k8s.qualified(s)}: {ip}"
            for s in facts.items("services")
            for ip in (s.get("spec") or {}).get("clusterIPs") or [(s.get("spec") or {}).get("clusterIP")]
            if ip and ip != "None" and ipam.contains(_addresses(facts), ip)
        ]
        if used:
            return Result(
                WARN,
                "ClusterIPs of Services are inside the planned range, so it overlaps the service CIDR",
                tuple(used),
            )
        return Result(
            OK,
            details=(
                "the server does not list its service CIDR (ServiceCIDR, Kubernetes 1.33+); no "
                "ClusterIP is inside the planned range",
            ),
        )
    hits = [
        f"{_ranges_text(ipam.network_overlaps(_addresses(facts), cidr))} overlaps service CIDR {cidr}"
        for cidr in cidrs
        if ipam.network_overlaps(_addresses(facts), cidr)
    ]
    if hits:
        return Result(
            WARN, "the planned range overlaps the service CIDR: those addresses belong to ClusterIPs", tuple(hits)
        )
    return Result(OK, details=(f"service CIDR {', '.join(cidrs)}",) if cidrs else ())


def check_addresses_pod_cidr(facts: Facts) -> Result:
    hits, seen = [], 0
    for node in facts.items("nodes"):
        for cidr in k8s.pod_cidrs(node):
            seen += 1
            if ipam.network_overlaps(_addresses(facts), cidr):
                hits.append(f"{k8s.name(node)}: pod CIDR {cidr}")
    if hits:
        return Result(WARN, "the planned range overlaps the pod network: those addresses belong to pods", tuple(hits))
    if not seen:
        return Result(
            OK,
            details=(
                "no node declares a pod CIDR (the network add-on may assign pod addresses "
                "itself: compare with its IP pools)",
            ),
        )
    return Result(OK)


def check_addresses_pools(facts: Facts) -> Result:
    hits = []
    for pool in facts.items("ipaddresspools"):
        ranges, _ = k8s.pool_ranges(pool, lenient=True)  # a broken pool's readable entries still count
        for planned, existing in ipam.overlaps(_addresses(facts), ranges):
            hits.append(f"{planned} overlaps {existing} of IPAddressPool {k8s.qualified(pool)}")
    if hits:
        return Result(
            FAIL,
            "the planned range overlaps existing IPAddressPools: MetalLB's webhook refuses a pool that overlaps "
            "another",
            tuple(hits),
        )
    return Result(OK)


def check_addresses_in_use(facts: Facts) -> Result:
    used = [
        f"{k8s.qualified(s)}: {ip}"
        for s in facts.items("services")
        if k8s.is_load_balancer(s)
        for ip in pool_usage.ingress_ips(s)
        if ipam.contains(_addresses(facts), ip)
    ]
    if used:
        return Result(
            WARN,
            f"{plural(len(used), 'address', 'addresses')} of the planned range "
            f"{'is' if len(used) == 1 else 'are'} already used by LoadBalancer Services",
            tuple(used),
        )
    return Result(OK)


register(
    "planned-addresses",
    "Planned addresses",
    (
        Check(
            "addresses-size",
            "planned-addresses",
            "planned addresses are usable",
            check_address_size,
            hint="https://www.iana.org/assignments/iana-ipv4-special-registry/",
            when=planned,
        ),
        Check(
            "addresses-nodes",
            "planned-addresses",
            "planned addresses avoid node addresses",
            check_addresses_nodes,
            severity="warning",
            hint="kubectl get nodes -o wide",
            needs=("nodes",),
            when=planned,
        ),
        Check(
            "addresses-service-cidr",
            "planned-addresses",
            "planned addresses avoid the service CIDR",
            check_addresses_service_cidr,
            severity="warning",
            hint="kubectl get servicecidrs",
            when=planned,
        ),
        Check(
            "addresses-pod-cidr",
            "planned-addresses",
            "planned addresses avoid the pod CIDRs",
            check_addresses_pod_cidr,
            severity="warning",
            hint="kubectl get nodes -o custom-columns=NAME:.metadata.name,PODCIDRS:.spec.podCIDRs",
            needs=("nodes",),
            when=planned,
        ),
        Check(
            "addresses-pools",
            "planned-addresses",
            "planned addresses avoid existing IPAddressPools",
            check_addresses_pools,
            hint="kubectl metallb pools",
            needs=("ipaddresspools",),
            when=planned,
        ),
        Check(
            "addresses-in-use",
            "planned-addresses",
            "planned addresses are not used by LoadBalancer Services yet",
            check_addresses_in_use,
            severity="warning",
            hint="kubectl get services -A --field-selector spec.type=LoadBalancer",
            needs=("services",),
            when=planned,
        ),
    ),
)
