"""Prometheus, for an installation of a Prometheus variant: its ServiceMonitors exist, a Prometheus selects them,
that Prometheus's ServiceAccount is bound and may scrape, and what Prometheus says: up == 1 for every target.

The command reads these only for a Prometheus variant (its monitor Services are there): the ServiceMonitors,
RoleBindings and Roles of MetalLB's namespace, the Prometheus and PrometheusAgent objects (core/prometheus.py's
sources), the access reviews of their ServiceAccounts ("prometheus_access") and the answer of the Prometheus that
selects MetalLB to `up{namespace="..."}`, asked through the API server's service proxy ("prometheus_targets").
"""

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from metallb_plugin.core import objects as k8s
from metallb_plugin.core import prometheus as prom
from metallb_plugin.core import prometheus_results as prom_results
from metallb_plugin.core import selectors
from metallb_plugin.core.checks import OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.snapshot import Obj
from metallb_plugin.core.view import View

MONITOR_SERVICES = ("controller-monitor-service", "speaker-monitor-service")  # every release's variant adds them
FRR_K8S_MONITOR = "frr-k8s-metrics-monitor"
NEEDS = ("servicemonitors", "prometheuses", "prometheusagents")


def is_variant(services: Iterable[Obj], namespace: str) -> bool:
    """Whether the installation in namespace is a Prometheus variant (it has the monitor Services)."""
    return any(k8s.namespace(s) == namespace and k8s.name(s) in MONITOR_SERVICES for s in services)


def installed(view: View) -> bool:
    """The command read the Prometheus sources (it does only for a Prometheus variant)."""
    return "servicemonitors" in view.facts.objects


# ------------------------------------------------------------------------------------------- reading the view


def monitors(view: View) -> List[prom.Monitor]:
    return prom.monitors(view.facts.items("servicemonitors"))


def verdicts(view: View) -> List[prom.Verdict]:
    facts = view.facts
    found = prom.instances(facts.items("prometheuses"), facts.items("prometheusagents"))
    granted = prom.bindings(facts.listed("rolebindings") + facts.listed("roles"))
    reviews = facts.objects.get("prometheus_access")
    allowed = prom.access_reviews(reviews) if isinstance(reviews, list) else None
    labels = view.namespace_labels.get(view.ns, {})
    return [prom.assess(i, monitors(view), view.ns, labels, granted, allowed) for i in found]


def queried(verdicts: Sequence[prom.Verdict]) -> Optional[prom.Instance]:
    """The Prometheus to ask about MetalLB's targets: the first that selects them (an agent has no query API)."""
    return next((v.instance for v in verdicts if v.selects and v.instance.kind == "Prometheus"), None)


def added_labels(found: Sequence[prom.Monitor]) -> Dict[str, str]:
    """Labels every one of MetalLB's ServiceMonitors carries: an earlier --servicemonitor-label (the releases give
    each monitor labels of its own)."""
    if not found:
        return {}
    common = dict(found[0].labels)
    for mon in found[1:]:
        common = {k: v for k, v in common.items() if mon.labels.get(k) == v}
    return common


def _command(view: View) -> str:
    install = view.install
    version = f" --version {install.version}" if install and install.version else ""
    mode = f" --mode {install.backend}" if install and install.backend in ("native", "frr", "frr-k8s") else ""
    return f"kubectl metallb install --prometheus{version}{mode}"


# ------------------------------------------------------------------------------------------- targets


def scraped_services(found: Sequence[prom.Monitor], services: Iterable[Obj]) -> List[str]:
    """Names of the Services MetalLB's ServiceMonitors select (their targets)."""
    services = list(services)
    names = set()
    for mon in found:
        where = mon.target_namespaces or (mon.namespace,)
        for service in services:
            if k8s.namespace(service) in where and selectors.matches(mon.selector or {}, k8s.labels(service)):
                names.add(k8s.name(service))
    return sorted(names)


def up_samples(answer: Any) -> List[Dict[str, Any]]:
    """[{"service", "instance", "job", "up", "error"}] from Prometheus's answer to an `up{...}` instant query."""
    found = []
    for item in ((answer or {}).get("data") or {}).get("result") or []:
        metric = item.get("metric") or {}
        value = (item.get("value") or [None, "0"])[1]
        found.append(
            {
                "service": str(metric.get("service", "")),
                "instance": str(metric.get("instance", "")),
                "job": str(metric.get("job", "")),
                "up": value == "1",
                "error": "",
            }
        )
    return found


