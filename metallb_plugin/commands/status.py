"""Is MetalLB healthy and doing its job? And why is this Service <pending>?

kubectl metallb status [--wait [--timeout 5m]] [-o table|json|yaml]
    The MetalLB install (where, how, which release, BGP backend, renamed or left-over objects), its components
    (controller, speakers per node, frr-k8s, restarts, Pods not ready and why), the webhook and its Secrets, the
    configuration (pools, advertisements, peers, ConfigurationState), and every LoadBalancer Service: its address
    and pool and the node announcing it, or why it is pending. Ends with a verdict.

kubectl metallb status --service NAMESPACE/NAME
    One Service, step by step: type and class, what it requests, which pools could serve it, its events, its
    endpoints, externalTrafficPolicy, the advertisements covering its pool and the nodes allowed to announce it,
    ending with the most likely cause and the fix. NAME alone uses the kubeconfig context's namespace.

MetalLB's namespace is the one it is found in (any namespace, manifest or Helm labels), or -n when given.

exit codes: 0 healthy (warnings allowed), 1 degraded (or the Service has a problem), 3 cluster unreachable,
4 --wait timed out (the last report is printed).
"""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

from metallb_plugin import cluster, defaults, errors, output
from metallb_plugin.commands import duration
from metallb_plugin.core import explain as explainer
from metallb_plugin.core import releases, status
from metallb_plugin.core.checks import FAIL
from metallb_plugin.core.view import METALLB_KINDS, SERVICE_NAME_LABEL, Facts, View, locate
from metallb_plugin.errors import ExitCode

MAX_SELECTOR_NAMES = 100  # beyond this, EndpointSlices are listed whole instead of by a set-based selector
REQUIRED = ("deployments", "daemonsets")


def add_arguments(parser):
    parser.add_argument(
        "--service",
        metavar="NAMESPACE/NAME",
        help="explain one LoadBalancer Service step by step (NAME alone: the context's namespace)",
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait until MetalLB is healthy (or the Service is served), up to --timeout"
    )
    parser.add_argument(
        "--timeout",
        default=defaults.STATUS_TIMEOUT,
        type=duration,
        metavar="DURATION",
        help="how long --wait waits, like 90s or 5m (default 5m)",
    )


# --------------------------------------------------------------------------------------------- gathering

_CLUSTER_PATHS = {
    "deployments": "/apis/apps/v1/deployments",
    "daemonsets": "/apis/apps/v1/daemonsets",
    "services": "/api/v1/services",
    "nodes": "/api/v1/nodes",
    "namespaces": "/api/v1/namespaces",
    "validatingwebhookconfigurations": "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
}


def _secret_keys(items):
    """Secrets reduced to their names and key names right away: no secret value is kept or printed."""
    return [
        {"name": (s.get("metadata") or {}).get("name", ""), "keys": sorted((s.get("data") or {}).keys())} for s in items
    ]


