"""List MetalLB's address pools with their capacity and use; create and delete pools with validation; convert a
legacy ConfigMap configuration (MetalLB <= v0.12) into custom resources.

  kubectl metallb pools [list]
  kubectl metallb pools create NAME --addresses 192.168.10.0/24[,192.168.9.1-192.168.9.5] [--l2 | --bgp]
  kubectl metallb pools delete NAME [--yes] [--force]
  kubectl metallb pools migrate [--from-configmap NS/NAME | --file FILE] [--apply]

Pools live in MetalLB's namespace (-n, default metallb-system).
"""

import argparse

from metallb_plugin import cluster, defaults, errors, output
from metallb_plugin.core import objects as k8s
from metallb_plugin.errors import ExitCode

PLURALS = {
    "IPAddressPool": "ipaddresspools",
    "L2Advertisement": "l2advertisements",
    "BGPAdvertisement": "bgpadvertisements",
    "BGPPeer": "bgppeers",
    "BFDProfile": "bfdprofiles",
    "Community": "communities",
}
APPLY_ORDER = ("BFDProfile", "Community", "IPAddressPool", "BGPPeer", "BGPAdvertisement", "L2Advertisement")
WEBHOOK_DOWN = ("failed calling webhook", "failed to call webhook", "conversion webhook")


def add_arguments(parser):
    # kubectl's flags keep working after the nested subcommand; durations parse as for --request-timeout
    from metallb_plugin.cli import global_flags
    from metallb_plugin.commands import add_timeout

    flags = global_flags()
    sub = parser.add_subparsers(dest="pools_command", metavar="COMMAND")

    def command(name, help_text, description):
        return sub.add_parser(
            name,
            parents=[flags],
            help=help_text,
            description=description,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    command(
        "list",
        "pools with size, use and advertisement (the default)",
        "List the IPAddressPools in MetalLB's namespace: addresses, size (honouring avoidBuggyIPs), used and "
        "free addresses, auto-assign, how they are advertised (L2, BGP or none) and the Services using them.",
    )

    create = command(
        "create",
        "create a pool and its advertisement in one step",
        "Create an IPAddressPool and (with --l2 or --bgp) the advertisement that announces it. The "
        "addresses are checked first: syntax, overlap with other pools (refused), and overlap with node "
        "addresses, pod CIDRs and the service CIDR (warnings).",
    )
    create.add_argument("name", metavar="NAME", help="the pool's name (also used for its advertisement)")
    create.add_argument(
        "--addresses",
        required=True,
        action="append",
        metavar="A[,B...]",
        help="CIDRs (192.168.10.0/24) or ranges (192.168.9.1-192.168.9.5), comma-separated; repeatable",
    )
    mode = create.add_mutually_exclusive_group()
    mode.add_argument("--l2", action="store_true", help="announce the pool with an L2Advertisement (ARP/NDP)")
    mode.add_argument("--bgp", action="store_true", help="announce the pool with a BGPAdvertisement")
    create.add_argument("--interfaces", metavar="IF[,IF...]", help="--l2 only: announce from these interfaces")
    create.add_argument(
        "--node-selector",
        action="append",
        default=[],
        metavar="KEY=VALUE[,...]",
        help="announce only from nodes with these labels (repeatable: any selector matches)",
    )
    create.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="PEER[,PEER...]",
        help="--bgp only: announce only to these BGPPeers (default: all)",
    )
    create.add_argument(
        "--no-auto-assign",
        action="store_true",
        help="hand out addresses only when a Service asks for this pool or an address in it",
    )
    create.add_argument("--avoid-buggy-ips", action="store_true", help="never hand out IPv4 .0 and .255 addresses")
    create.add_argument("--priority", type=int, metavar="N", help="serviceAllocation priority (lower is preferred)")
    create.add_argument("--namespaces", metavar="NS[,NS...]", help="only Services in these namespaces use the pool")
    create.add_argument("--dry-run", action="store_true", help="validate with the API server, write nothing")
    add_timeout(create, defaults.POOLS_TIMEOUT, "how long to retry while MetalLB's webhook is not serving yet")

    delete = command(
        "delete",
        "delete a pool (refused while Services use it)",
        "Delete an IPAddressPool and the advertisements that announced only this pool. Refused while "
        "Services hold addresses from it, unless --force.",
    )
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    delete.add_argument("--force", action="store_true", help="delete even though Services use the pool")
    delete.add_argument("--dry-run", action="store_true", help="show what would be deleted, delete nothing")

    migrate = command(
        "migrate",
        "convert a legacy ConfigMap configuration into custom resources",
        "Convert MetalLB's legacy configuration (ConfigMap `config`, MetalLB <= v0.12) into "
        "IPAddressPool, L2Advertisement, BGPAdvertisement, BGPPeer, Community and BFDProfile objects "
        "as MetalLB's own converter does. Prints YAML; --apply applies it with server-side apply.",
    )
    source = migrate.add_mutually_exclusive_group()
    source.add_argument(
        "--from-configmap",
        metavar="[NS/]NAME",
        help="read this ConfigMap from the cluster (default: config in MetalLB's namespace)",
    )
    source.add_argument(
        "--file", "-f", metavar="FILE", help="read a ConfigMap (or its config data) from FILE, - for stdin"
    )
    migrate.add_argument("--apply", action="store_true", help="apply the result to the cluster (server-side apply)")
    add_timeout(migrate, defaults.POOLS_TIMEOUT, "how long to retry while MetalLB's webhook is not serving yet")


