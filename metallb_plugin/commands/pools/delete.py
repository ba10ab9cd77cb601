"""pools delete: refuse while Services use the pool; remove the advertisement `pools create` made for it."""

from metallb_plugin import cluster, errors, writes
from metallb_plugin.commands.pools.common import list_metallb, path, pool_ranges
from metallb_plugin.core.plan import Plan, Step, Write
from metallb_plugin.core.text import echo
from metallb_plugin.defaults import MANAGED_BY
from metallb_plugin.errors import ExitCode


def _made_for(advertisement, pool_name):
    """Whether `pools create POOL --l2/--bgp` made this advertisement (it names it after the pool, with our label)."""
    labels = advertisement["metadata"].get("labels") or {}
    return advertisement["metadata"]["name"] == pool_name and all(labels.get(k) == v for k, v in MANAGED_BY.items())


def run(args, ctx):
    from metallb_plugin.core import pool_usage
    from metallb_plugin.core import pools as model

    client = ctx.connect(args)
    ns = args.namespace
    pools = list_metallb(client, "IPAddressPool", ns)
    pool = next((p for p in pools if p["metadata"]["name"] == args.name), None)
    if pool is None:
        names = ", ".join(sorted(p["metadata"]["name"] for p in pools)) or "none"
        raise errors.PluginError(f'no pool "{echo(args.name)}" in namespace {ns} (pools there: {names})')
    services = client.list(cluster.api_path("v1", "services"))
    users = pool_usage.usage(services, pool_ranges(pools)).pools.get(args.name, pool_usage.PoolUsage()).services
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
    not_ours = f"it names pool {args.name} but was not made for it by kubectl metallb pools create"
    steps = [Step.of(pool, Write("delete", path("IPAddressPool", ns, args.name)), before=pool)]
    for item in remove:
        where = path(item["kind"], ns, item["metadata"]["name"])
        foreign = "" if _made_for(item, args.name) else not_ours + " (deleting the pool leaves it naming no pool)"
        steps.append(Step.of(item, Write("delete", where), before=item, foreign=foreign))
    for item, remaining in edit:
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": item["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/spec/ipAddressPools", "value": remaining},
        ]
        where = path(item["kind"], ns, item["metadata"]["name"])
        steps.append(Step.of(item, Write("patch", where, patch, patch_type="json"), before=item, foreign=not_ours))
    plan = Plan(
        "pools delete",
        f"Delete {', '.join(s.describe() for s in steps if s.write and s.write.method == 'delete')} in namespace {ns}?",
        steps,
        resume="Run the same command again to finish",
    )
    applied = writes.carry_out(ctx, client, args, plan, overwrite=args.overwrite)
    writes.show(ctx, args, plan, applied=applied)
    return ExitCode.OK