class Gatherer:
    """Reads what `status` needs: one LIST per kind (raw JSON), run in parallel, in two rounds."""

    def __init__(self, client, args, target=None):
        self.client = client
        self.args = args
        self.target = target  # (namespace, name) for --service, to narrow its events and EndpointSlices

    def _list(self, kind, path, **selectors):
        """(kind, items, None) or (kind, None, reason); cluster-level failures are raised."""
        try:
            return kind, self.client.list(path, **selectors), None
        except (errors.ClusterError, errors.Unauthorized):
            raise
        except errors.Forbidden as exc:
            if kind in REQUIRED:
                raise
            return kind, None, str(exc)
        except errors.APIError as exc:
            if kind in REQUIRED:
                raise
            return kind, None, exc
        # anything else is a bug and propagates

    def _run(self, jobs):
        with ThreadPoolExecutor(max_workers=min(defaults.READ_WORKERS, len(jobs))) as pool:
            futures = [pool.submit(self._list, *job[:2], **job[2]) for job in jobs]
            return [f.result() for f in futures]

    def _metallb_jobs(self):
        jobs = []
        for kind in METALLB_KINDS:
            version = "v1beta2" if kind == "bgppeers" else "v1beta1"
            jobs.append((kind, cluster.api_path(f"metallb.io/{version}", kind), {}))
        return jobs

    def gather(self):
        facts = Facts(namespace=self.args.namespace, namespace_given=self.args.namespace_given)
        events_selector = "involvedObject.kind=Service"
        if self.target:
            events_selector += f",involvedObject.namespace={self.target[0]},involvedObject.name={self.target[1]}"
        first = [(k, p, {}) for k, p in _CLUSTER_PATHS.items()]
        first.append(("serviceEvents", "/api/v1/events", {"field_selector": events_selector}))
        first += self._metallb_jobs()
        results = self._run(first)
        served = set()
        for kind, items, problem in results:
            if kind == "bgppeers" and isinstance(problem, errors.NotFound):  # older CRDs: only v1beta1
                kind, items, problem = self._list(kind, cluster.api_path(defaults.V1BETA1, "bgppeers"))
            self._keep(facts, kind, items, problem)
            if kind in METALLB_KINDS and not isinstance(problem, errors.NotFound):
                served.add(kind)
        facts.served = frozenset(served) if served else None

        locate(facts)
        self._second_round(facts)
        return facts

    def _second_round(self, facts):
        ns = facts.namespace
        webhook = facts.installation.webhook_service if facts.installation else releases.WEBHOOK_NAMES[0]
        if self.target:
            names = {self.target[1], webhook}
        else:
            names = {webhook} | {
                (s.get("metadata") or {}).get("name", "")
                for s in facts.objects.get("services") or []
                if (s.get("spec") or {}).get("type") == "LoadBalancer"
            }
        slices = {}
        if len(names) <= MAX_SELECTOR_NAMES:
            slices["label_selector"] = f"{SERVICE_NAME_LABEL} in ({','.join(sorted(names))})"
        jobs = [
            ("pods", cluster.api_path("v1", "pods", ns), {}),
            ("events", cluster.api_path("v1", "events", ns), {}),
            ("secrets", cluster.api_path("v1", "secrets", ns), {}),
            ("configmaps", cluster.api_path("v1", "configmaps", ns), {"field_selector": "metadata.name=config"}),
            ("endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", slices),
        ]
        for kind, items, problem in self._run(jobs):
            if kind == "secrets" and items is not None:
                items = _secret_keys(items)
            self._keep(facts, kind, items, problem)

    @staticmethod
    def _keep(facts, kind, items, problem):
        if problem is None:
            facts.objects[kind] = items
            return
        facts.objects[kind] = []
        if isinstance(problem, errors.NotFound) and kind in METALLB_KINDS:
            return  # not served by this MetalLB release: checks say so from Facts.served
        facts.unreadable[kind] = problem if isinstance(problem, str) else str(problem)


# --------------------------------------------------------------------------------------------- rendering

_INFO = "-"


def _headline(doc):
    install = doc["installation"]
    if not install:
        return f"MetalLB: not found (namespace {doc['namespace']})"
    how = {"helm": f"Helm release {install.get('helm_release') or '?'}", "operator": "metallb-operator"}.get(
        install["managed_by"], "manifest"
    )
    return (
        f"MetalLB {install['version'] or '(untagged)'} in {install['namespace']} ({how}, "
        f"{install['backend']} BGP backend)"
    )


def _shown(outcome):
    """A passed check reads better as what was found ("controller Deployment controller: 1/1 available")."""
    if outcome.result.status in ("ok", "skip") and outcome.result.message:
        check = dataclasses.replace(outcome.check, description=outcome.result.message)
        if outcome.result.status == "ok":
            return dataclasses.replace(outcome, check=check)
    return outcome


def _overview_text(report, style):
    doc = report.to_document()
    checks = output.render_checks([_shown(o) for o in report.outcomes], style).rstrip("\n").split("\n")
    lines = [_headline(doc), ""] + checks[:-1]  # render_checks' own verdict line: ours below says more
    rows = []
    for state in report.services:
        announced = ", ".join(f"{a.node} ({a.protocol})" for a in state.announced_by)
        detail = announced or state.reason
        if announced and state.reason:
            detail += f"; {state.reason}"
        pool = (state.pool or "-") + ("*" if state.pool_inferred else "")
        rows.append([state.namespace, state.name, state.state, ",".join(state.ips) or "-", pool, detail or "-"])
    title = "LoadBalancer Services"
    lines += [title, "-" * len(title)]
    if rows:
        lines.append(output.table(rows, ["namespace", "name", "state", "addresses", "pool", "announced by / reason"]))
        if any(s.pool_inferred for s in report.services):
            lines.append("* pool found from the address (no metallb.io/ip-allocated-from-pool annotation)")
    else:
        lines.append("none")
    lines.append("")
    colour = style.green if report.healthy else style.red
    lines.append(colour(report.summary()))
    return "\n".join(lines) + "\n"