def run(args, ctx):
    command = getattr(args, "pools_command", None) or "list"
    return {"list": run_list, "create": run_create, "delete": run_delete, "migrate": run_migrate}[command](args, ctx)


# --------------------------------------------------------------------------------------------- shared


def _path(kind, namespace, name=None):
    api_version = defaults.V1BETA2 if kind == "BGPPeer" else defaults.V1BETA1
    return cluster.api_path(api_version, PLURALS[kind], namespace, name)


def _list_metallb(client, kind, namespace):
    try:
        items = client.list(_path(kind, namespace))
    except errors.NotFound:
        raise errors.PluginError(
            f"the server has no {PLURALS[kind]}.metallb.io: MetalLB's CRDs are not installed "
            "(run kubectl metallb install)"
        ) from None
    for item in items:  # list items of custom resources carry kind, but do not rely on it
        item.setdefault("kind", kind)
    return items


def _list_optional(ctx, client, path, what, verbose):
    """A list that only feeds warnings: None when it cannot be read (no permission, API not served)."""
    try:
        return client.list(path)
    except (errors.Forbidden, errors.NotFound) as exc:
        if verbose:
            ctx.say(f"note: cannot list {what}: {exc}")
        return None


def _webhook_down(exc):
    return (
        isinstance(exc, errors.APIError)
        and not isinstance(exc, (errors.Forbidden, errors.Unauthorized))
        and any(marker in exc.message for marker in WEBHOOK_DOWN)
    )


def _why(message):
    return message.rsplit(": ", 1)[-1].strip() or message


def _rejected(exc, what):
    """A webhook denial is MetalLB refusing the object."""
    if isinstance(exc, errors.Denied):
        detail = exc.message.split("denied the request:", 1)[-1].strip()
        return errors.PluginError(f"MetalLB rejected {what}: {detail}")
    if isinstance(exc, errors.Invalid):
        detail = exc.message
        return errors.PluginError(f"the API server rejected {what}: {detail}")
    return exc


def _write(ctx, action, what, timeout, progress):
    """Run a write; while MetalLB's admission webhook is not serving (right after install), retry with backoff."""
    deadline = ctx.monotonic() + timeout
    delay = 1.0
    while True:
        try:
            result = action()
            progress.done()
            return result
        except errors.PluginError as exc:
            if not _webhook_down(exc):
                progress.done()
                raise _rejected(exc, what) from None
            reason = _why(exc.message)
            # said before any deadline check, so even a short --timeout shows what it waited for
            progress.update(
                f"waiting for MetalLB's admission webhook to serve ({reason}); retrying {what} for up to {timeout:g}s"
            )
            if ctx.monotonic() + delay > deadline:
                progress.done()
                raise errors.WaitTimeout(
                    f"MetalLB's admission webhook did not accept {what} within {timeout:g}s ({reason}). Is the "
                    "controller running? Check with: kubectl metallb status"
                ) from None
            ctx.sleep(delay)
            delay = min(delay * 2, 10.0)


def _ref(obj):
    return f"{obj['kind'].lower()}.metallb.io/{obj['metadata']['name']}"


def _documents(objects, fmt):
    """Objects as -o json (a List) or YAML (one document each)."""
    if fmt == "json":
        return output.dump({"apiVersion": "v1", "kind": "List", "items": objects}, "json")
    return "---\n".join(output.dump(obj, "yaml") for obj in objects)


