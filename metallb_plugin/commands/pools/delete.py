"""pools delete: refuse while Services use the pool; remove the advertisements that announced only it."""

from metallb_plugin import cluster, errors
from metallb_plugin.commands.pools.common import list_metallb, path, pool_ranges, ref
from metallb_plugin.errors import ExitCode


def run(args, ctx):
    from metallb_plugin.core import ipam
    from metallb_plugin.core import pools as model

    client = ctx.connect(args)
    ns = args.namespace
    pools = list_metallb(client, "IPAddressPool", ns)
    pool = next((p for p in pools if p["metadata"]["name"] == args.name), None)
    if pool is None:
        names = ", ".join(sorted(p["metadata"]["name"] for p in pools)) or "none"
        raise errors.PluginError(f'no pool "{args.name}" in namespace {ns} (pools there: {names})')
    services = client.list(cluster.api_path("v1", "services"))
    users = ipam.usage(services, pool_ranges(pools)).pools.get(args.name, ipam.PoolUsage()).services
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
    advertisements = list_metallb(client, "L2Advertisement", ns) + list_metallb(client, "BGPAdvertisement", ns)
    remove, edit = model.cleanup_plan(args.name, advertisements)
    plan = [f"ipaddresspool.metallb.io/{args.name}"] + [ref(a) for a in remove]
    question = f"Delete {', '.join(plan)} in namespace {ns}?"
    if not args.dry_run and not ctx.confirm(
        question, f"{question}: pass --yes to confirm (no terminal to ask on)", assume_yes=args.yes
    ):
        ctx.say("nothing deleted")
        return ExitCode.FAILED
    suffix = " (server dry run)" if args.dry_run else ""
    client.delete(path("IPAddressPool", ns, args.name), dry_run=args.dry_run)
    ctx.out(f"ipaddresspool.metallb.io/{args.name} deleted{suffix}")
    for item in remove:
        client.delete(path(item["kind"], ns, item["metadata"]["name"]), dry_run=args.dry_run)
        ctx.out(f"{ref(item)} deleted{suffix}")
    for item, remaining in edit:
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": item["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/spec/ipAddressPools", "value": remaining},
        ]
        client.patch(path(item["kind"], ns, item["metadata"]["name"]), patch, patch_type="json", dry_run=args.dry_run)
        ctx.out(f"{ref(item)} edited: no longer names {args.name}{suffix}")
    return ExitCode.OK
