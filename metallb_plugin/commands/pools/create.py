"""pools create: validate, then create the pool and its advertisement in one step (undone together)."""

from metallb_plugin import cluster, errors, writes
from metallb_plugin.commands.pools.common import list_metallb, list_optional, path, pool_ranges
from metallb_plugin.core.plan import Plan, Step, Write
from metallb_plugin.errors import ExitCode


def run(args, ctx):
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
    existing = list_metallb(client, "IPAddressPool", ns)
    if any(p["metadata"]["name"] == args.name for p in existing):
        raise errors.PluginError(
            f'pool "{args.name}" already exists in namespace {ns}: choose another name, or '
            f"delete it first (kubectl metallb pools delete {args.name} -n {ns})"
        )
    overlaps = ipam.pool_overlaps({**pool_ranges(existing), args.name: ranges})
    mine = [o for o in overlaps if args.name in (o.pool, o.other_pool)]
    if mine:
        raise errors.PluginError(
            f"{mine[0]}: MetalLB rejects overlapping pools; choose addresses no other pool "
            "has (see kubectl metallb pools)"
        )

    nodes = list_optional(ctx, client, cluster.api_path("v1", "nodes"), "nodes", args.verbose) or []
    service_cidrs = (
        list_optional(
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
        if any(a["metadata"]["name"] == args.name for a in list_metallb(client, kind, ns)):
            raise errors.PluginError(
                f'{kind} "{args.name}" already exists in namespace {ns}: choose another pool '
                "name, or create the pool without --l2/--bgp and edit that advertisement"
            )
        if peers:
            known = list_optional(ctx, client, path("BGPPeer", ns), "BGPPeers", args.verbose)
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
        others = list_metallb(client, "L2Advertisement", ns) + list_metallb(client, "BGPAdvertisement", ns)
        if not adv.covering(pool, others):
            ctx.warn(
                f'no advertisement announces pool "{args.name}": its addresses will be assigned but not reachable; '
                "pass --l2 or --bgp, or add an advertisement"
            )

    what = " and its ".join(f"{o['kind']} {args.name}" for o in objects)
    plan = Plan(
        "pools create",
        f"Create {what} in namespace {ns}?",
        [Step.of(o, Write("create", path(o["kind"], ns), o)) for o in objects],
        atomic=True,  # one step: never a pool without the advertisement asked for
    )
    applied = writes.carry_out(ctx, client, args, plan, timeout=args.timeout)
    writes.show(ctx, args, plan, applied=applied)
    return ExitCode.OK
