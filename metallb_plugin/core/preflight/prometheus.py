"""Prometheus (with --prometheus): will the Prometheus variant's ServiceMonitors be scraped, and by whom?

The same category judges install --prometheus before it applies anything. The checks read the Prometheus and
PrometheusAgent objects (core/prometheus.SOURCES), MetalLB's namespace, facts.prometheus (the manifest's
ServiceMonitors and RoleBindings, fitted with --prometheus-service-account and --servicemonitor-label) and the
access reviews the command made for each Prometheus's ServiceAccount ("prometheus_access").
"""

from typing import List

from metallb_plugin.core import objects as k8s
from metallb_plugin.core import prometheus as prom
from metallb_plugin.core import prometheus_results as prom_results
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.preflight.facts import Facts

CRD = f"servicemonitors.{prom.GROUP}"
NEEDS = ("prometheuses", "prometheusagents")


def planned(facts: Facts) -> bool:
    return facts.prometheus is not None


def _plan(facts: Facts) -> prom.Plan:
    if facts.prometheus is None:
        raise Skip("no Prometheus variant planned")
    return facts.prometheus


def verdicts(facts: Facts) -> List[prom.Verdict]:
    """How every Prometheus of the cluster relates to the planned ServiceMonitors and RoleBinding."""
    plan = _plan(facts)
    found = prom.instances(facts.items("prometheuses"), facts.items("prometheusagents"))
    space = next(iter(facts.items("metallb_namespace") if facts.readable("metallb_namespace") else []), None)
    labels = {**plan.namespace_labels, **(k8s.labels(space) if space else {})}
    reviews = facts.objects.get("prometheus_access")
    allowed = prom.access_reviews(reviews) if isinstance(reviews, list) else None
    return [prom.assess(i, plan.monitors, facts.namespace, labels, plan.granted, allowed) for i in found]


def check_operator(facts: Facts) -> Result:
    if not any(k8s.name(c) == CRD for c in facts.items("crds")):
        return Result(
            FAIL,
            f"the Prometheus operator's CRDs are not installed (no {CRD}): the Prometheus variant cannot be applied",
        )
    return Result(OK, details=(f"CRD {CRD} found",))


def check_instances(facts: Facts) -> Result:
    found = prom.instances(facts.items("prometheuses"), facts.items("prometheusagents"))
    if not found:
        return Result(WARN, "no Prometheus object in the cluster: nothing will scrape MetalLB's ServiceMonitors")
    return Result(OK, details=tuple(prom_results.describe(i) for i in found))


def check_selection(facts: Facts) -> Result:
    return prom_results.selection_result(verdicts(facts), _plan(facts).monitors, facts.namespace)


def check_account(facts: Facts) -> Result:
    return prom_results.access_result(verdicts(facts), _plan(facts).granted, facts.namespace)


def fix(facts: Facts) -> str:
    """The install command that fits the cluster's Prometheus; the /metrics grant when that is all it lacks."""
    found = verdicts(facts) if facts.readable("prometheuses") and facts.readable("prometheusagents") else []
    chosen = prom.best(found)
    if chosen and chosen.selects and chosen.missing == [f"get {prom.METRICS_PATH}"]:
        return prom_results.metrics_grant(chosen.instance.account)
    return prom_results.install_command(chosen, _plan(facts).labels, _plan(facts).command)


register(
    "prometheus",
    "Prometheus",
    (
        Check(
            "prometheus-operator",
            "prometheus",
            "Prometheus operator CRDs are installed",
            check_operator,
            needs=("crds",),
            hint="install the Prometheus operator (e.g. kube-prometheus) first, or install MetalLB without --prometheus",
            when=planned,
        ),
        Check(
            "prometheus-instances",
            "prometheus",
            "a Prometheus runs in the cluster",
            check_instances,
            needs=NEEDS,
            hint="create a Prometheus (kube-prometheus, or the kube-prometheus-stack Helm chart), or install without "
            "--prometheus",
            when=planned,
        ),
        Check(
            "prometheus-selection",
            "prometheus",
            "a Prometheus selects MetalLB's ServiceMonitors",
            check_selection,
            needs=NEEDS,
            hint=fix,
            severity="warning",
            when=planned,
        ),
        Check(
            "prometheus-service-account",
            "prometheus",
            "the RoleBinding binds the ServiceAccount Prometheus runs as",
            check_account,
            needs=NEEDS,
            hint=fix,
            severity="warning",
            when=planned,
        ),
    ),
)