def _explain_text(explanation, style):
    symbols = {**output.SYMBOLS, explainer.INFO: _INFO}
    colours = {"ok": style.green, "warn": style.yellow, "fail": style.red, "skip": style.dim, explainer.INFO: style.dim}
    lines = [f"Service {explanation.service}", ""]
    for number, step in enumerate(explanation.steps, 1):
        lines.append(f"{number:>2}. {colours[step.status](symbols[step.status])} {step.title}")
        lines += [f"      {line}" for line in step.lines]
    lines += ["", f"Most likely cause: {explanation.cause}", f"Fix: {explanation.fix}"]
    return "\n".join(lines) + "\n"


def _progress_line(result, what, waited_seconds, live):
    """What --wait is waiting for; the elapsed time only on a terminal, so a log gets a line per change."""
    if isinstance(result, status.Report):
        left = "; ".join(o.result.message for o in result.outcomes if o.result.status == FAIL)
    else:
        left = result.cause
    waited = f" ({int(waited_seconds)}s)" if live else ""
    return f"waiting for {what}{waited}: {left}"


# --------------------------------------------------------------------------------------------- run


def _target(args, client):
    text = args.service.strip()
    if "/" in text:
        namespace, _, name = text.partition("/")
    else:
        namespace, name = client.target.namespace or "default", text
    if not namespace or not name or "/" in name:
        raise errors.UsageError(f"--service {args.service}: use NAMESPACE/NAME, like --service default/web")
    return namespace, name


def _overview(client, args):
    facts = Gatherer(client, args).gather()
    report = status.evaluate(facts)
    return report, report.healthy, report.to_document()


def _service(client, args, target):
    facts = Gatherer(client, args, target).gather()
    service = next(
        (
            s
            for s in facts.objects.get("services") or []
            if (s.get("metadata") or {}).get("namespace") == target[0]
            and (s.get("metadata") or {}).get("name") == target[1]
        ),
        None,
    )
    if service is None:
        if "services" in facts.unreadable:
            raise errors.PluginError(f"cannot read Services: {facts.unreadable['services']}")
        raise errors.PluginError(f"Service {target[0]}/{target[1]} not found")
    explanation = explainer.explain(View(facts), service)
    return explanation, explanation.ok, explanation.to_document()


def run(args, ctx):
    client = ctx.connect(args)
    style = ctx.style(args.no_color)
    if args.service:
        target = _target(args, client)
        evaluate = lambda: _service(client, args, target)
        text = lambda result: _explain_text(result, style)
        what = f"Service {target[0]}/{target[1]} to be served"
    else:
        evaluate = lambda: _overview(client, args)
        text = lambda result: _overview_text(result, style)
        what = "MetalLB to become healthy"
    result, good, doc = evaluate()
    if args.wait and not good:
        result, good, doc = _wait(ctx, evaluate, args, result, good, doc, what)
    ctx.emit(doc, args.output, lambda _: text(result))
    if args.wait and not good:
        raise errors.WaitTimeout(f"timed out after {args.timeout:g}s waiting for {what} (the last report is above)")
    return ExitCode.OK if good else ExitCode.FAILED


def _wait(ctx, evaluate, args, result, good, doc, what):
    started = ctx.monotonic()
    deadline = started + args.timeout
    progress = ctx.progress()
    while not good:
        progress.update(_progress_line(result, what, ctx.monotonic() - started, progress.live))
        remaining = deadline - ctx.monotonic()
        if remaining <= 0:
            break
        ctx.sleep(min(defaults.POLL_SECONDS, remaining))
        try:
            result, good, doc = evaluate()
        except errors.ClusterError as exc:  # a blip while waiting: keep the last report, try again
            progress.update(f"waiting for {what}: {exc}")
    progress.done()
    return result, good, doc
