"""What a LoadBalancer Service asks MetalLB for, and which IPAddressPools could serve it (pure).

Mirrors MetalLB's allocator (internal/allocator/allocator.go, controller/service.go):
- A Service names a pool (`metallb.io/address-pool`) and/or addresses (`metallb.io/loadBalancerIPs`, or the
  older `spec.loadBalancerIP`); both annotation prefixes are honoured, the current one wins.
- Requested addresses must all lie in one pool, that pool must be compatible with the Service (its
  `serviceAllocation` namespaces / namespace selectors / Service selectors), and autoAssign does not matter.
- Without a request, pools whose serviceAllocation matches the Service are tried first (by priority), then every
  pool with autoAssign and no serviceAllocation. autoAssign: false pools are only used when asked for.
- The pool must hold the Service's IP families and have a free address of each (IPv4 addresses ending in .0 and
  .255 are skipped with avoidBuggyIPs).

API:
    annotation(service, keys) -> value           keys = (current, deprecated)
    deprecated_annotations(service) -> [key]     `metallb.universe.tf/*` keys on the Service
    deprecated_fields(service) -> [path]         spec.loadBalancerIP (deprecated since Kubernetes 1.24)
    request(service) -> Request                  what the Service asks for
    PoolTable.of(pools, services) -> PoolTable    the pools parsed and counted once
    evaluate_pools(service, table, namespace_labels, wanted) -> [PoolFit]  one per pool, by name
"""

import functools
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from metallb_plugin.core import ipam, pool_usage
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.selectors import any_matches, describe

ADDRESS_POOL = ("metallb.io/address-pool", "metallb.universe.tf/address-pool")
LOADBALANCER_IPS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")
ALLOW_SHARED_IP = ("metallb.io/allow-shared-ip", "metallb.universe.tf/allow-shared-ip")
DEPRECATED_PREFIX = "metallb.universe.tf/"


def annotation(service: Obj, keys: Iterable[str]) -> Optional[str]:
    return _first(k8s.annotations(service), keys)


def _first(annotations: Mapping[str, Any], keys: Iterable[str]) -> Optional[str]:
    for key in keys:
        value = annotations.get(key)
        if value:
            return str(value)
    return None


def deprecated_annotations(service: Obj) -> List[str]:
    return sorted(k for k in k8s.annotations(service) if k.startswith(DEPRECATED_PREFIX))


def deprecated_fields(service: Obj) -> List[str]:
    return ["spec.loadBalancerIP"] if k8s.spec(service).get("loadBalancerIP") else []


@dataclass(frozen=True)
class Request:
    ips: Tuple[str, ...] = ()  # requested addresses (text)
    pool: Optional[str] = None  # requested pool name
    sharing_key: Optional[str] = None
    families: Tuple[int, ...] = (4,)  # IP families the Service must get, by number
    dual_stack: str = "SingleStack"  # spec.ipFamilyPolicy
    problems: Tuple[str, ...] = ()  # requests MetalLB refuses outright


def _family_number(text: str) -> int:
    return 6 if text == "IPv6" else 4


def request(service: Obj) -> Request:
    """What the Service asks MetalLB for. Most Services ask alike (nothing but their IP families), so a Request is
    made once per distinct ask and shared: it is immutable."""
    spec = service.get("spec") or {}
    annotations = k8s.annotations(service)
    load_balancer_ip = spec.get("loadBalancerIP")
    return _request(  # as text: a Service read from a file may hold anything there
        _first(annotations, LOADBALANCER_IPS),
        str(load_balancer_ip) if load_balancer_ip else None,
        _first(annotations, ADDRESS_POOL),
        _first(annotations, ALLOW_SHARED_IP),
        str(spec.get("ipFamilyPolicy") or "SingleStack"),
        tuple(str(f) for f in spec.get("ipFamilies") or ["IPv4"]),
    )


@functools.lru_cache(maxsize=1024)
def _request(
    listed: Optional[str],
    load_balancer_ip: Optional[str],
    pool: Optional[str],
    sharing_key: Optional[str],
    policy: str,
    ip_families: Tuple[str, ...],
) -> Request:
    problems: List[str] = []
    ips = [part.strip() for part in (listed or "").split(",") if part.strip()]
    if load_balancer_ip:
        if ips:
            problems.append(
                "the Service sets both spec.loadBalancerIP and the metallb.io/loadBalancerIPs "
                "annotation: MetalLB refuses that; keep only the annotation"
            )
        else:
            ips = [load_balancer_ip]
    families: List[int] = []
    for ip in ips:
        try:
            families.append(ipaddress.ip_address(ip).version)
        except ValueError:
            problems.append(f'requested address "{ip}" is not an IP address')
    declared = tuple(_family_number(f) for f in ip_families)
    if families:
        wanted = tuple(dict.fromkeys(families))
    elif policy == "RequireDualStack":
        wanted = (4, 6)
    else:
        wanted = declared[:1] if policy == "SingleStack" else declared
    return Request(
        ips=tuple(ips),
        pool=pool,
        sharing_key=sharing_key,
        families=wanted,
        dual_stack=policy,
        problems=tuple(problems),
    )


