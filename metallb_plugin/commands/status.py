"""Is MetalLB healthy and doing its job? And why is this Service <pending>?

kubectl metallb status [--wait [--timeout 5m]] [-o table|json|yaml]
    The MetalLB install (where, how, which release, BGP backend, renamed or left-over objects), its components
    (controller, speakers per node, frr-k8s, restarts, Pods not ready and why), the webhook and its Secrets, the
    configuration (pools, advertisements, peers, ConfigurationState), and every LoadBalancer Service: its address
    and pool and the node announcing it, or why it is pending. Ends with a verdict.

kubectl metallb status --bgp
    BGP only: the BGPPeers, the session of each peer on each node (BGP and BFD state from frr-k8s'
    BGPSessionState; with the native or FRR backend, which publish none, from the last lines of each speaker's
    log), FRR's configuration results per node (FRRNodeState) and the Services advertised over BGP
    (ServiceBGPStatus). Exit code 1 when a session of a BGPPeer is down.

kubectl metallb status --service NAMESPACE/NAME
    One Service, step by step: type and class, what it requests, which pools could serve it, its events, its
    endpoints, externalTrafficPolicy, the advertisements covering its pool, the nodes that may announce it in
    MetalLB's order (the winner marked) and the analyzer's findings about it, ending with the most likely cause
    and the fix. NAME alone uses the kubeconfig context's namespace.

kubectl metallb status [--service NAMESPACE/NAME] --simulate-drain NODE [--simulate-drain NODE ...]
    Who would announce each Service (or that one) if those nodes were gone, and which Services would lose their
    announcement. Nothing is changed.

MetalLB's namespace is the one it is found in (any namespace, manifest or Helm labels), or -n when given.

exit codes: 0 healthy (warnings allowed), 1 degraded or unknown (or the Service has a problem, or with --bgp: a BGP
check failed), 3 cluster unreachable, 4 --wait timed out (the last report is printed).
"""

import gc

from metallb_plugin import defaults, errors, podlogs, reading, status_text
from metallb_plugin.commands import add_timeout
from metallb_plugin.core import explain as explainer
from metallb_plugin.core import objects as k8s
from metallb_plugin.core import releases, status
from metallb_plugin.core.endpoints import SERVICE_NAME_LABEL
from metallb_plugin.core.objects import name
from metallb_plugin.core.text import echo
from metallb_plugin.core.view import (
    CLUSTER_SOURCES,
    METALLB_KINDS,
    NAMESPACE_SOURCES,
    Facts,
    View,
    locate,
)
from metallb_plugin.errors import ExitCode

MAX_SELECTOR_NAMES = 100  # beyond this, EndpointSlices are listed whole instead of by a set-based selector


def add_arguments(parser):
    parser.add_argument(
        "--bgp", action="store_true", help="BGP only: peers, sessions per node, FRR per node, Services over BGP"
    )
    parser.add_argument(
        "--service",
        metavar="NAMESPACE/NAME",
        help="explain one LoadBalancer Service step by step (NAME alone: the context's namespace)",
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait until MetalLB is healthy (or the Service is served), up to --timeout"
    )
    add_timeout(parser, defaults.STATUS_TIMEOUT, "how long --wait waits, like 90s or 5m")
    parser.add_argument(
        "--simulate-drain",
        action="append",
        default=[],
        metavar="NODE",
        help="show who would announce each Service if this node were gone (repeatable; nothing is changed)",
    )


# --------------------------------------------------------------------------------------------- reading


def gather(client, args, target=None):
    """Read what status needs (one LIST per kind, in parallel): the cluster, then MetalLB's namespace once the
    installation is found. target: (namespace, name) of --service, to narrow its events and EndpointSlices."""
    facts = Facts(namespace=args.namespace, namespace_given=args.namespace_given)
    events = "involvedObject.kind=Service"
    if target:
        events += f",involvedObject.namespace={target[0]},involvedObject.name={target[1]}"
    reading.read_snapshot(client, CLUSTER_SOURCES, facts, {"service_events": events})
    served = frozenset(k for k in METALLB_KINDS if facts.objects.get(k) is not None)
    facts.metallb_served = served or None
    locate(facts)
    webhook = facts.installation.webhook_service if facts.installation else releases.WEBHOOK_NAMES[0]
    if target:
        names = {target[1], webhook}
    else:
        names = {webhook} | {name(s) for s in facts.listed("services") if k8s.is_load_balancer(s)}
    slices = f"{SERVICE_NAME_LABEL} in ({','.join(sorted(names))})" if len(names) <= MAX_SELECTOR_NAMES else ""
    reading.read_snapshot(client, NAMESPACE_SOURCES, facts, {"slice_selector": slices})
    if not target:
        from metallb_plugin.monitoring import gather_status  # only reads for a Prometheus variant

        gather_status(client, facts)
    return facts


