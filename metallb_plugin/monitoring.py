"""Prometheus, read from the cluster: the discovery behind preflight --prometheus and install --prometheus, and
what status reads of an installed Prometheus variant (the shell of core/prometheus.py and its check categories).

    preflight_plan(args, namespace, objects)
                                           the variant preflight judges (--prometheus, or a --manifest with
                                           ServiceMonitors), fitted with the flags; None when none is planned
    discover(client, facts)                Prometheus objects and access reviews into a preflight Facts
    review_install(ctx, client, args, manifest, labels)
                                           install --prometheus: say who will scrape MetalLB, propose the flags
                                           that fit, ask before installing what nothing will scrape
    gather_status(client, facts)           status: the variant's objects, access reviews, and Prometheus's targets
"""

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from metallb_plugin import errors, output, reading
from metallb_plugin.core import checks
from metallb_plugin.core import prometheus as prom
from metallb_plugin.core.snapshot import Obj, Snapshot, Unreadable

if TYPE_CHECKING:
    from metallb_plugin.context import Context
    from metallb_plugin.core.manifests import Manifest

REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def review_access(client: Any, facts: Snapshot) -> Union[List[Dict[str, Any]], Unreadable]:
    """SubjectAccessReviews of what each Prometheus's ServiceAccount needs to scrape MetalLB's namespace:
    [{"account", "what", "allowed"}], or Unreadable when reviews may not be made (or the objects not read)."""
    try:
        found = prom.instances(facts.items("prometheuses"), facts.items("prometheusagents"))
    except checks.Skip as why:
        return Unreadable(str(why))
    results: List[Dict[str, Any]] = []
    seen = set()
    for instance in found:
        for what, spec in prom.reviews(instance, facts.namespace):
            if (instance.account, what) in seen:
                continue
            seen.add((instance.account, what))
            body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
            try:
                answer = client.create(REVIEWS, body)
            except errors.Forbidden:
                return Unreadable("no permission to create SubjectAccessReviews (what Prometheus may do is unknown)")
            allowed = bool((answer.get("status") or {}).get("allowed"))
            results.append({"account": str(instance.account), "what": what, "allowed": allowed})
    return results


def preflight_plan(args: Any, namespace: str, objects: Optional[List[Obj]] = None) -> Optional[prom.Plan]:
    from metallb_plugin.commands import prometheus_fit
    from metallb_plugin.core import manifests
    from metallb_plugin.core.install import prometheus as variant

    account, labels = prometheus_fit(args)
    command = "kubectl metallb install --prometheus" + (f" --version {args.release}" if args.release else "")
    if objects is None or not any(o["kind"] == "ServiceMonitor" for o in objects):
        if objects is not None and args.prometheus:
            raise errors.UsageError(f"--manifest {args.manifest} is not a Prometheus variant: it has no ServiceMonitor")
        return prom.plan(namespace, account=account, labels=labels, command=command) if args.prometheus else None
    try:
        fitted = manifests.Manifest(list(objects), namespace)
        variant.fit(fitted, account, labels)
    except manifests.ManifestError as exc:
        raise errors.UsageError(str(exc)) from None
    return prom.plan(
        namespace, fitted.objects, labels=labels, command=f"kubectl metallb install --manifest {args.manifest}"
    )


def discover(client: Any, facts: Any, progress: Any = None) -> Any:
    """Read the Prometheus objects and review their ServiceAccounts' access into facts (a preflight Facts with the
    planned variant in facts.prometheus; without one, nothing)."""
    if facts.prometheus is None:
        return facts
    reading.read_snapshot(client, prom.SOURCES, facts, progress=progress)
    if progress:
        progress.update("reviewing what Prometheus's ServiceAccounts may do...")
    facts.objects["prometheus_access"] = review_access(client, facts)
    return facts


# --------------------------------------------------------------------------------------------- install


def _lines(outcomes: List[checks.Outcome], style: Any) -> List[str]:
    """The findings, one line each with their details, then the fix of the first problem."""
    colour = {"ok": style.green, "warn": style.yellow, "fail": style.red, "skip": style.dim}
    lines: List[str] = []
    hints: List[str] = []
    for outcome in outcomes:
        result = outcome.result
        text = result.message if result.status != checks.OK and result.message else outcome.check.description
        lines.append(f"{colour[result.status](output.SYMBOLS[result.status])} Prometheus: {text}")
        lines += [f"    {d}" for d in result.details]
        hint = str(outcome.check.hint)  # resolved to text by evaluate()
        if result.status in (checks.WARN, checks.FAIL) and hint not in hints:
            hints.append(hint)
    lines += [f"  to fit it: {h}" for h in hints if h]
    return lines