@dataclass
class PoolFit:
    """Whether one pool could give the Service its address(es), and why not."""

    name: str
    eligible: bool = True
    reasons: List[str] = field(default_factory=list)  # why it cannot serve this Service
    auto_assign: bool = True
    pinned: bool = False  # it has a serviceAllocation that matches this Service
    priority: int = 0
    families: Tuple[int, ...] = ()
    free: Dict[int, int] = field(default_factory=dict)  # {4: n, 6: n}; absent family = none in the pool

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "eligible": self.eligible,
            "reasons": list(self.reasons),
            "autoAssign": self.auto_assign,
            "pinned": self.pinned,
            "priority": self.priority,
            "families": [f"IPv{f}" for f in self.families],
            "free": {f"IPv{k}": v for k, v in self.free.items()},
        }


def _namespace_allowed(allocation: Obj, namespace: str, namespace_labels: Mapping[str, str]) -> Tuple[bool, str]:
    names = allocation.get("namespaces") or []
    selectors = allocation.get("namespaceSelectors") or []
    if not names and not selectors:
        return True, ""
    if namespace in names or any_matches(selectors, namespace_labels):
        return True, ""
    limits = []
    if names:
        limits.append("namespaces " + ", ".join(names))
    if selectors:
        limits.append("namespaces labelled " + " or ".join(describe(s) for s in selectors))
    return False, f"serviceAllocation limits it to {' or '.join(limits)}, not {namespace}"


def _service_allowed(allocation: Obj, service: Obj) -> Tuple[bool, str]:
    selectors = allocation.get("serviceSelectors") or []
    if not selectors or any_matches(selectors, k8s.meta(service).get("labels")):
        return True, ""
    return False, ("serviceAllocation limits it to Services labelled " + " or ".join(describe(s) for s in selectors))


def _free(pool: Obj, ranges: List[ipam.AddressRange], used: Optional[pool_usage.PoolUsage]) -> Dict[int, int]:
    """{family: free addresses}: the pool's status counters (v0.15+) when present, else capacity minus use."""
    status = pool.get("status") or {}
    cap = ipam.capacity(ranges, bool((pool.get("spec") or {}).get("avoidBuggyIPs")))
    in_use = used.by_family() if used else ipam.Capacity()
    free: Dict[int, int] = {}
    for family, size, taken, counter in (
        (4, cap.v4, in_use.v4, "availableIPv4"),
        (6, cap.v6, in_use.v6, "availableIPv6"),
    ):
        if not size:
            continue
        free[family] = int(status[counter]) if counter in status else max(size - taken, 0)
    return free


@dataclass
class Pool:
    """One IPAddressPool as the allocator sees it, whatever the Service."""

    obj: Obj
    name: str
    ranges: List[ipam.AddressRange]
    error: Optional[str]  # an entry that cannot be read
    free: Dict[int, int]
    allocation: Optional[Obj] = None  # spec.serviceAllocation
    auto_assign: bool = True
    avoid_buggy: bool = False
    families: Tuple[int, ...] = ()

    @classmethod
    def of(
        cls,
        obj: Obj,
        name: str,
        parsed: Tuple[List[ipam.AddressRange], Optional[str]],
        used: Optional[pool_usage.PoolUsage],
    ) -> "Pool":
        ranges, error = parsed
        spec = obj.get("spec") or {}
        return cls(
            obj,
            name,
            ranges,
            error,
            _free(obj, ranges, used),
            allocation=spec.get("serviceAllocation"),
            auto_assign=spec.get("autoAssign", True) is not False,
            avoid_buggy=bool(spec.get("avoidBuggyIPs")),
            families=tuple(sorted({r.version for r in ranges})),
        )