def _without_managed_fields(obj):
    (obj.get("metadata") or {}).pop("managedFields", None)  # as kubectl hides them
    return obj


def _pool_ranges(pools):
    """{name: ranges} of the pools whose addresses all parse (as MetalLB reads them)."""
    parsed = {}
    for pool in pools:
        ranges, error = k8s.pool_ranges(pool)
        if error is None:
            parsed[k8s.name(pool)] = ranges
    return parsed


# --------------------------------------------------------------------------------------------- list


def run_list(args, ctx):
    from metallb_plugin.core import pools as model

    client = ctx.connect(args)
    ns = args.namespace
    pools = _list_metallb(client, "IPAddressPool", ns)
    advertisements = _list_metallb(client, "L2Advertisement", ns) + _list_metallb(client, "BGPAdvertisement", ns)
    try:
        services = client.list(cluster.api_path("v1", "services"))
    except errors.Forbidden:
        services = None
        ctx.warn(
            "cannot list Services (permission denied): USED comes from the pools' status only, SERVICES is unknown"
        )
    rows, warnings = model.summarize(pools, advertisements, services)
    for message in warnings:
        ctx.warn(message)
    if args.verbose:
        ctx.say(f"{client.requests} API requests")
    if not rows and args.output == "table":
        ctx.say(
            f"No address pools in namespace {ns}. Create one with: kubectl metallb pools create NAME "
            "--addresses A-B --l2"
        )
        return ExitCode.OK
    doc = {"namespace": ns, "pools": rows, "warnings": warnings}
    ctx.emit(doc, args.output, lambda d: output.table(model.table_rows(d["pools"]), model.HEADERS))
    return ExitCode.OK


# --------------------------------------------------------------------------------------------- create


def run_create(args, ctx):
    from metallb_plugin.core import advertisements as adv
    from metallb_plugin.core import ipam
    from metallb_plugin.core import pools as model

    try:
        model.validate_name(args.name)
        ranges = ipam.parse_entries(ipam.split_addresses(args.addresses), strict=True)
        selectors = [model.parse_node_selector(s) for s in args.node_selector]
    except ValueError as exc:
        raise errors.UsageError(str(exc)) from None
    if args.interfaces and not args.l2:
        raise errors.UsageError("--interfaces needs --l2")
    if args.peer and not args.bgp:
        raise errors.UsageError("--peer needs --bgp")
    if selectors and not (args.l2 or args.bgp):
        raise errors.UsageError("--node-selector needs --l2 or --bgp")
    if args.priority is not None and args.priority < 0:
        raise errors.UsageError("--priority must be 0 or more")
    ns = args.namespace
    namespaces = [n for n in ipam.split_addresses(args.namespaces or "") if n]
    peers = [p for p in ipam.split_addresses(args.peer) if p]
    interfaces = [i for i in ipam.split_addresses(args.interfaces or "") if i]

    client = ctx.connect(args)
    existing = _list_metallb(client, "IPAddressPool", ns)
    if any(p["metadata"]["name"] == args.name for p in existing):
        raise errors.PluginError(
            f'pool "{args.name}" already exists in namespace {ns}: choose another name, or '
            f"delete it first (kubectl metallb pools delete {args.name} -n {ns})"
        )
    overlaps = ipam.pool_overlaps({**_pool_ranges(existing), args.name: ranges})
    mine = [o for o in overlaps if args.name in (o.pool, o.other_pool)]
    if mine:
        raise errors.PluginError(
            f"{mine[0]}: MetalLB rejects overlapping pools; choose addresses no other pool "
            "has (see kubectl metallb pools)"
        )

    nodes = _list_optional(ctx, client, cluster.api_path("v1", "nodes"), "nodes", args.verbose) or []
    service_cidrs = (
        _list_optional(
            ctx, client, cluster.api_path("networking.k8s.io/v1", "servicecidrs"), "ServiceCIDRs", args.verbose
        )
        or []
    )
    cidrs = [c for obj in service_cidrs for c in (obj.get("spec") or {}).get("cidrs") or []]
    for message in model.placement_warnings(ranges, nodes, cidrs):
        ctx.warn(message)

    pool = model.pool_object(
        args.name,
        ns,
        [str(r) for r in ranges],
        auto_assign=not args.no_auto_assign,
        avoid_buggy_ips=args.avoid_buggy_ips,
        priority=args.priority,
        namespaces=namespaces,
    )
    objects = [pool]
    if args.l2 or args.bgp:
        kind = "L2Advertisement" if args.l2 else "BGPAdvertisement"
        if any(a["metadata"]["name"] == args.name for a in _list_metallb(client, kind, ns)):
            raise errors.PluginError(
                f'{kind} "{args.name}" already exists in namespace {ns}: choose another pool '
                "name, or create the pool without --l2/--bgp and edit that advertisement"
            )
        if peers:
            known = _list_optional(ctx, client, _path("BGPPeer", ns), "BGPPeers", args.verbose)
            missing = [p for p in peers if known is not None and p not in {k["metadata"]["name"] for k in known}]
            if missing:
                ctx.warn(
                    f"no BGPPeer named {', '.join(missing)} in namespace {ns}: the pool is announced to no peer "
                    "until it exists"
                )
        objects.append(
            model.advertisement_object(
                adv.L2 if args.l2 else adv.BGP,
                args.name,
                ns,
                args.name,
                interfaces=interfaces,
                node_selectors=selectors,
                peers=peers,
            )
        )
    else:
        others = _list_metallb(client, "L2Advertisement", ns) + _list_metallb(client, "BGPAdvertisement", ns)
        if not adv.covering(pool, others):
            ctx.warn(
                f'no advertisement announces pool "{args.name}": its addresses will be assigned but not reachable; '
                "pass --l2 or --bgp, or add an advertisement"
            )

    progress = ctx.progress()
    written = []
    for obj in objects:
        what = f'{obj["kind"]} "{args.name}"'
        try:
            written.append(
                _write(
                    ctx,
                    lambda o=obj: client.create(_path(o["kind"], ns), o, dry_run=args.dry_run),
                    what,
                    args.timeout,
                    progress,
                )
            )
        except errors.PluginError as exc:
            if written and not args.dry_run:  # one step: do not leave a pool without its advertisement
                try:
                    client.delete(_path("IPAddressPool", ns, args.name))
                    undone = f'pool "{args.name}" was removed again'
                except errors.PluginError as undo:
                    undone = f'pool "{args.name}" was created and could not be removed: {undo}'
                raise errors.PluginError(f"{exc}; {undone}", exit_code=exc.exit_code) from None
            raise
    suffix = " (server dry run)" if args.dry_run else ""
    if args.output == "table":
        for obj in written:
            ctx.out(f"{_ref(obj)} created{suffix}")
    else:
        ctx.out(_documents([_without_managed_fields(o) for o in written], args.output))
    return ExitCode.OK