def review_install(ctx: "Context", client: Any, args: Any, manifest: "Manifest", labels: Dict[str, str]) -> None:
    """Judge the Prometheus variant against the cluster's Prometheus before install applies it."""
    from metallb_plugin.core.preflight import SOURCES, Facts

    command = "kubectl metallb install " + (
        f"--manifest {args.manifest}"
        if args.manifest
        else " ".join(
            ["--prometheus"]
            + ([f"--version {args.release}"] if args.release else [])
            + ([f"--mode {args.mode}"] if args.mode else [])
        )
    )
    labelled = next(s for s in SOURCES if s.key == "metallb_namespace")  # its labels: namespace selectors
    facts = Facts(namespace=manifest.namespace)
    facts.prometheus = prom.plan(manifest.namespace, manifest.objects, labels=labels, command=command)
    reading.read_snapshot(client, (labelled,), facts)
    discover(client, facts)
    if facts.objects.get("prometheuses") is None and facts.readable("prometheuses"):
        raise errors.PluginError(
            f"the server does not serve ServiceMonitor in {prom.GROUP}/v1: the Prometheus variants need the "
            f"Prometheus operator's CRDs ({prom.GROUP}); install it first, or drop --prometheus. Nothing was changed"
        )
    outcomes = [o for o in checks.evaluate(facts, ["prometheus"]) if o.check.id != "prometheus-operator"]
    for line in _lines(outcomes, ctx.style(args.no_color)):
        ctx.say(line)
    from metallb_plugin.core.preflight.prometheus import verdicts

    try:
        scraped = any(v.scrapes for v in verdicts(facts))
    except checks.Skip:
        return  # the Prometheus objects could not be read: the findings above say why
    if scraped:
        return
    if args.dry_run:
        ctx.say("dry run: nothing would scrape MetalLB's metrics")
        return
    question = "Nothing will scrape MetalLB's metrics. Install the Prometheus variant anyway?"
    refusal = (
        "nothing will scrape MetalLB's metrics (see above); pass --yes to install the Prometheus variant anyway, "
        "or fit it with the flags above"
    )
    if not ctx.confirm(question, refusal, assume_yes=args.yes):
        raise errors.PluginError("install cancelled; nothing was changed")


# --------------------------------------------------------------------------------------------- status


def gather_status(client: Any, facts: Any) -> Any:
    """For a Prometheus variant (its monitor Services are in MetalLB's namespace): read its ServiceMonitors,
    RoleBindings and Roles, the Prometheus objects, the access reviews, and ask the Prometheus that selects
    MetalLB what it scrapes. Nothing is read for other installations."""
    from metallb_plugin.core.status import prometheus as status

    if not status.is_variant(facts.listed("services"), facts.namespace):
        return facts
    reading.read_snapshot(client, prom.NAMESPACE_SOURCES + prom.SOURCES, facts)
    facts.objects["prometheus_access"] = review_access(client, facts)
    from metallb_plugin.core.view import View

    try:
        asked = status.queried(status.verdicts(View(facts)))
    except checks.Skip as why:
        facts.objects["prometheus_targets"] = Unreadable(str(why))
        return facts
    facts.objects["prometheus_targets"] = targets(client, asked, facts.namespace) if asked else []
    return facts


def targets(client: Any, instance: prom.Instance, namespace: str) -> Union[List[Dict[str, Any]], Unreadable]:
    """What a Prometheus says of MetalLB's targets, asked through the API server's service proxy: up samples (with
    each down target's last error), or Unreadable saying why it could not be asked."""
    from metallb_plugin.core.status.prometheus import up_samples, with_errors

    proxy = f"/api/v1/namespaces/{instance.namespace}/services/{prom.OPERATED_SERVICE}:web/proxy"
    try:
        samples = up_samples(client.get(proxy + "/api/v1/query", {"query": f'up{{namespace="{namespace}"}}'}))
        if not all(s["up"] for s in samples):
            samples = with_errors(samples, client.get(proxy + "/api/v1/targets", {"state": "active"}))
    except errors.Forbidden:
        return Unreadable(
            f"no permission to ask {instance} through the API server (get services/proxy in {instance.namespace})"
        )
    except errors.NotFound:
        return Unreadable(f"{instance} has no Service {prom.OPERATED_SERVICE} to ask (is the operator running?)")
    except errors.APIError as exc:  # 503 "no endpoints available": no Prometheus Pod is ready
        return Unreadable(f"{instance} did not answer through the API server: {exc.message}")
    except errors.ClusterError as exc:
        return Unreadable(f"{instance} did not answer through the API server: {exc}")
    return samples
