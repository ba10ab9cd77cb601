"""The cluster as `kubectl metallb status` sees it: raw lists gathered by the command, indexed once (pure).

The command fills a `Facts` (one LIST per kind, raw dicts; Secrets reduced to their key names before they get
here, so no secret value ever reaches this code) and `View(facts)` derives what every check needs: the install's
own workloads and Pods, its configuration objects (and those left in other namespaces, which MetalLB ignores),
events per object, EndpointSlices per Service.

Kinds (Facts.objects keys): deployments, daemonsets (all namespaces), pods, events, configmaps (MetalLB
namespace), services, serviceEvents, endpointslices, nodes, namespaces, validatingwebhookconfigurations,
secrets ([{"name", "keys"}], MetalLB namespace), and the metallb.io kinds by plural (all namespaces):
ipaddresspools, l2advertisements, bgpadvertisements, bgppeers, configurationstates, servicel2statuses,
servicebgpstatuses.
"""

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

from metallb_plugin.core import advertisements, releases
from metallb_plugin.core import events as ev
from metallb_plugin.core import installation as inst
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.checks import Skip
from metallb_plugin.core.objects import key, meta, name

METALLB_KINDS = (
    "ipaddresspools",
    "l2advertisements",
    "bgpadvertisements",
    "bgppeers",
    "configurationstates",
    "servicel2statuses",
    "servicebgpstatuses",
)
CONFIG_KINDS = ("ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass
class Facts:
    namespace: str  # MetalLB's namespace: -n when given, else the install's, else metallb-system
    namespace_given: bool = False
    installation: object = None  # installation.Installation in `namespace`, or None
    installations: list = field(default_factory=list)  # every install found, any namespace
    objects: dict = field(default_factory=dict)  # kind -> [raw dicts]
    unreadable: dict = field(default_factory=dict)  # kind -> why it could not be listed
    served: Optional[frozenset] = (
        None  # metallb.io/v1beta1 plurals the API server serves; None: no metallb.io API at all
    )
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def get(self, kind):
        """The list of a kind; Skip (the check cannot decide) when it could not be read."""
        if kind in self.unreadable:
            raise Skip(f"cannot list {kind}: {self.unreadable[kind]}")
        return self.objects.get(kind) or []

    def readable(self, kind):
        return kind not in self.unreadable


def locate(facts):
    """Find the MetalLB install in the listed Deployments/DaemonSets and settle MetalLB's namespace: -n when given
    (the install there, if any), else the install's namespace (metallb-system preferred when there are several)."""
    deployments = facts.objects.get("deployments") or []
    daemonsets = facts.objects.get("daemonsets") or []
    facts.installations = inst.find_installations(deployments, daemonsets)
    if facts.namespace_given:
        facts.installation = next((i for i in facts.installations if i.namespace == facts.namespace), None)
    else:
        facts.installation = inst.find_installation(deployments, daemonsets, namespace=facts.namespace)
        if facts.installation:
            facts.namespace = facts.installation.namespace
    return facts


def _version_tuple(version):
    try:
        return releases.parse_version(version or "")
    except ValueError:
        return None


class View:
    """Everything the checks read, derived once from Facts."""

    def __init__(self, facts):
        self.facts = facts
        self.ns = facts.namespace
        self.install = facts.installation
        self.version = _version_tuple(self.install.version) if self.install else None
        objects = facts.objects
        self.deployments = objects.get("deployments") or []
        self.daemonsets = objects.get("daemonsets") or []
        self.controller = self._find(self.deployments, self.install and self.install.controller)
        self.speaker = self._find(self.daemonsets, self.install and self.install.speaker)
        self.frr_k8s = None
        if self.install and self.install.frr_k8s:
            frr_ns, _, frr_name = self.install.frr_k8s.partition("/")
            self.frr_k8s = next(
                (d for d in self.daemonsets if meta(d).get("namespace") == frr_ns and name(d) == frr_name), None
            )
        self.pods = objects.get("pods") or []
        self.events_by_object = ev.by_object(objects.get("events") or [])
        self.service_events = ev.by_object(objects.get("serviceEvents") or [])
        self.services = sorted(objects.get("services") or [], key=key)
        self.lb_services = [s for s in self.services if (s.get("spec") or {}).get("type") == "LoadBalancer"]
        self.nodes = sorted(objects.get("nodes") or [], key=name)
        self.namespace_labels = {name(n): meta(n).get("labels") or {} for n in objects.get("namespaces") or []}
        self.slices = {}
        for item in objects.get("endpointslices") or []:
            owner = (meta(item).get("labels") or {}).get(SERVICE_NAME_LABEL)
            if owner:
                self.slices.setdefault((meta(item).get("namespace", ""), owner), []).append(item)
        self.secrets = {s["name"]: set(s.get("keys") or ()) for s in objects.get("secrets") or []}
        self.configmaps = {name(c): c for c in objects.get("configmaps") or []}
        self.webhook_configurations = objects.get("validatingwebhookconfigurations") or []
        self.local = {}
        self.elsewhere = {}
        for kind in METALLB_KINDS:
            items = sorted(objects.get(kind) or [], key=name)
            self.local[kind] = [o for o in items if meta(o).get("namespace") == self.ns]
            self.elsewhere[kind] = [o for o in items if meta(o).get("namespace") != self.ns]
        self.pools = self.local["ipaddresspools"]
        # parsed once: every Service's classification looks them up
        self.pool_ranges = {name(p): k8s.pool_ranges(p, lenient=True)[0] for p in self.pools}
        self.advertisements = self.local["l2advertisements"] + self.local["bgpadvertisements"]
        self.covering = {name(p): advertisements.covering(p, self.advertisements) for p in self.pools}
        self.lb_class = self._flag(self.controller, "controller", "--lb-class") or self._flag(
            self.speaker, "speaker", "--lb-class"
        )
        self.ignore_exclude_lb = self._switch(self.speaker, "speaker", "--ignore-exclude-lb")

    def _find(self, items, wanted):
        if not wanted:
            return None
        return next(
            (i for i in items if meta(i).get("namespace") == self.install.namespace and name(i) == wanted), None
        )

    @staticmethod
    def _flag(workload, container, flag):
        return k8s.flag_value(k8s.argv(k8s.main_container(workload, container)), flag) if workload else None

    @staticmethod
    def _switch(workload, container, flag):
        """A boolean flag: `--flag` or `--flag=true` (Go's flag package syntax)."""
        return bool(workload) and bool(k8s.flag_switch(k8s.argv(k8s.main_container(workload, container)), flag))

    def served(self, kind):
        return self.facts.served is not None and kind in self.facts.served

    def at_least(self, *version):
        """Whether the installed release is this version or newer (False when unknown)."""
        return self.version is not None and self.version >= version

    def events_of_service(self, service):
        return self.service_events.get(("Service", meta(service).get("namespace", ""), name(service)), [])

    def slices_of(self, service):
        return self.slices.get((meta(service).get("namespace", ""), name(service)), [])

    def pod_events(self, pod):
        return self.events_by_object.get(("Pod", meta(pod).get("namespace", ""), name(pod)), [])


def ready_endpoints(slices):
    """[(address, nodeName)] of endpoints that are ready (a missing ready condition counts as ready)."""
    found = []
    for item in slices or []:
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or []:
                found.append((address, endpoint.get("nodeName")))
    return found