# --------------------------------------------------------------------------------------------- delete


def run_delete(args, ctx):
    from metallb_plugin.core import ipam
    from metallb_plugin.core import pools as model

    client = ctx.connect(args)
    ns = args.namespace
    pools = _list_metallb(client, "IPAddressPool", ns)
    pool = next((p for p in pools if p["metadata"]["name"] == args.name), None)
    if pool is None:
        names = ", ".join(sorted(p["metadata"]["name"] for p in pools)) or "none"
        raise errors.PluginError(f'no pool "{args.name}" in namespace {ns} (pools there: {names})')
    services = client.list(cluster.api_path("v1", "services"))
    users = ipam.usage(services, _pool_ranges(pools)).pools.get(args.name, ipam.PoolUsage()).services
    if users:
        listed = ", ".join(users[:10]) + (f" and {len(users) - 10} more" if len(users) > 10 else "")
        if not args.force:
            raise errors.PluginError(
                f'pool "{args.name}" still has addresses in use by {len(users)} Service(s): '
                f"{listed}. Move or delete them first, or pass --force"
            )
        ctx.warn(
            f"--force: {len(users)} Service(s) lose their address from this pool and stay pending until another "
            f"pool can serve them: {listed}"
        )
    advertisements = _list_metallb(client, "L2Advertisement", ns) + _list_metallb(client, "BGPAdvertisement", ns)
    remove, edit = model.cleanup_plan(args.name, advertisements)
    plan = [f"ipaddresspool.metallb.io/{args.name}"] + [_ref(a) for a in remove]
    question = f"Delete {', '.join(plan)} in namespace {ns}?"
    if not args.dry_run and not ctx.confirm(
        question, f"{question}: pass --yes to confirm (no terminal to ask on)", assume_yes=args.yes
    ):
        ctx.say("nothing deleted")
        return ExitCode.FAILED
    suffix = " (server dry run)" if args.dry_run else ""
    client.delete(_path("IPAddressPool", ns, args.name), dry_run=args.dry_run)
    ctx.out(f"ipaddresspool.metallb.io/{args.name} deleted{suffix}")
    for item in remove:
        client.delete(_path(item["kind"], ns, item["metadata"]["name"]), dry_run=args.dry_run)
        ctx.out(f"{_ref(item)} deleted{suffix}")
    for item, remaining in edit:
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": item["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/spec/ipAddressPools", "value": remaining},
        ]
        client.patch(_path(item["kind"], ns, item["metadata"]["name"]), patch, patch_type="json", dry_run=args.dry_run)
        ctx.out(f"{_ref(item)} edited: no longer names {args.name}{suffix}")
    return ExitCode.OK


