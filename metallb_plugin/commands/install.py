"""Install or upgrade a pinned MetalLB release, verified by checksum, and wait until it serves.

The manifest is MetalLB's own release file (native, FRR or FRR-K8s mode; optionally the Prometheus variant),
downloaded over HTTPS from the release tag and checked against the sha256 pinned in this plugin before anything is
applied. Objects are applied with server-side apply (field manager kubectl-metallb) in dependency order: the
Namespace, the CRDs (then waiting until they are Established), RBAC, configuration, Services, workloads and the
webhook configuration last. Running it again changes nothing; a newer --version upgrades (from -> to is shown).

By default install waits until MetalLB serves: the controller Deployment is available, the speaker DaemonSet is
ready on every node, and the webhook Service has ready endpoints. Creating address pools right after install
(`kubectl metallb pools create ...`) is therefore safe: the webhook that validates them already answers.

examples:
  kubectl metallb install                                  # newest known release, native mode
  kubectl metallb install --version v0.15.3 --mode frr-k8s
  kubectl metallb install --dry-run                        # what would change, checked by the API server
  kubectl metallb install --print > metallb.yaml           # the exact YAML, for GitOps; no cluster needed
  kubectl metallb install --manifest ./metallb-native.yaml --sha256 <hex> --image-registry registry.local/metallb
  kubectl metallb install --prometheus --prometheus-service-account observability/kps-prometheus \
      --servicemonitor-label release=kps    # fitted to a Prometheus that runs as that account, selects that label
"""

from metallb_plugin import defaults, errors, output
from metallb_plugin.commands import add_prometheus_fit, add_timeout, prometheus_fit, read_manifest
from metallb_plugin.download import download
from metallb_plugin.errors import ExitCode
from metallb_plugin.provenance import show_provenance


def add_arguments(parser):
    from metallb_plugin.core import releases

    source = parser.add_argument_group("what to install")
    source.add_argument(
        "--version",
        dest="release",
        metavar="vX.Y.Z",
        help=f"MetalLB release (default {releases.DEFAULT_TAG}, the newest known)",
    )
    source.add_argument(
        "--mode",
        choices=releases.MODES,
        default=None,
        help="BGP implementation: native (default), frr (deprecated upstream since v0.16), frr-k8s",
    )
    add_prometheus_fit(source, "the variant with ServiceMonitors (needs the Prometheus operator)")
    source.add_argument("--list-versions", action="store_true", help="list the releases this plugin knows and exit")
    source.add_argument(
        "--manifest",
        metavar="PATH|URL",
        help="install this manifest instead (air-gapped or mirrored setups; - reads stdin)",
    )
    source.add_argument("--sha256", metavar="HEX", help="expected sha256 of --manifest (strongly recommended)")
    source.add_argument("--insecure", action="store_true", help="allow a plain http:// --manifest URL")
    source.add_argument(
        "--image-registry",
        metavar="HOST/PATH",
        help="pull the images (MetalLB, FRR, kube-rbac-proxy) from this registry (HOST/PATH/controller:TAG, ...)",
    )
    how = parser.add_argument_group("how")
    how.add_argument(
        "--dry-run",
        action="store_true",
        help="server-side dry run of every object: show created / changed / unchanged, change nothing",
    )
    how.add_argument(
        "--print",
        dest="print_yaml",
        action="store_true",
        help="write the final YAML to stdout and exit; the cluster is not contacted",
    )
    how.add_argument(
        "--wait", dest="wait", action="store_true", default=True, help="wait until MetalLB serves (default)"
    )
    how.add_argument("--no-wait", dest="wait", action="store_false", help="return once everything is applied")
    add_timeout(how, defaults.INSTALL_TIMEOUT, "how long to wait")
    how.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask for confirmation (the plan; a Prometheus variant nothing will scrape)",
    )
    how.add_argument(
        "--force", action="store_true", help="allow a downgrade, or a cluster older than the release supports"
    )
    how.add_argument(
        "--force-conflicts",
        action="store_true",
        help="take ownership of fields another field manager set (server-side apply force)",
    )


