"""Check that a cluster is ready for MetalLB, before installing it.

Reads the cluster (one LIST per kind of object, nothing is changed), then reports every check grouped by
category: √ passed, ‼ warning, × failed, - skipped (with the reason, e.g. a kind you may not read). A hint under
each warning or failure says what to run or where to read more.

examples:
  kubectl metallb preflight
  kubectl metallb preflight --mode bgp --addresses 192.168.10.0/24,fc00:10::/120
  kubectl metallb preflight --version v0.15.3 --manifest metallb-native.yaml -o json
  kubectl metallb preflight --prometheus --servicemonitor-label release=kps

exit codes: 0 nothing failed (warnings allowed), 1 a check failed, 2 bad flags or input, 3 cluster unreachable.
"""

from metallb_plugin import cluster, errors, monitoring, output, reading, writes
from metallb_plugin.commands import add_prometheus_fit, read_manifest
from metallb_plugin.core import checks as checklib
from metallb_plugin.core import ipam, manifests, releases
from metallb_plugin.core import preflight as core
from metallb_plugin.core.preflight import addresses as planned
from metallb_plugin.core.preflight import permissions
from metallb_plugin.core.snapshot import Unreadable
from metallb_plugin.core.text import echo
from metallb_plugin.errors import ExitCode


def add_arguments(parser):
    parser.add_argument(
        "--mode", choices=(core.L2, core.BGP), default=core.L2, help="how MetalLB will announce addresses (default l2)"
    )
    parser.add_argument(
        "--addresses",
        action="append",
        metavar="RANGE[,RANGE...]",
        help="planned pool addresses to check: CIDRs or START-END ranges, IPv4 or IPv6 (comma-separated or repeated)",
    )
    parser.add_argument(
        "--version",
        dest="release",
        metavar="VERSION",
        help=f"the MetalLB release to check for (default {releases.DEFAULT_TAG})",
    )
    parser.add_argument(
        "--skip-check",
        action="append",
        default=[],
        metavar="ID",
        help="do not run this check (repeatable; ids as in -o json, e.g. strict-arp)",
    )
    parser.add_argument(
        "--manifest",
        metavar="FILE",
        help="a local copy of the release manifest: dry-run its cluster-scoped objects on the "
        "server (admission, schemas, permissions) and take its permissions list",
    )
    add_prometheus_fit(parser, "check for the Prometheus variant: will a Prometheus scrape MetalLB?")


def _options(args, ctx):
    """Everything that can be wrong with the flags, found before contacting the cluster (exit 2)."""
    unknown = sorted(set(args.skip_check) - set(core.CHECK_IDS))
    if unknown:
        raise errors.UsageError(
            f"--skip-check {', '.join(echo(u) for u in unknown)}: no such check; the checks are "
            f"{', '.join(core.CHECK_IDS)}"
        )
    facts = core.Facts(namespace=args.namespace, mode=args.mode)
    if args.addresses:
        try:
            facts.addresses = planned.parse_addresses(args.addresses)
        except ipam.AddressError as exc:
            raise errors.UsageError(f"--addresses: {exc}") from None
    if args.release:
        try:
            facts.tag = releases.normalize_tag(args.release)
        except ValueError as exc:
            raise errors.UsageError(f"--version: {exc}") from None
        if facts.tag not in releases.RELEASES:
            raise errors.UsageError(
                f"--version: unknown MetalLB release {facts.tag}; known releases are "
                f"{releases.TAGS[0]} .. {releases.TAGS[-1]}"
            )
    manifest = None
    if args.manifest:
        manifest = _load_manifest(args.manifest, ctx)
        known = manifest[1].release
        if known and args.release and known[0] != facts.tag:
            raise errors.UsageError(
                f"--manifest {args.manifest} is MetalLB {known[0]}'s {known[1]}, but --version "
                f"is {facts.tag}: pass the manifest of {facts.tag}, or drop --version"
            )
        if known and not args.release:
            facts.tag = known[0]
    facts.prometheus = monitoring.preflight_plan(args, facts.namespace, manifest[0] if manifest else None)
    return facts, manifest