@dataclass
class PoolTable:
    """The pools (by name), parsed and counted once, since every pending Service is judged against all of them."""

    pools: List[Pool]
    services: Sequence[Obj] = ()
    _holders: Optional[Dict[str, List[Tuple[str, Optional[str]]]]] = None

    @classmethod
    def of(
        cls, pools: Optional[Sequence[Obj]], services: Sequence[Obj] = (), use: Optional[pool_usage.Usage] = None
    ) -> "PoolTable":
        """use: the pools' usage by `services` when the caller has it already."""
        parsed = {k8s.meta(p).get("name", ""): k8s.pool_ranges(p, lenient=True) for p in pools or []}
        if use is None:
            use = pool_usage.usage(services, {name: ranges for name, (ranges, _) in parsed.items()})
        table = []
        for pool in sorted(pools or [], key=lambda p: k8s.meta(p).get("name", "")):
            name = k8s.meta(pool).get("name", "")
            table.append(Pool.of(pool, name, parsed[name], use.pools.get(name)))
        return cls(table, services)

    def holders(self, ip: str) -> List[Tuple[str, Optional[str]]]:
        """(namespace/name, allow-shared-ip key) of each Service whose status holds ip: indexed when a Service
        first asks for an address."""
        if self._holders is None:
            self._holders = {}
            for service in self.services:
                meta = k8s.meta(service)
                user = (f"{meta.get('namespace', '')}/{meta.get('name', '')}", annotation(service, ALLOW_SHARED_IP))
                for held in pool_usage.ingress_ips(service):
                    self._holders.setdefault(held, []).append(user)
        return self._holders.get(ip, [])


def evaluate_pools(
    service: Obj,
    table: PoolTable,
    namespace_labels: Optional[Mapping[str, str]] = None,
    wanted: Optional[Request] = None,
) -> List[PoolFit]:
    """A PoolFit per pool (sorted by name) for this Service, as MetalLB's allocator would judge them; wanted: its
    request(service) when the caller has it."""
    meta = k8s.meta(service)
    namespace = meta.get("namespace", "")
    own_key = f"{namespace}/{meta.get('name', '')}"
    wanted = wanted or request(service)
    held = pool_usage.ingress_ips(service)
    fits: List[PoolFit] = []
    for pool in table.pools:
        ranges, error, allocation = pool.ranges, pool.error, pool.allocation
        fit = PoolFit(
            name=pool.name,
            auto_assign=pool.auto_assign,
            priority=(allocation or {}).get("priority") or 0,
            families=pool.families,
            free=dict(pool.free),
        )
        if error:
            fit.reasons.append(f"its addresses cannot be read: {error}")
        if allocation is not None:
            for allowed, why in (
                _namespace_allowed(allocation, namespace, namespace_labels or {}),
                _service_allowed(allocation, service),
            ):
                if not allowed:
                    fit.reasons.append(why)
            fit.pinned = not fit.reasons
        if wanted.pool and wanted.pool != pool.name:
            fit.reasons.append(f'the Service asks for pool "{wanted.pool}"')
        if wanted.ips:
            outside = [ip for ip in wanted.ips if not ipam.contains(ranges, ip) or (pool.avoid_buggy and _is_buggy(ip))]
            if outside:
                fit.reasons.append(f"requested address {', '.join(outside)} is not in this pool")
            for ip in wanted.ips:
                for user, key in table.holders(ip):
                    if user != own_key and (not wanted.sharing_key or key != wanted.sharing_key):
                        fit.reasons.append(
                            f"requested address {ip} is already used by {user} and the two do not "
                            "share the same metallb.io/allow-shared-ip key"
                        )
        elif not wanted.pool and not fit.auto_assign:
            fit.reasons.append("autoAssign is false: it only serves Services that ask for it by name or address")
        missing = [f for f in wanted.families if f not in fit.families]
        if wanted.dual_stack == "PreferDualStack" and len(missing) < len(wanted.families):
            missing = []  # one family is enough when dual stack is only preferred
        if missing and not error:
            fit.reasons.append("it has no " + " or ".join(f"IPv{f}" for f in missing) + " addresses")
        exhausted = [f for f in wanted.families if f in fit.free and fit.free[f] <= 0]
        if exhausted and not wanted.ips and not wanted.sharing_key:
            if not any(ipam.contains(ranges, ip) for ip in held):  # its own address is no loss
                fit.reasons.append("no free " + " or ".join(f"IPv{f}" for f in exhausted) + " address left")
        fit.eligible = not fit.reasons
        fits.append(fit)
    return fits


def _is_buggy(ip: str) -> bool:
    try:
        return ipam.is_buggy(ip)
    except ValueError:
        return False
