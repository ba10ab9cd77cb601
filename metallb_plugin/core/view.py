"""The cluster as `kubectl metallb status` sees it: raw lists gathered by the command, indexed once (pure).

The command fills a `Facts` (one LIST per kind, raw dicts; Secrets reduced to their key names before they get
here, so no secret value ever reaches this code) and `View(facts)` derives what every check needs: the install's
own workloads and Pods, its configuration objects (and those left in other namespaces, which MetalLB ignores),
events per object, EndpointSlices per Service (reduced to core/endpoints.Slice as they are read).

Kinds (Facts.objects keys, read from CLUSTER_SOURCES, then NAMESPACE_SOURCES): deployments, daemonsets (all
namespaces), pods, events, configmaps (MetalLB namespace), services, serviceEvents, endpointslices, nodes,
namespaces, servicecidrs, validatingwebhookconfigurations, secrets ([{"name", "type", "keys"}], MetalLB namespace),
and the metallb.io kinds by plural (all namespaces): ipaddresspools, l2advertisements, bgpadvertisements,
bgppeers, bfdprofiles, communities, configurationstates, servicel2statuses, servicebgpstatuses;
frr-k8s' bgpsessionstates (all namespaces) and frrnodestates.
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Tuple, TypeVar, cast

from metallb_plugin.core import advertisements, allocation, endpoints, projections, releases
from metallb_plugin.core import events as ev
from metallb_plugin.core import installation as inst
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.objects import key, meta, name
from metallb_plugin.core.snapshot import ALL, CLUSTER, METALLB, Obj, Snapshot, Source
from metallb_plugin.defaults import FRRK8S, V1BETA1, V1BETA2

T = TypeVar("T")

METALLB_KINDS = (
    "ipaddresspools",
    "l2advertisements",
    "bgpadvertisements",
    "bgppeers",
    "bfdprofiles",
    "communities",
    "configurationstates",
    "servicel2statuses",
    "servicebgpstatuses",
)
CONFIG_KINDS = ("ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers")
# the status objects a speaker writes for each Service it announces: plural -> (protocol, kind)
STATUS_KINDS = {
    "servicel2statuses": (advertisements.L2, "ServiceL2Status"),
    "servicebgpstatuses": (advertisements.BGP, "ServiceBGPStatus"),
}


def secret_keys(items: List[Obj]) -> List[Obj]:
    """Secrets reduced to their names, namespaces, types and key names as soon as they are read (stringData of a
    file included): no secret value is kept."""
    return [
        {
            "name": name(s),
            "namespace": meta(s).get("namespace", ""),
            "type": s.get("type", ""),
            "keys": sorted(set(s.get("data") or {}) | set(s.get("stringData") or {})),
        }
        for s in items
    ]


# What status reads: first the whole cluster (to find the installation), then MetalLB's namespace.
CLUSTER_SOURCES = (
    (
        Source("deployments", "apps/v1", "deployments", ALL, "Deployments", narrow=True),
        Source("daemonsets", "apps/v1", "daemonsets", ALL, "DaemonSets", narrow=True),
        Source("services", "v1", "services", ALL, "Services", fields=projections.SERVICE),
        Source("nodes", "v1", "nodes", CLUSTER, "nodes", fields=projections.NODE),
        Source("namespaces", "v1", "namespaces", CLUSTER, "namespaces"),
        Source("servicecidrs", "networking.k8s.io/v1", "servicecidrs", CLUSTER, "ServiceCIDRs", optional=True),
        Source(
            "validatingwebhookconfigurations",
            "admissionregistration.k8s.io/v1",
            "validatingwebhookconfigurations",
            CLUSTER,
            "ValidatingWebhookConfigurations",
        ),
        Source("serviceEvents", "v1", "events", ALL, "Service events", field_selector="{service_events}"),
    )
    + tuple(
        Source(
            kind,
            V1BETA2 if kind == "bgppeers" else V1BETA1,
            kind,
            ALL,
            f"{kind}.metallb.io",
            optional=True,
            fallback=V1BETA1 if kind == "bgppeers" else None,  # older CRDs serve BGPPeer in v1beta1 only
            narrow=True,
            fields=projections.SERVICE_STATUS if kind in STATUS_KINDS else None,
        )
        for kind in METALLB_KINDS
    )
    + (
        Source(
            "bgpsessionstates",
            FRRK8S,
            "bgpsessionstates",
            ALL,
            "bgpsessionstates.frrk8s.metallb.io",
            optional=True,
            narrow=True,
        ),
        Source("frrnodestates", FRRK8S, "frrnodestates", CLUSTER, "frrnodestates.frrk8s.metallb.io", optional=True),
    )
)
NAMESPACE_SOURCES = (
    Source("pods", "v1", "pods", METALLB, "Pods"),
    Source("events", "v1", "events", METALLB, "Events"),
    Source("secrets", "v1", "secrets", METALLB, "Secrets", keep=secret_keys),
    Source("configmaps", "v1", "configmaps", METALLB, "ConfigMaps"),
    Source(
        "endpointslices",
        "discovery.k8s.io/v1",
        "endpointslices",
        ALL,
        "EndpointSlices",
        label_selector="{slice_selector}",
        reduce=endpoints.reduce,
    ),
)


@dataclass
class Facts(Snapshot):
    """The snapshot status read; namespace: -n when given, else the install's, else metallb-system."""

    namespace_given: bool = False
    installation: Optional[inst.Installation] = None  # the installation in `namespace`, or None
    installations: List[inst.Installation] = field(default_factory=list)  # every install found, any namespace
    # metallb.io plurals the API server serves; None: no metallb.io API at all
    metallb_served: Optional[FrozenSet[str]] = None

    def get(self, kind: str) -> List[Obj]:
        """The list of a kind; Skip (the check cannot decide) when it could not be read."""
        return self.items(kind)

    def listed(self, kind: str) -> List[Obj]:
        """What was read of a kind ([] when it was not served or could not be read)."""
        value = self.objects.get(kind)
        return value if isinstance(value, list) else []