# --------------------------------------------------------------------------------------------- migrate


def _read_source(args, ctx):
    """(config dict, ConfigMap namespace or None, description, ConfigMap (ns, name) or None, client or None)."""
    from metallb_plugin.core import legacy

    if args.file:
        try:
            if args.file == "-":
                text = ctx.stdin.read()
            else:
                with open(args.file, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as exc:
            raise errors.UsageError(f"cannot read {args.file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise errors.UsageError(f"{args.file} is not a text file") from None
        config, found_ns = legacy.load(text)
        return config, found_ns, args.file, None, None
    ref = args.from_configmap or f"{args.namespace}/config"
    cm_ns, _, cm_name = ref.rpartition("/")
    cm_ns = cm_ns or args.namespace
    client = ctx.connect(args)
    obj = client.get_or_none(cluster.api_path("v1", "configmaps", cm_ns, cm_name))
    if obj is None:
        raise errors.PluginError(
            f"no ConfigMap {cm_ns}/{cm_name}: pass --from-configmap NS/NAME (Helm installs "
            "name it after the release) or --file FILE"
        )
    obj.setdefault("kind", "ConfigMap")
    config, found_ns = legacy.from_document(obj)
    return config, found_ns or cm_ns, f"ConfigMap {cm_ns}/{cm_name}", (cm_ns, cm_name), client


def run_migrate(args, ctx):
    from metallb_plugin.core import ipam, legacy

    try:
        config, found_ns, described, configmap, client = _read_source(args, ctx)
        target = args.namespace if args.namespace_given else (found_ns or args.namespace)
        result = legacy.convert(config, target)
    except legacy.LegacyConfigError as exc:
        raise errors.UsageError(f"invalid legacy configuration: {exc}") from None
    for message in result.warnings:
        ctx.warn(message)
    for kind, old, new in result.renamed:
        ctx.say(f'note: {kind} "{old}" is named "{new}" (Kubernetes names are lower-case DNS labels)')
    if not args.apply:
        if args.output == "json":
            ctx.out(_documents(result.objects, "json"))
        else:
            ctx.out(f"# Converted from {described} by kubectl metallb pools migrate.\n")
            ctx.out(_documents(result.objects, "yaml"))
        return ExitCode.OK

    client = client or ctx.connect(args)
    new_pools = {o["metadata"]["name"]: o for o in result.objects if o["kind"] == "IPAddressPool"}
    others = [p for p in _list_metallb(client, "IPAddressPool", target) if p["metadata"]["name"] not in new_pools]
    overlaps = [
        o
        for o in ipam.pool_overlaps({**_pool_ranges(others), **_pool_ranges(new_pools.values())})
        if (o.pool in new_pools) != (o.other_pool in new_pools)
    ]
    if overlaps:
        raise errors.PluginError(
            f"{overlaps[0]}: the converted pools overlap pools already in namespace {target}; nothing was applied"
        )
    progress = ctx.progress()
    applied = []
    for obj in sorted(result.objects, key=lambda o: APPLY_ORDER.index(o["kind"])):
        path = _path(obj["kind"], target, obj["metadata"]["name"])
        applied.append(
            _write(
                ctx,
                lambda p=path, o=obj: client.apply(p, o),
                f'{obj["kind"]} "{obj["metadata"]["name"]}"',
                args.timeout,
                progress,
            )
        )
    if args.output == "table":
        for obj in applied:
            ctx.out(f"{_ref(obj)} serverside-applied")
    else:
        ctx.out(_documents([_without_managed_fields(o) for o in applied], args.output))
    where = f"-n {configmap[0]} {configmap[1]}" if configmap else f"-n {found_ns or target} config"
    ctx.say(
        f"MetalLB v0.13 and later no longer read the legacy ConfigMap. Once `kubectl metallb pools -n {target}` "
        f"shows the pools, remove it: kubectl delete configmap {where}"
    )
    return ExitCode.OK