# --------------------------------------------------------------------------------------------- run


def _target(args, client):
    text = args.service.strip()
    if "/" in text:
        namespace, _, name = text.partition("/")
    else:
        namespace, name = client.target.namespace or "default", text
    if not namespace or not name or "/" in name:
        raise errors.UsageError(f"--service {echo(args.service)}: use NAMESPACE/NAME, like --service default/web")
    return namespace, name


def _check_drained(args, facts):
    nodes = {name(n) for n in facts.listed("nodes")}
    unknown = sorted(set(args.simulate_drain) - nodes)
    if unknown:
        raise errors.UsageError(
            f"--simulate-drain {', '.join(unknown)}: no such node (nodes: {k8s.listing(sorted(nodes), 10) or 'none'})"
        )


def _warn_once(ctx, facts, shown):
    """What could be read in MetalLB's namespace only (a user limited to it), once even when --wait repeats."""
    if facts.narrowed and not shown:
        shown.add(True)
        ctx.warn(
            f"no permission to list {', '.join(sorted(facts.narrowed))} in all namespaces: read namespace "
            f"{facts.namespace} only"
        )


def _overview(ctx, client, args, shown):
    report = _judge(ctx, client, args, shown)
    # what was read and judged is garbage now, but the View and the analysis made of it point at each other:
    # collected here, the table reuses their memory (tens of MB for 20,000 Services) instead of adding to it
    gc.collect()
    if args.bgp:
        return report, report.bgp_healthy, report.bgp_document
    return report, report.healthy, report.to_document


def _judge(ctx, client, args, shown):
    facts = gather(client, args)
    facts.now = ctx.now()
    _warn_once(ctx, facts, shown)
    _check_drained(args, facts)
    if args.bgp:
        podlogs.read_speaker_sessions(client, facts)
    return status.evaluate(facts, drained=args.simulate_drain)


def _service(ctx, client, args, target, shown):
    facts = gather(client, args, target)
    facts.now = ctx.now()
    _warn_once(ctx, facts, shown)
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
    _check_drained(args, facts)
    explanation = explainer.explain(View(facts), service, drained=args.simulate_drain)
    return explanation, explanation.ok, explanation.to_document


def run(args, ctx):
    if args.bgp and args.service:
        raise errors.UsageError("--bgp and --service show different views: use one of them")
    client = ctx.connect(args)
    style = ctx.style(args.no_color)
    shown = set()
    if args.service:
        target = _target(args, client)
        evaluate = lambda: _service(ctx, client, args, target, shown)
        text = lambda result: status_text.explain_text(result, style)
        what = f"Service {target[0]}/{target[1]} to be served"
    else:
        evaluate = lambda: _overview(ctx, client, args, shown)
        render = status_text.bgp_text if args.bgp else status_text.overview_text
        text = lambda result: render(result, style)
        what = "MetalLB's BGP sessions to be established" if args.bgp else "MetalLB to become healthy"
    result, good, document = evaluate()  # document: made only for -o json|yaml (20,000 Services weigh 15 MB)
    if args.wait and not good:
        result, good, document = _wait(ctx, evaluate, args, result, good, document, what)
    ctx.emit(None if args.output == "table" else document(), args.output, lambda _: text(result))
    if args.wait and not good:
        raise errors.WaitTimeout(f"timed out after {args.timeout:g}s waiting for {what} (the last report is above)")
    return ExitCode.OK if good else ExitCode.FAILED


def _wait(ctx, evaluate, args, result, good, document, what):
    started = ctx.monotonic()
    deadline = started + args.timeout
    progress = ctx.progress()
    while not good:
        progress.update(status_text.progress_line(result, what, ctx.monotonic() - started, progress.live))
        remaining = deadline - ctx.monotonic()
        if remaining <= 0:
            break
        ctx.sleep(min(defaults.POLL_SECONDS, remaining))
        try:
            result, good, document = evaluate()
        except errors.ClusterError as exc:  # a blip while waiting: keep the last report, try again
            progress.update(f"waiting for {what}: {exc}")
    progress.done()
    return result, good, document