def with_errors(samples: List[Dict[str, Any]], answer: Any) -> List[Dict[str, Any]]:
    """The samples with each target's lastError from Prometheus's /api/v1/targets answer."""
    errors = {}
    for target in ((answer or {}).get("data") or {}).get("activeTargets") or []:
        labels = target.get("labels") or {}
        errors[(str(labels.get("service")), str(labels.get("instance")))] = str(target.get("lastError") or "")
    return [{**s, "error": errors.get((s["service"], s["instance"]), "")} for s in samples]


def targets_result(samples: Sequence[Mapping[str, Any]], services: Sequence[str], asked: str) -> Result:
    """up == 1 for every target of every Service MetalLB's ServiceMonitors select; asked: the Prometheus."""
    if not services:
        raise Skip("no Service matches MetalLB's ServiceMonitors")
    lines, problems = [], []
    for service in services:
        found = [s for s in samples if s["service"] == service]
        up = [s for s in found if s["up"]]
        lines.append(f"{service}: up == 1 for {len(up)} of {len(found)} targets")
        if not found:
            problems.append(f"{service}: no target (yet: {asked} loads new ServiceMonitors within a minute)")
        for sample in found:
            if not sample["up"]:
                problems.append(f"{service} {sample['instance']}: down: {sample['error'] or 'no error reported'}")
    if problems:
        return Result(WARN, f"{asked} does not scrape every MetalLB target", tuple(problems + lines))
    return Result(OK, details=(f"asked {asked}", *lines))


# ------------------------------------------------------------------------------------------- checks


def check_monitors(view: View) -> Result:
    if view.facts.objects.get("servicemonitors") is None:
        return Result(WARN, "the API server does not serve ServiceMonitors: the Prometheus operator's CRDs are gone")
    have = {m.name for m in monitors(view)}
    wanted = [
        "controller-monitor",
        "speaker-monitor",
        *([FRR_K8S_MONITOR] if view.install and view.install.frr_k8s else []),
    ]
    missing = [n for n in wanted if n not in have]
    if missing:
        return Result(WARN, f"ServiceMonitors missing in {view.ns}: {', '.join(missing)}")
    return Result(OK, details=(f"ServiceMonitors {', '.join(wanted)} in {view.ns}",))


def check_selected(view: View) -> Result:
    return prom_results.selection_result(verdicts(view), monitors(view), view.ns)


def check_access(view: View) -> Result:
    granted = prom.bindings(view.facts.listed("rolebindings") + view.facts.listed("roles"))
    return prom_results.access_result(verdicts(view), granted, view.ns)


def check_targets(view: View) -> Result:
    asked = queried(verdicts(view))
    if asked is None:
        raise Skip("no Prometheus selects MetalLB's ServiceMonitors")
    services = scraped_services(monitors(view), view.services)
    return targets_result(view.facts.items("prometheus_targets"), services, str(asked))


def fix(view: View) -> str:
    """Re-running install with the flags that fit the cluster's Prometheus; the /metrics grant if that is all."""
    try:
        found = verdicts(view)
        labels = added_labels(monitors(view))
    except Skip:
        return _command(view)
    chosen = prom.best(found)
    if chosen and chosen.selects and chosen.missing == [f"get {prom.METRICS_PATH}"]:
        return prom_results.metrics_grant(chosen.instance.account)
    return prom_results.install_command(chosen, labels, _command(view))


def targets_hint(view: View) -> str:
    try:
        asked = queried(verdicts(view))
    except Skip:
        asked = None
    where = f"-n {asked.namespace} " if asked else ""
    return f"kubectl {where}port-forward svc/{prom.OPERATED_SERVICE} 9090, then http://localhost:9090/targets"


register(
    "metrics",
    "Prometheus metrics",
    (
        Check(
            "prometheus.monitors",
            "metrics",
            "MetalLB's ServiceMonitors exist",
            check_monitors,
            hint=_command,
            severity="warning",
            when=installed,
        ),
        Check(
            "prometheus.selected",
            "metrics",
            "a Prometheus selects them",
            check_selected,
            needs=NEEDS,
            hint=fix,
            severity="warning",
            when=installed,
        ),
        Check(
            "prometheus.access",
            "metrics",
            "its ServiceAccount is bound and may scrape",
            check_access,
            needs=NEEDS,
            hint=fix,
            severity="warning",
            when=installed,
        ),
        Check(
            "prometheus.targets",
            "metrics",
            "Prometheus scrapes the controller and the speakers",
            check_targets,
            needs=(*NEEDS, "prometheus_targets"),
            hint=targets_hint,
            severity="warning",
            when=installed,
        ),
    ),
)
