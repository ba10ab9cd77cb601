"""Which addresses of which pool LoadBalancer Services use, from raw Service dicts (pure).

usage(services, {pool: [AddressRange]}) -> Usage   per pool, the distinct LoadBalancer IPs and the Services
                                                    using them (annotation metallb.io/ip-allocated-from-pool,
                                                    else the pool containing the ingress IP)
ingress_ips(service) -> ["198.51.100.10"]           the LoadBalancer IPs in a Service's status
annotated_pool(service) -> "pool" or None           the pool its metallb.io/ip-allocated-from-pool names
"""

import ipaddress
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple

from metallb_plugin.core import objects as k8s
from metallb_plugin.core.ipam import AddressRange, Capacity, contains, pool_of
from metallb_plugin.core.objects import Obj

ALLOCATED_FROM_POOL = ("metallb.io/ip-allocated-from-pool", "metallb.universe.tf/ip-allocated-from-pool")


@dataclass(frozen=True)
class PoolUsage:
    ips: FrozenSet[str] = frozenset()  # distinct addresses in use (shared IPs count once)
    services: Tuple[str, ...] = ()  # "namespace/name", sorted

    @property
    def used(self) -> int:
        return len(self.ips)

    def by_family(self) -> Capacity:
        v4 = sum(1 for ip in self.ips if ":" not in ip)  # written by str(ip_address()): IPv6 always has a colon
        return Capacity(v4, len(self.ips) - v4)


@dataclass(frozen=True)
class Usage:
    pools: Dict[str, PoolUsage]  # every pool name given, used or not
    outside: Tuple[Tuple[str, str], ...] = ()  # (service, ip) for ingress IPs that are in no pool


def annotated_pool(service: Obj) -> Optional[str]:
    """The pool MetalLB's controller says it allocated the Service's address from (its annotation), or None."""
    annotations = k8s.annotations(service)
    for key in ALLOCATED_FROM_POOL:  # the current prefix wins, as in MetalLB
        if annotations.get(key):
            return str(annotations[key])
    return None


def ingress_ips(service: Mapping[str, Any]) -> List[str]:
    """The LoadBalancer IPs written in a Service's status."""
    ingress = (((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    return [entry["ip"] for entry in ingress if isinstance(entry, dict) and entry.get("ip")]


def usage(services: Sequence[Mapping[str, Any]], pools: Mapping[str, Sequence[AddressRange]]) -> Usage:
    """Which addresses of which pool ({name: [AddressRange]}) LoadBalancer Services use.

    An ingress IP counts for the pool named in `metallb.io/ip-allocated-from-pool` when that pool holds it,
    else for the pool whose range holds it; a Service is listed under every pool it takes an IP from, or under
    the annotated pool. IPs shared by several Services count once.
    """
    ips: Dict[str, Set[str]] = {name: set() for name in pools}
    users: Dict[str, Set[str]] = {name: set() for name in pools}
    outside: List[Tuple[str, str]] = []
    for service in services:
        if (service.get("spec") or {}).get("type") != "LoadBalancer":
            continue
        meta = service.get("metadata") or {}
        key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        annotated = annotated_pool(service)
        if annotated is not None and annotated in users:
            users[annotated].add(key)
        for ip in ingress_ips(service):
            try:
                address = ipaddress.ip_address(ip)  # parsed once for every pool it is compared with
            except ValueError:
                outside.append((key, ip))
                continue
            owner: Optional[str]
            if annotated is not None and annotated in pools and contains(pools[annotated], address):
                owner = annotated
            else:
                owner = pool_of(address, pools)
            if owner is None:
                outside.append((key, ip))
                continue
            ips[owner].add(str(address))
            users[owner].add(key)
    return Usage({name: PoolUsage(frozenset(ips[name]), tuple(sorted(users[name]))) for name in pools}, tuple(outside))
