"""What preflight (and install --prometheus) and status say about Prometheus and MetalLB: the same findings of
core/prometheus, worded the same way, as check Results and fix commands (pure)."""

from typing import FrozenSet, Mapping, Optional, Sequence

from metallb_plugin.core import selectors
from metallb_plugin.core.checks import OK, WARN, Result, Skip
from metallb_plugin.core.prometheus import (
    METRICS_PATH,
    RELEASE_GRANTS,
    Account,
    Instance,
    Monitor,
    Resource,
    Verdict,
    best,
    covers,
    flags,
)


def describe(found: Instance) -> str:
    """One detail line: who it runs as, which ServiceMonitors and namespaces it selects."""
    where = (
        f"namespaces {selectors.describe(found.namespace_selector)}"
        if found.namespace_selector is not None
        else f"namespace {found.namespace} only"
    )
    return (
        f"{found} runs as {found.account}; selects ServiceMonitors {selectors.describe(found.monitor_selector)} in "
        f"{where}"
    )


def selection_result(verdicts: Sequence[Verdict], monitors: Sequence[Monitor], namespace: str) -> Result:
    """Whether some Prometheus selects every one of MetalLB's ServiceMonitors."""
    if not verdicts:
        raise Skip("no Prometheus object")
    names = ", ".join(m.name for m in monitors)
    chosen = [v for v in verdicts if v.selects]
    if chosen:
        return Result(OK, details=tuple(f"{v.instance} selects {names} in {namespace}" for v in chosen))
    details = tuple(f"{v.instance}: {m}: {why}" for v in verdicts for m, why in v.unselected.items())
    return Result(
        WARN,
        f"no Prometheus selects MetalLB's ServiceMonitors ({names}): nothing will scrape MetalLB's metrics",
        details + tuple(f"then: {step}" for step in (best(verdicts) or verdicts[0]).steps),
    )


def access_result(
    verdicts: Sequence[Verdict], granted: Mapping[Account, FrozenSet[Resource]], namespace: str
) -> Result:
    """Whether the ServiceAccount of the Prometheus that selects MetalLB (else of every Prometheus) is the one the
    RoleBinding binds (granted: what the namespace's RoleBindings give whom), and may discover and scrape the
    targets."""
    if not verdicts:
        raise Skip("no Prometheus object")
    subjects = [a for a, found in granted.items() if all(covers(found, r) for r in RELEASE_GRANTS)]
    bound = ", ".join(str(s) for s in sorted(subjects)) or "no ServiceAccount"
    chosen = [v for v in verdicts if v.selects] or list(verdicts)
    good = [v for v in chosen if not v.missing]
    if good:
        lines = [f"the RoleBinding in {namespace} binds {bound}"]
        for v in good:
            how = "bound by it" if v.bound else "not bound by it, but allowed through other roles"
            lines.append(f"{v.instance} runs as {v.instance.account}: {how}")
        return Result(OK, details=tuple(lines))
    details = tuple(f"{v.instance} runs as {v.instance.account}, which may not {', '.join(v.missing)}" for v in chosen)
    lacking = {m for v in chosen for m in v.missing}
    if all(m == f"get {METRICS_PATH}" for m in lacking):
        message = (
            f"Prometheus's ServiceAccount may not GET {METRICS_PATH}: MetalLB's metrics endpoints refuse its scrapes "
            "(403)"
        )
    else:
        message = f"the RoleBinding in {namespace} binds {bound}, not the ServiceAccount Prometheus runs as"
    return Result(WARN, message, details)


def metrics_grant(account: Account) -> str:
    """The commands that let account GET /metrics (what kube-prometheus grants its Prometheus)."""
    return (
        f"kubectl create clusterrole metrics-reader --verb=get --non-resource-url={METRICS_PATH} && kubectl create "
        f"clusterrolebinding {account.name}-metrics-reader --clusterrole=metrics-reader --serviceaccount="
        f"{account.namespace}:{account.name}"
    )


def install_command(verdict: Optional[Verdict], labels: Mapping[str, str], command: str) -> str:
    """command (kubectl metallb install --prometheus ...) with the flags that fit verdict's Prometheus."""
    return " ".join([command, *(flags(verdict, labels) if verdict else [])])
