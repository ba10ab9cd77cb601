"""pools list: every pool with its size, use and what announces it."""

from metallb_plugin import cluster, errors, output, reading
from metallb_plugin.commands.pools.common import list_metallb
from metallb_plugin.errors import ExitCode


def run(args, ctx):
    from metallb_plugin.core import pools as model
    from metallb_plugin.core.projections import SERVICE
    from metallb_plugin.core.snapshot import project

    client = ctx.connect(args)
    ns = args.namespace
    pools = list_metallb(client, "IPAddressPool", ns)
    advertisements = list_metallb(client, "L2Advertisement", ns) + list_metallb(client, "BGPAdvertisement", ns)
    try:
        with reading.bulk_read():
            services = client.list(cluster.api_path("v1", "services"), each=lambda s: project(s, SERVICE))
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
