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

from metallb_plugin import cluster, defaults, errors, output
from metallb_plugin.commands import add_timeout
from metallb_plugin.core import explain as explainer
from metallb_plugin.core import releases, status
from metallb_plugin.core.checks import FAIL
from metallb_plugin.core.objects import name
from metallb_plugin.core.view import (
    CLUSTER_SOURCES,
    METALLB_KINDS,
    NAMESPACE_SOURCES,
    SERVICE_NAME_LABEL,
    Facts,
    View,
    locate,
)
from metallb_plugin.errors import ExitCode

MAX_SELECTOR_NAMES = 100  # beyond this, EndpointSlices are listed whole instead of by a set-based selector


def add_arguments(parser):
    parser.add_argument(
        "--service",
        metavar="NAMESPACE/NAME",
        help="explain one LoadBalancer Service step by step (NAME alone: the context's namespace)",
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait until MetalLB is healthy (or the Service is served), up to --timeout"
    )
    add_timeout(parser, defaults.STATUS_TIMEOUT, "how long --wait waits, like 90s or 5m")


# --------------------------------------------------------------------------------------------- reading


def gather(client, args, target=None):
    """Read what status needs (one LIST per kind, in parallel): the cluster, then MetalLB's namespace once the
    installation is found. target: (namespace, name) of --service, to narrow its events and EndpointSlices."""
    facts = Facts(namespace=args.namespace, namespace_given=args.namespace_given)
    events = "involvedObject.kind=Service"
    if target:
        events += f",involvedObject.namespace={target[0]},involvedObject.name={target[1]}"
    cluster.read_snapshot(client, CLUSTER_SOURCES, facts, {"service_events": events})
    served = frozenset(k for k in METALLB_KINDS if facts.objects.get(k) is not None)
    facts.metallb_served = served or None
    locate(facts)
    webhook = facts.installation.webhook_service if facts.installation else releases.WEBHOOK_NAMES[0]
    if target:
        names = {target[1], webhook}
    else:
        names = {webhook} | {
            name(s) for s in facts.listed("services") if (s.get("spec") or {}).get("type") == "LoadBalancer"
        }
    slices = f"{SERVICE_NAME_LABEL} in ({','.join(sorted(names))})" if len(names) <= MAX_SELECTOR_NAMES else ""
    cluster.read_snapshot(client, NAMESPACE_SOURCES, facts, {"slice_selector": slices})
    return facts


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


def _overview(ctx, client, args):
    facts = gather(client, args)
    facts.now = ctx.now()
    report = status.evaluate(facts)
    return report, report.healthy, report.to_document()


def _service(ctx, client, args, target):
    facts = gather(client, args, target)
    facts.now = ctx.now()
    service = next(
        (
            s
            for s in facts.listed("services")
            if (s.get("metadata") or {}).get("namespace") == target[0]
            and (s.get("metadata") or {}).get("name") == target[1]
        ),
        None,
    )
    if service is None:
        if not facts.readable("services"):
            raise errors.PluginError(f"cannot read Services: {facts.reason('services')}")
        raise errors.PluginError(f"Service {target[0]}/{target[1]} not found")
    explanation = explainer.explain(View(facts), service)
    return explanation, explanation.ok, explanation.to_document()


def run(args, ctx):
    client = ctx.connect(args)
    style = ctx.style(args.no_color)
    if args.service:
        target = _target(args, client)
        evaluate = lambda: _service(ctx, client, args, target)
        text = lambda result: _explain_text(result, style)
        what = f"Service {target[0]}/{target[1]} to be served"
    else:
        evaluate = lambda: _overview(ctx, client, args)
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
