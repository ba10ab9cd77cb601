"""What the analyzer's rules read: the MetalLB configuration of one snapshot, indexed once (pure).

A Model wraps status's View (core/view.py) of a view.Facts, filled from the cluster, from files (-f) or both,
and adds what only the rules need: every metallb.io object in every namespace, each pool entry parsed with its
index (for field paths), which nodes each advertisement selects, Secrets by name, the interface names MetalLB
never announces on, and the BGP backend (the installation's, else --backend).
"""

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from metallb_plugin.core import allocation, election, ipam, pool_usage
from metallb_plugin.core import objects as k8s
from metallb_plugin.core import service_status as svc
from metallb_plugin.core.checks import Skip
from metallb_plugin.core.objects import Obj, meta, name
from metallb_plugin.core.snapshot import Obj as Raw
from metallb_plugin.core.view import Facts, View

# the metallb.io configuration kinds: (snapshot key, kind)
CONFIG_KINDS = (
    ("ipaddresspools", "IPAddressPool"),
    ("l2advertisements", "L2Advertisement"),
    ("bgpadvertisements", "BGPAdvertisement"),
    ("bgppeers", "BGPPeer"),
    ("bfdprofiles", "BFDProfile"),
    ("communities", "Community"),
)
EXCLUDE_L2_KEY = "excludel2.yaml"
# MetalLB's metallb-excludel2 ConfigMap in every release manifest (v0.13-v0.16): interfaces never announced on
DEFAULT_EXCLUDED_INTERFACES = (
    "^docker.*",
    "^cbr.*",
    "^dummy.*",
    "^virbr.*",
    "^lxcbr.*",
    "^veth.*",
    "^lo$",
    "^cali.*",
    "^tunl.*",
    "^flannel.*",
    "^kube-ipvs.*",
    "^cni.*",
    "^nodelocaldns.*",
    "^lxc.*",
)


@dataclass(frozen=True)
class Entry:
    """One item of a pool's spec.addresses: its index, text, and the range (None with the error when invalid)."""

    pool: Obj
    index: int
    text: str
    range: Optional[ipam.AddressRange]
    error: str = ""

    @property
    def path(self) -> str:
        return f"spec.addresses[{self.index}]"


