"""Will Prometheus scrape MetalLB? The Prometheus operator's objects against MetalLB's ServiceMonitors (pure).

MetalLB's Prometheus variants add ServiceMonitors (controller-monitor, speaker-monitor and, with FRR-K8s,
frr-k8s-metrics-monitor) and a Role + RoleBinding that lets a ServiceAccount discover their targets. Every release
from v0.13.5 to v0.16.1 binds ServiceAccount monitoring/prometheus-k8s: kube-prometheus's layout. A Prometheus
(or PrometheusAgent) of the operator scrapes them only when
- its serviceMonitorSelector selects their labels (null selects nothing, {} everything) and its
  serviceMonitorNamespaceSelector selects MetalLB's namespace (null: only its own namespace, {} every namespace);
- it accepts ServiceMonitors that read a bearer token file (MetalLB's do; spec.arbitraryFSAccessThroughSMs.deny
  refuses them);
- the ServiceAccount it runs as (spec.serviceAccountName, else "default") may list the Services, Pods and
  Endpoints (or EndpointSlices, with serviceDiscoveryRole EndpointSlice) of MetalLB's namespace, and may GET the
  non-resource URL /metrics: MetalLB's metrics endpoints check the scraper's token with a TokenReview and a
  SubjectAccessReview for exactly that.

    instances(prometheuses, agents)            -> [Instance]
    monitors(objects) / RELEASE_MONITORS       -> [Monitor] of a manifest / of every release
    bindings(objects, namespace)               -> {Account: granted (group, resource)s} from RoleBindings + Roles
    assess(instance, monitors, ...)            -> Verdict: selected or why not, bound or not, the fix
"""

import re
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

from metallb_plugin.core import objects as k8s
from metallb_plugin.core import selectors
from metallb_plugin.core.snapshot import ALL, METALLB, Obj, Source

GROUP = "monitoring.coreos.com"
NAME_LABEL = "kubernetes.io/metadata.name"  # the API server puts it on every Namespace
METRICS_PATH = "/metrics"
OPERATED_SERVICE = "prometheus-operated"  # the operator's governing Service of the Prometheus Pods, port "web"

SOURCES = (
    Source("prometheuses", f"{GROUP}/v1", "prometheuses", ALL, "Prometheus objects", optional=True),
    Source("prometheusagents", f"{GROUP}/v1alpha1", "prometheusagents", ALL, "PrometheusAgents", optional=True),
)
# what status reads of a Prometheus-variant installation, in MetalLB's namespace
NAMESPACE_SOURCES = (
    Source("servicemonitors", f"{GROUP}/v1", "servicemonitors", METALLB, "ServiceMonitors", optional=True),
    Source("rolebindings", "rbac.authorization.k8s.io/v1", "rolebindings", METALLB, "RoleBindings"),
    Source("roles", "rbac.authorization.k8s.io/v1", "roles", METALLB, "Roles"),
)

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = rf"{_DNS_LABEL}(\.{_DNS_LABEL})*"
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"


@dataclass(frozen=True, order=True)
class Account:
    """A ServiceAccount, written NAMESPACE/NAME."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def groups(self) -> List[str]:
        return ["system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated"]


DEFAULT_ACCOUNT = Account("monitoring", "prometheus-k8s")  # what every release's RoleBinding binds


def parse_account(text: str) -> Account:
    """NAMESPACE/NAME -> Account; ValueError saying what a ServiceAccount reference looks like."""
    namespace, _, name = (text or "").strip().partition("/")
    if (
        not re.fullmatch(_DNS_LABEL, namespace)
        or len(namespace) > 63
        or not re.fullmatch(_DNS_SUBDOMAIN, name)
        or len(name) > 253
    ):
        raise ValueError(f"'{text}' is not a ServiceAccount NAMESPACE/NAME, like monitoring/prometheus-k8s")
    return Account(namespace, name)


def parse_label(text: str) -> Tuple[str, str]:
    """KEY=VALUE -> (key, value) with Kubernetes' label syntax; ValueError otherwise."""
    key, equals, value = (text or "").partition("=")
    prefix, slash, name = key.rpartition("/")
    valid_key = (
        bool(equals)
        and re.fullmatch(_LABEL_NAME, name) is not None
        and len(name) <= 63
        and (not slash or (re.fullmatch(_DNS_SUBDOMAIN, prefix) is not None and len(prefix) <= 253))
    )
    if not valid_key or (value and (not re.fullmatch(_LABEL_NAME, value) or len(value) > 63)):
        raise ValueError(
            f"'{text}' is not a label KEY=VALUE (like release=kube-prometheus-stack; a key is [prefix/]name, a "
            "name or value at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric)"
        )
    return key, value