def _load_manifest(path, ctx):
    data = read_manifest(path, ctx)
    try:
        objects = manifests.parse(data, source=path)
    except manifests.ManifestError as exc:
        raise errors.UsageError(f"--manifest: {exc}") from None
    unknown = sorted({o["kind"] for o in objects if o["kind"] not in manifests.KINDS})
    if unknown:
        raise errors.UsageError(f"--manifest {path} is not a MetalLB manifest: it contains {', '.join(unknown)}")
    digest = manifests.sha256_hex(data)
    return objects, core.ManifestCheck(path=path, release=releases.known_digest(digest), sha256=digest)


def run(args, ctx):
    facts, manifest = _options(args, ctx)
    client = ctx.connect(args)
    progress = ctx.progress() if ctx.stderr_tty else None
    try:
        facts.server = client.server_version()
    except errors.PluginError as exc:
        if exc.exit_code != ExitCode.CLUSTER:
            raise
        facts.server_error = str(exc)  # the API check fails with it; being fatal, nothing after it runs
        _emit(args, ctx, client, facts, core.evaluate(facts, args.skip_check))
        return ExitCode.CLUSTER
    reading.read_snapshot(client, core.SOURCES, facts, progress=progress)
    facts.permissions = review_permissions(client, facts, manifest[0] if manifest else None, progress)
    if manifest:
        facts.manifest = dry_run(client, *manifest, progress=progress)
    monitoring.discover(client, facts, progress)  # with --prometheus (or a --manifest with ServiceMonitors)
    if progress:
        progress.done()
    outcomes = core.evaluate(facts, args.skip_check)
    _emit(args, ctx, client, facts, outcomes)
    return ExitCode.OK if checklib.succeeded(outcomes) else ExitCode.FAILED


# --------------------------------------------------------------------------------------------- reading


def review_permissions(client, facts, objects=None, progress=None):
    """[(Access, allowed, reason)] for everything install needs (from the manifest's kinds when given)."""
    resources = permissions.INSTALL_RESOURCES
    if objects:
        resources = tuple(
            dict.fromkeys(
                (manifests.group_of(o), manifests.KINDS[o["kind"]][1], manifests.KINDS[o["kind"]][2]) for o in objects
            )
        )
    needs = permissions.needed_access(facts.namespace, resources, facts.mode, pools=facts.addresses is not None)
    if progress:
        progress.update(f"checking {len(needs)} permissions...")
    try:
        answers = writes.review(client, needs)
    except errors.Forbidden:
        return Unreadable("no permission to create SelfSubjectAccessReviews")
    return [(access, allowed, reason) for access, (allowed, reason) in zip(needs, answers)]


def dry_run(client, objects, check, progress=None):
    """Server-side dry-run apply of the manifest's cluster-scoped objects (admission, schemas, RBAC)."""
    scoped = [o for o in objects if not manifests.KINDS[o["kind"]][2]]
    if progress:
        progress.update(f"dry-running {len(scoped)} cluster-scoped objects...")
    for obj in scoped:
        path = cluster.api_path(obj["apiVersion"], manifests.KINDS[obj["kind"]][1], None, obj["metadata"]["name"])
        try:
            client.apply(path, obj, force=True, dry_run=True)
        except errors.APIError as exc:
            check.errors.append(f"{manifests.describe(obj)}: {exc.message}")
        check.tried += 1
    return check


# --------------------------------------------------------------------------------------------- output


def document(client, facts, outcomes):
    return {
        "context": client.target.context,
        "server": client.target.server,
        "namespace": facts.namespace,
        "mode": facts.mode,
        "metallbVersion": facts.tag,
        "kubernetesVersion": (facts.server or {}).get("gitVersion"),
        **checklib.to_document(outcomes),
    }


def _emit(args, ctx, client, facts, outcomes):
    style = ctx.style(args.no_color)

    def text(doc):
        mode = "L2" if facts.mode == core.L2 else "BGP"
        header = (
            f'Checking context "{doc["context"]}" ({doc["server"]}) for MetalLB {facts.tag} in {mode} mode, '
            f"namespace {facts.namespace}"
        )
        return f"{style.bold(header)}\n\n{output.render_checks(outcomes, style)}"

    ctx.emit(document(client, facts, outcomes), args.output, text)