def locate(facts: Facts) -> Facts:
    """Find the MetalLB install in the listed Deployments/DaemonSets and settle MetalLB's namespace: -n when given
    (the install there, if any), else the install's namespace (metallb-system preferred when there are several)."""
    deployments = facts.listed("deployments")
    daemonsets = facts.listed("daemonsets")
    facts.installations = inst.find_installations(deployments, daemonsets)
    if facts.namespace_given:
        facts.installation = next((i for i in facts.installations if i.namespace == facts.namespace), None)
    else:
        facts.installation = inst.find_installation(deployments, daemonsets, namespace=facts.namespace)
        if facts.installation:
            facts.namespace = facts.installation.namespace
    return facts


def _version_tuple(version: Optional[str]) -> Optional[Tuple[int, int, int]]:
    try:
        return releases.parse_version(version or "")
    except ValueError:
        return None


class View:
    """Everything the checks read, derived once from Facts."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.states: List[Any] = []  # service_status.ServiceState of every LoadBalancer Service, set by evaluate
        self.bgp: Any = None  # bgp.Summary, set by evaluate
        self.ns = facts.namespace
        self.install = facts.installation
        self.version = _version_tuple(self.install.version) if self.install else None
        self.deployments = facts.listed("deployments")
        self.daemonsets = facts.listed("daemonsets")
        self.controller = self._find(self.deployments, self.install.controller if self.install else None)
        self.speaker = self._find(self.daemonsets, self.install.speaker if self.install else None)
        self.frr_k8s: Optional[Obj] = None
        if self.install and self.install.frr_k8s:
            frr_ns, _, frr_name = self.install.frr_k8s.partition("/")
            self.frr_k8s = next(
                (d for d in self.daemonsets if meta(d).get("namespace") == frr_ns and name(d) == frr_name), None
            )
        self.pods = facts.listed("pods")
        self.events_by_object = ev.by_object(facts.listed("events"))
        self.service_events = ev.by_object(facts.listed("serviceEvents"))
        self.services = sorted(facts.listed("services"), key=key)
        self.lb_services = [s for s in self.services if k8s.is_load_balancer(s)]
        self.nodes = sorted(facts.listed("nodes"), key=name)
        self.namespace_labels = {name(n): meta(n).get("labels") or {} for n in facts.listed("namespaces")}
        # indexes with a tuple per Service (usually of one item: smaller than a list)
        self.slices: Dict[Tuple[str, str], Tuple[endpoints.Slice, ...]] = {}
        for item in cast(List[endpoints.Slice], facts.listed("endpointslices")):  # reduced as they were read
            if item.service:
                at = (item.namespace, item.service)
                self.slices[at] = self.slices.get(at, ()) + (item,)
        self.secrets = {s["name"]: set(s.get("keys") or ()) for s in facts.listed("secrets")}
        self.configmaps = {name(c): c for c in facts.listed("configmaps")}
        self.webhook_configurations = facts.listed("validatingwebhookconfigurations")
        self.local: Dict[str, List[Obj]] = {}
        self.elsewhere: Dict[str, List[Obj]] = {}
        for kind in METALLB_KINDS:
            items = sorted(facts.listed(kind), key=name)
            self.local[kind] = [o for o in items if meta(o).get("namespace") == self.ns]
            self.elsewhere[kind] = [o for o in items if meta(o).get("namespace") != self.ns]
        # Service (namespace, name) -> ((kind, node), ...) of the ServiceL2Status/ServiceBGPStatus objects about it,
        # indexed once: a speaker writes one per announced Service, and every Service looks its own up
        self.service_statuses: Dict[Tuple[str, str], Tuple[Tuple[str, str], ...]] = {}
        for kind in STATUS_KINDS:
            for obj in self.local[kind]:
                namespace, service, node = status_target(obj)
                if node:
                    at = (namespace, service)
                    self.service_statuses[at] = self.service_statuses.get(at, ()) + ((kind, node),)
        self.pools = self.local["ipaddresspools"]
        # parsed once: every Service's classification looks them up
        self.pool_ranges = {name(p): k8s.pool_ranges(p, lenient=True)[0] for p in self.pools}
        self.advertisements = self.local["l2advertisements"] + self.local["bgpadvertisements"]
        self.covering = {name(p): advertisements.covering(p, self.advertisements) for p in self.pools}
        self.lb_class = self._flag(self.controller, "controller", "--lb-class") or self._flag(
            self.speaker, "speaker", "--lb-class"
        )
        self.ignore_exclude_lb = self._switch(self.speaker, "speaker", "--ignore-exclude-lb")
        self._analysis: Any = None
        self._once: Dict[Any, Any] = {}
        self._pool_table: Optional[allocation.PoolTable] = None

    def pool_table(self) -> "allocation.PoolTable":
        """The pools as the allocator judges them, made once: every pending Service's explanation needs them (and
        their usage over all Services, which made status quadratic in them)."""
        if self._pool_table is None:
            self._pool_table = allocation.PoolTable.of(self.pools, self.services)
        return self._pool_table

    def once(self, key: Any, make: Callable[[], T]) -> T:
        """make(), worked out once per View under this key: what the judgements of many Services share."""
        if key not in self._once:
            self._once[key] = make()
        return cast(T, self._once[key])

    def _find(self, items: List[Obj], wanted: Optional[str]) -> Optional[Obj]:
        if not wanted or not self.install:
            return None
        return next(
            (i for i in items if meta(i).get("namespace") == self.install.namespace and name(i) == wanted), None
        )

    @staticmethod
    def _flag(workload: Optional[Obj], container: str, flag: str) -> Optional[str]:
        if workload is None:
            return None
        return k8s.flag_value(k8s.argv(k8s.main_container(workload, container)), flag)

    @staticmethod
    def _switch(workload: Optional[Obj], container: str, flag: str) -> bool:
        """A boolean flag: `--flag` or `--flag=true` (Go's flag package syntax)."""
        if workload is None:
            return False
        return bool(k8s.flag_switch(k8s.argv(k8s.main_container(workload, container)), flag))

    def analysis(self) -> Any:
        """The analyzer's run over these facts (core.analyze.Analysis), made once on first use."""
        if self._analysis is None:
            from metallb_plugin.core import analyze

            self._analysis = analyze.analyze_facts(self.facts, view=self)
        return self._analysis

    def served(self, kind: str) -> bool:
        return self.facts.metallb_served is not None and kind in self.facts.metallb_served

    def at_least(self, *version: int) -> bool:
        """Whether the installed release is this version or newer (False when unknown)."""
        return self.version is not None and self.version >= version

    def statuses_of(self, service: Mapping[str, Any]) -> Tuple[Tuple[str, str], ...]:
        """((kind, node), ...): the ServiceL2Status/ServiceBGPStatus objects saying which node announces the Service."""
        return self.service_statuses.get((meta(service).get("namespace", ""), name(service)), ())

    def events_of_service(self, service: Mapping[str, Any]) -> List[ev.Event]:
        return self.service_events.get(("Service", meta(service).get("namespace", ""), name(service)), [])

    def slices_of(self, service: Mapping[str, Any]) -> Tuple[endpoints.Slice, ...]:
        return self.slices.get((meta(service).get("namespace", ""), name(service)), ())

    def pod_events(self, pod: Mapping[str, Any]) -> List[ev.Event]:
        return self.events_by_object.get(("Pod", meta(pod).get("namespace", ""), name(pod)), [])


def status_target(obj: Obj) -> Tuple[str, str, str]:
    """(Service namespace, Service name, node) of a ServiceL2Status or ServiceBGPStatus: its status fields, else the
    labels a speaker sets on it."""
    status, labels = k8s.status(obj), k8s.labels(obj)
    return (
        str(status.get("serviceNamespace") or labels.get("metallb.io/service-namespace") or ""),
        str(status.get("serviceName") or labels.get("metallb.io/service-name") or ""),
        str(status.get("node") or labels.get("metallb.io/node") or ""),
    )