class Model:
    def __init__(self, facts: Facts, backend: Optional[str] = None, view: Optional[View] = None) -> None:
        self.facts = facts
        self.view = view or View(facts)
        view_ = self.view
        self.ns = view_.ns
        self.version = view_.version
        self.install = view_.install
        found = self.install.backend if self.install else None
        self.backend = found if found and found != "unknown" else backend
        self.ignore_exclude_lb = view_.ignore_exclude_lb
        self.everywhere: Dict[str, List[Raw]] = {}
        self.local: Dict[str, List[Raw]] = {}
        for key, kind in CONFIG_KINDS:
            items = sorted(facts.listed(key), key=k8s.key)
            for item in items:
                item.setdefault("kind", kind)  # a LIST's items carry no kind
            self.everywhere[key] = items
            self.local[key] = [o for o in items if k8s.namespace(o) == self.ns]
        self.pools = self.local["ipaddresspools"]
        self.pool_names = {name(p) for p in self.pools}
        self.advertisements = self.local["l2advertisements"] + self.local["bgpadvertisements"]
        self.nodes = view_.nodes
        self.services = view_.lb_services
        for item in self.nodes:
            item.setdefault("kind", "Node")
        for item in self.services:
            item.setdefault("kind", "Service")
        self.secrets = {s["name"]: s for s in facts.listed("secrets") if s.get("namespace") in ("", self.ns)}
        self._entries: Dict[str, List[Entry]] = {}
        # made once per model: several rules (and codes sharing one function) walk every Service
        self._metallb_services: Optional[List[Obj]] = None
        self._requests: Dict[int, allocation.Request] = {}
        self._findings: Dict[Callable[[Model], Any], Any] = {}

    # ------------------------------------------------------------------------------------------ reading

    def need(self, *keys: str) -> None:
        """Skip (the rule cannot decide) when one of these kinds could not be read or was not given."""
        for key in keys:
            self.facts.items(key)

    def need_backend(self) -> str:
        if not self.backend:
            raise Skip("MetalLB's BGP backend is not known (no installation found): pass --backend")
        return self.backend

    def handled(self, service: Obj) -> bool:
        """Whether MetalLB's controller takes this Service (its loadBalancerClass)."""
        return svc.handles(self.view, service)[0]

    def metallb_services(self) -> List[Obj]:
        if self._metallb_services is None:
            self._metallb_services = [s for s in self.services if self.handled(s)]
        return self._metallb_services

    def request(self, service: Obj) -> allocation.Request:
        """What the Service asks MetalLB for (allocation.request), worked out once per Service."""
        found = self._requests.get(id(service))
        if found is None:
            found = self._requests[id(service)] = allocation.request(service)
        return found

    def findings_of(self, fn: Callable[["Model"], Any]) -> Any:
        """fn(self), made once: a function shared by several codes makes the findings of all of them."""
        if fn not in self._findings:
            self._findings[fn] = fn(self)
        return self._findings[fn]

    def pool_of(self, service: Obj) -> Optional[str]:
        """The pool a Service's address came from: its ip-allocated-from-pool annotation, else the pool holding it."""
        annotated = pool_usage.annotated_pool(service)
        if annotated:
            return annotated
        return next(
            (p for p in (ipam.pool_of(ip, self.view.pool_ranges) for ip in pool_usage.ingress_ips(service)) if p), None
        )

    # ------------------------------------------------------------------------------------------ pools

    def entries(self, pool: Obj) -> List[Entry]:
        """Every item of the pool's spec.addresses, parsed as MetalLB reads it."""
        found = self._entries.get(k8s.key(pool))
        if found is None:
            found = []
            for index, text in enumerate(k8s.spec(pool).get("addresses") or []):
                try:
                    found.append(Entry(pool, index, str(text), ipam.parse_entry(text, strict=False)))
                except ipam.AddressError as exc:
                    found.append(Entry(pool, index, str(text), None, str(exc)))
            self._entries[k8s.key(pool)] = found
        return found

    def ranges(self, pool: Obj) -> List[ipam.AddressRange]:
        return [e.range for e in self.entries(pool) if e.range is not None]

    # ------------------------------------------------------------------------------------------ nodes

    def selected_nodes(self, obj: Obj) -> List[Obj]:
        """The nodes an advertisement's or a peer's nodeSelectors select (all nodes without selectors)."""
        from metallb_plugin.core.advertisements import allows_node

        return [n for n in self.nodes if allows_node(obj, n)]

    def excluded(self, node: Obj) -> bool:
        return election.excluded_by_label(node, self.version, self.ignore_exclude_lb)

    # ------------------------------------------------------------------------------------------ other

    def excluded_interfaces(self) -> Tuple[List[str], str]:
        """(regular expressions of interface names the speakers never announce on, where they come from)."""
        for cm in self.facts.listed("configmaps"):
            text = (cm.get("data") or {}).get(EXCLUDE_L2_KEY)
            if k8s.namespace(cm) in ("", self.ns) and name(cm).endswith("excludel2") and text:
                return _patterns(text), f"ConfigMap {self.ns}/{name(cm)}"
        return list(DEFAULT_EXCLUDED_INTERFACES), "MetalLB's default metallb-excludel2 ConfigMap"

    def service_cidrs(self) -> Optional[List[str]]:
        """The service CIDRs (ServiceCIDR objects), None when the server does not serve them; Skip if unreadable."""
        if not self.facts.readable("servicecidrs"):
            raise Skip(self.facts.reason("servicecidrs"))
        if self.facts.objects.get("servicecidrs") is None:
            return None
        return [c for obj in self.facts.items("servicecidrs") for c in k8s.spec(obj).get("cidrs") or []]


def _patterns(text: str) -> List[str]:
    """announcedInterfacesToExclude of an excludel2.yaml (valid regular expressions only)."""
    import yaml

    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    found = (data or {}).get("announcedInterfacesToExclude") if isinstance(data, dict) else None
    patterns = []
    for item in found or []:
        try:
            re.compile(str(item))
        except re.error:
            continue
        patterns.append(str(item))
    return patterns


def kind_of(obj: Obj) -> str:
    return str(obj.get("kind") or "")


def where(obj: Obj) -> str:
    """namespace/name of a namespaced object."""
    return f"{meta(obj).get('namespace', '')}/{name(obj)}"