def format_labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


# ------------------------------------------------------------------------------------------- MetalLB's side


@dataclass(frozen=True)
class Monitor:
    """One of MetalLB's ServiceMonitors."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    token_file: bool = True  # an endpoint reads bearerTokenFile (every release's monitors do)
    selector: Optional[Mapping[str, Any]] = None  # the Services it scrapes
    target_namespaces: Tuple[str, ...] = ()  # spec.namespaceSelector.matchNames; () = its own namespace


def monitor(obj: Obj) -> Monitor:
    spec = k8s.spec(obj)
    endpoints = spec.get("endpoints") or []
    names = (spec.get("namespaceSelector") or {}).get("matchNames") or []
    return Monitor(
        name=k8s.name(obj),
        namespace=k8s.namespace(obj),
        labels=dict(k8s.labels(obj)),
        token_file=any(e.get("bearerTokenFile") for e in endpoints),
        selector=spec.get("selector"),
        target_namespaces=tuple(str(n) for n in names),
    )


def monitors(objects: Iterable[Obj]) -> List[Monitor]:
    """MetalLB's ServiceMonitors in a manifest's (or a namespace's) objects."""
    return [monitor(o) for o in objects if o.get("kind", "ServiceMonitor") == "ServiceMonitor"]


RELEASE_GRANTS = frozenset({("", "services"), ("", "endpoints"), ("", "pods")})  # every release's Role


def release_monitors(namespace: str) -> List[Monitor]:
    """The ServiceMonitors of every release's Prometheus variant in every mode (FRR-K8s adds a third, whose labels
    differ): what preflight assesses when it has no manifest."""
    return [
        Monitor("controller-monitor", namespace, {"component": "controller"}),
        Monitor("speaker-monitor", namespace, {"component": "speaker"}),
    ]


# RBAC: which ServiceAccounts a namespace's (or manifest's) RoleBindings let list which resources there

Resource = Tuple[str, str]  # (API group, plural)


def _grants(role: Obj) -> FrozenSet[Resource]:
    """(group, resource) pairs a Role lets list and watch."""
    found = set()
    for rule in role.get("rules") or []:
        verbs = set(rule.get("verbs") or [])
        if not ({"list", "watch"} <= verbs or "*" in verbs):
            continue
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                found.add((str(group), str(resource)))
    return frozenset(found)


def bindings(objects: Iterable[Obj]) -> Dict[Account, FrozenSet[Resource]]:
    """{ServiceAccount: the (group, resource)s its RoleBindings to these Roles grant} (only Roles found here)."""
    objects = list(objects)
    roles = {k8s.name(o): _grants(o) for o in objects if o.get("kind", "Role") == "Role" and "rules" in o}
    found: Dict[Account, FrozenSet[Resource]] = {}
    for binding in objects:
        if binding.get("kind", "RoleBinding") != "RoleBinding" or "subjects" not in binding:
            continue
        ref = binding.get("roleRef") or {}
        granted = roles.get(str(ref.get("name"))) if ref.get("kind") == "Role" else None
        for subject in binding.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount" and granted:
                account = Account(str(subject.get("namespace") or k8s.namespace(binding)), str(subject.get("name")))
                found[account] = found.get(account, frozenset()) | granted
    return found


def covers(granted: Iterable[Resource], wanted: Resource) -> bool:
    group, resource = wanted
    return any(g in (group, "*") and r in (resource, "*") for g, r in granted)


# ------------------------------------------------------------------------------------------- Prometheus's side


@dataclass(frozen=True)
class Instance:
    """A Prometheus or PrometheusAgent object, as far as scraping MetalLB goes."""

    kind: str
    namespace: str
    name: str
    account: Account
    monitor_selector: Optional[Mapping[str, Any]]
    namespace_selector: Optional[Mapping[str, Any]]
    deny_files: bool = False
    endpoint_slices: bool = False  # serviceDiscoveryRole EndpointSlice

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def discovery(self) -> Tuple[Resource, ...]:
        """What its service discovery lists in a namespace it scrapes."""
        endpoints = ("discovery.k8s.io", "endpointslices") if self.endpoint_slices else ("", "endpoints")
        return ("", "services"), ("", "pods"), endpoints


def instance(obj: Obj, kind: str = "Prometheus") -> Instance:
    spec = k8s.spec(obj)
    namespace = k8s.namespace(obj)
    return Instance(
        kind=kind,
        namespace=namespace,
        name=k8s.name(obj),
        account=Account(namespace, str(spec.get("serviceAccountName") or "default")),
        monitor_selector=spec.get("serviceMonitorSelector"),
        namespace_selector=spec.get("serviceMonitorNamespaceSelector"),
        deny_files=bool((spec.get("arbitraryFSAccessThroughSMs") or {}).get("deny")),
        endpoint_slices=spec.get("serviceDiscoveryRole") == "EndpointSlice",
    )


def instances(prometheuses: Iterable[Obj], agents: Iterable[Obj] = ()) -> List[Instance]:
    found = [instance(o) for o in prometheuses] + [instance(o, "PrometheusAgent") for o in agents]
    return sorted(found, key=lambda i: (i.kind != "Prometheus", i.namespace, i.name))


# ------------------------------------------------------------------------------------------- selecting


def labels_for(selector: Mapping[str, Any], have: Mapping[str, str]) -> Tuple[Dict[str, str], List[str]]:
    """({label: value} to add so that `have` matches selector, [requirements no added label can meet])."""
    add: Dict[str, str] = {}
    impossible: List[str] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        if key not in have:
            add[key] = str(value)
        elif have[key] != value:
            impossible.append(f"{key}={value} (it has {key}={have[key]})")
    for expr in selector.get("matchExpressions") or []:
        key, operator, values = str(expr.get("key")), expr.get("operator"), list(expr.get("values") or [])
        current = {**have, **add}.get(key)
        if operator == selectors.IN and current is None and values:
            add[key] = str(values[0])
        elif operator == selectors.EXISTS and current is None:
            add[key] = "true"
        elif not selectors.matches({"matchExpressions": [expr]}, {**have, **add}):
            impossible.append(selectors.describe({"matchExpressions": [expr]}) + f" (it has {key}={current})")
    return add, impossible


@dataclass
class Verdict:
    """Whether one Prometheus scrapes MetalLB's ServiceMonitors, and what to change so that it does."""

    instance: Instance
    unselected: Dict[str, str] = field(default_factory=dict)  # monitor name -> why it is not selected
    bound: bool = False  # the manifest's (or namespace's) RoleBindings cover its discovery
    missing: List[str] = field(default_factory=list)  # permissions it lacks ("list endpoints in metallb-system")
    monitor_labels: Dict[str, str] = field(default_factory=dict)  # labels the ServiceMonitors need
    steps: List[str] = field(default_factory=list)  # what no install flag can fix

    @property
    def selects(self) -> bool:
        return not self.unselected

    @property
    def scrapes(self) -> bool:
        """Selected and allowed to discover the targets (permission for /metrics is reported apart)."""
        return self.selects and not any(m.startswith("list") for m in self.missing)


def _namespace_reason(found: Instance, namespace: str, namespace_labels: Mapping[str, str]) -> Optional[str]:
    if found.namespace_selector is None:
        if found.namespace == namespace:
            return None
        return f"it looks only in its own namespace {found.namespace} (no serviceMonitorNamespaceSelector)"
    if selectors.matches(found.namespace_selector, namespace_labels):
        return None
    return (
        f"its serviceMonitorNamespaceSelector {selectors.describe(found.namespace_selector)} does not select "
        f"namespace {namespace}"
    )


def assess(
    found: Instance,
    monitors: Sequence[Monitor],
    namespace: str,
    namespace_labels: Mapping[str, str],
    granted: Mapping[Account, FrozenSet[Resource]],
    allowed: Optional[Mapping[Tuple[Account, str], bool]] = None,
) -> Verdict:
    """How `found` relates to MetalLB's monitors in `namespace`.

    granted: what RoleBindings in the namespace (the manifest's, or the live ones) give each ServiceAccount.
    allowed: access reviews {(account, "list endpoints" | ... | "get /metrics"): allowed} when they could be made;
    without them only the RoleBindings count and /metrics is not judged.
    """
    verdict = Verdict(found)
    labels = {**namespace_labels, NAME_LABEL: namespace}
    where = _namespace_reason(found, namespace, labels)
    if where and found.namespace_selector is None:
        verdict.steps.append(
            f"set spec.serviceMonitorNamespaceSelector of {found} (e.g. {{}} for every namespace, or "
            f"matchLabels {NAME_LABEL}: {namespace})"
        )
    elif where and found.namespace_selector is not None:
        add, impossible = labels_for(found.namespace_selector, labels)
        if add and not impossible:
            verdict.steps.append(f"kubectl label namespace {namespace} {' '.join(f'{k}={v}' for k, v in add.items())}")
        else:
            verdict.steps.append(f"change spec.serviceMonitorNamespaceSelector of {found} to select {namespace}")
    if found.monitor_selector is None:
        verdict.steps.append(f"set spec.serviceMonitorSelector of {found} (it selects no ServiceMonitor without one)")
    if found.deny_files and any(m.token_file for m in monitors):
        verdict.steps.append(
            f"set spec.arbitraryFSAccessThroughSMs.deny of {found} to false: MetalLB's ServiceMonitors send the "
            "token of Prometheus's ServiceAccount from its bearer token file"
        )
    for mon in monitors:
        reasons = [where] if where else []
        if found.monitor_selector is None:
            reasons.append("it has no serviceMonitorSelector")
        elif not selectors.matches(found.monitor_selector, mon.labels):
            add, impossible = labels_for(found.monitor_selector, mon.labels)
            verdict.monitor_labels.update(add)
            reasons.append(
                f"its serviceMonitorSelector {selectors.describe(found.monitor_selector)} does not match labels "
                f"{format_labels(mon.labels) or '(none)'}"
            )
            if impossible:
                verdict.steps.append(f"{mon.name} cannot match {found}: it needs {'; '.join(impossible)}")
        if found.deny_files and mon.token_file:
            reasons.append("it refuses ServiceMonitors that read a bearer token file (arbitraryFSAccessThroughSMs)")
        if reasons:
            verdict.unselected[mon.name] = "; ".join(reasons)
    account = found.account
    verdict.bound = all(covers(granted.get(account, ()), r) for r in found.discovery)
    for group, resource in found.discovery:
        what = f"list {resource}{'.' + group if group else ''} in {namespace}"
        if not covers(granted.get(account, ()), (group, resource)) and not (allowed or {}).get((account, what)):
            verdict.missing.append(what)
    if (allowed or {}).get((account, f"get {METRICS_PATH}")) is False:
        verdict.missing.append(f"get {METRICS_PATH}")
    return verdict


def reviews(found: Instance, namespace: str) -> List[Tuple[str, Dict[str, Any]]]:
    """The access reviews that tell whether found's ServiceAccount can scrape: [(what, SubjectAccessReview spec)]."""
    account = found.account
    specs: List[Tuple[str, Dict[str, Any]]] = []
    for group, resource in found.discovery:
        what = f"list {resource}{'.' + group if group else ''} in {namespace}"
        attributes = {"verb": "list", "group": group, "resource": resource, "namespace": namespace}
        specs.append((what, {"user": account.user, "groups": account.groups, "resourceAttributes": attributes}))
    attributes = {"verb": "get", "path": METRICS_PATH}
    specs.append(
        (f"get {METRICS_PATH}", {"user": account.user, "groups": account.groups, "nonResourceAttributes": attributes})
    )
    return specs


def best(verdicts: Sequence[Verdict]) -> Optional[Verdict]:
    """The Prometheus to propose the fix for: one that already scrapes, else the one needing the fewest steps."""
    if not verdicts:
        return None
    return min(verdicts, key=lambda v: (not v.scrapes, len(v.steps), v.instance.kind != "Prometheus"))


def flags(verdict: Verdict, labels: Mapping[str, str]) -> List[str]:
    """The install flags that make MetalLB's manifest fit verdict's Prometheus; labels: those already asked for."""
    found: List[str] = []
    if verdict.instance.account != DEFAULT_ACCOUNT:
        found.append(f"--prometheus-service-account {verdict.instance.account}")
    for key, value in sorted({**labels, **verdict.monitor_labels}.items()):
        found.append(f"--servicemonitor-label {key}={value}")
    return found


# ------------------------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """MetalLB's side of a Prometheus variant about to be installed (preflight --prometheus, install --prometheus)."""

    monitors: List[Monitor]
    granted: Dict[Account, FrozenSet[Resource]]  # what the manifest's RoleBindings give which ServiceAccount
    namespace_labels: Dict[str, str] = field(default_factory=dict)  # the manifest's Namespace labels
    labels: Dict[str, str] = field(default_factory=dict)  # --servicemonitor-label values, for the proposed command
    command: str = "kubectl metallb install --prometheus"  # the proposed command, before the fitting flags


def plan(
    namespace: str,
    objects: Optional[Sequence[Obj]] = None,
    account: Optional[Account] = None,
    labels: Optional[Mapping[str, str]] = None,
    command: str = "kubectl metallb install --prometheus",
) -> Plan:
    """The plan from a manifest's objects (already fitted with the flags), else from what every release ships."""
    labels = dict(labels or {})
    if objects is not None:
        space = next((o for o in objects if o.get("kind") == "Namespace"), None)
        return Plan(
            monitors=monitors(o for o in objects if o.get("kind") == "ServiceMonitor"),
            granted=bindings(o for o in objects if o.get("kind") in ("Role", "RoleBinding")),
            namespace_labels=dict(k8s.labels(space)) if space else {},
            labels=labels,
            command=command,
        )
    found = [Monitor(m.name, m.namespace, {**m.labels, **labels}) for m in release_monitors(namespace)]
    return Plan(found, {account or DEFAULT_ACCOUNT: RELEASE_GRANTS}, labels=labels, command=command)


def access_reviews(items: Sequence[Obj]) -> Dict[Tuple[Account, str], bool]:
    """The snapshot's access reviews ([{"account", "what", "allowed"}]) as assess() takes them."""
    found: Dict[Tuple[Account, str], bool] = {}
    for item in items:
        namespace, _, name = str(item.get("account")).partition("/")
        found[(Account(namespace, name), str(item.get("what")))] = bool(item.get("allowed"))
    return found