def run(args, ctx):
    from metallb_plugin.core import manifests, releases
    from metallb_plugin.core.install import prometheus as variant

    if args.list_versions:
        return _list_versions(args, ctx)
    if args.manifest and (args.release or args.mode or args.prometheus):
        raise errors.UsageError(
            "--manifest installs the given file: do not combine it with --version, --mode or --prometheus"
        )
    if args.sha256 and not args.manifest:
        raise errors.UsageError(
            "--sha256 checks a --manifest; released manifests are checked against the digests pinned in this plugin"
        )
    if args.print_yaml and args.dry_run:
        raise errors.UsageError("--print and --dry-run do not go together: --print never contacts the cluster")
    account, monitor_labels = prometheus_fit(args)

    data, source, expected = _load_source(args, ctx)
    try:
        digest = manifests.verify_sha256(data, expected, source) if expected else manifests.sha256_hex(data)
        manifest = manifests.prepare(data, registry=args.image_registry, source=source)
        fitted = variant.fit(manifest, account, monitor_labels)
    except manifests.ManifestError as exc:
        raise errors.PluginError(str(exc), exit_code=ExitCode.USAGE if args.manifest else ExitCode.FAILED) from None
    if args.namespace_given and args.namespace != manifest.namespace:
        raise errors.UsageError(
            f"MetalLB's manifests install into namespace {manifest.namespace}; installing into "
            f"{args.namespace} (-n) is not supported (the Helm chart can do that)"
        )
    known = releases.known_digest(digest)
    if not expected:
        note = f" (it is MetalLB's {known[0]} {known[1]})" if known else ""
        ctx.say(f"warning: no --sha256 given: the manifest's sha256 is {digest}{note}; pass --sha256 to verify it")
    origin = None if known else show_provenance(ctx, data, manifest)
    for line in [f"image {old} -> {new}" for old, new in sorted(manifest.images.items())] + fitted:
        _verbose(ctx, args, line)

    if args.print_yaml:
        if args.output == "json":  # as kubectl prints several objects: one List
            ctx.emit({"apiVersion": "v1", "kind": "List", "items": manifest.objects}, "json", str)
        else:
            ctx.out(manifests.render(manifest.objects))
        ctx.say(
            f"printed {len(manifest.objects)} objects of MetalLB {manifest.version} ({manifest.mode}); "
            "nothing was applied"
        )
        return ExitCode.OK

    from metallb_plugin.installer import Installer  # the client stack: only when the cluster is contacted

    client = ctx.connect(args)
    if any(o["kind"] == "ServiceMonitor" for o in manifest.objects):
        from metallb_plugin.monitoring import review_install

        review_install(ctx, client, args, manifest, monitor_labels)
    return Installer(ctx, client, args, manifest, source, digest, origin).run()


# ------------------------------------------------------------------------------------------- versions


def _list_versions(args, ctx):
    from metallb_plugin.core import releases

    def text(doc):
        rows = [
            [r["version"] + (" (default)" if r["default"] else ""), ",".join(r["modes"]),
             ",".join(r["prometheusModes"]) or "-", r["minKubernetes"] or "-"]
            for r in doc["releases"]
        ]  # fmt: skip
        return output.table(rows, ["version", "modes", "prometheus", "min kubernetes"])

    ctx.emit({"releases": releases.catalogue()}, args.output, text)
    return ExitCode.OK


# ------------------------------------------------------------------------------------------- source


def _verbose(ctx, args, message):
    if args.verbose:
        ctx.say(message)


def _load_source(args, ctx):
    """(bytes, source label, expected sha256 or None)."""
    from metallb_plugin.core import manifests, releases

    if args.manifest:
        expected = None
        if args.sha256:
            try:
                expected = manifests.normalize_digest(args.sha256)
            except manifests.ManifestError as exc:
                raise errors.UsageError(str(exc)) from None
        target = args.manifest
        if target.startswith(("https://", "http://")):
            return download(target, ctx, allow_http=args.insecure, timeout=args.request_timeout), target, expected
        if "://" in target:
            raise errors.UsageError(
                f"--manifest {target}: only https:// (or http:// with --insecure) URLs and local files are supported"
            )
        return read_manifest(target, ctx), target, expected
    try:
        art = releases.artifact(args.release, args.mode or "native", args.prometheus)
    except releases.ReleaseError as exc:
        raise errors.UsageError(str(exc)) from None
    _verbose(ctx, args, f"MetalLB {art.tag} ({art.file}) from {art.url}")
    return download(art.url, ctx, allow_http=args.insecure, timeout=args.request_timeout), art.url, art.sha256
