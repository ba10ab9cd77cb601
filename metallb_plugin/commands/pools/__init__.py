"""List MetalLB's address pools with their capacity and use; create and delete pools with validation; convert a
legacy ConfigMap configuration (MetalLB <= v0.12) into custom resources.

  kubectl metallb pools [list]
  kubectl metallb pools create NAME --addresses 192.168.10.0/24[,192.168.9.1-192.168.9.5] [--l2 | --bgp]
  kubectl metallb pools delete NAME [--yes] [--force] [--overwrite]
  kubectl metallb pools migrate [--from-configmap NS/NAME | --file FILE] [--apply [--overwrite]]

Pools live in MetalLB's namespace (-n, default metallb-system). create, delete and migrate --apply show what they
will write and ask first (--yes answers; --dry-run shows the plan, checked by the API server, and writes nothing).
"""

import argparse

from metallb_plugin import defaults


def add_arguments(parser):
    # kubectl's flags keep working after the nested subcommand; durations parse as for --request-timeout
    from metallb_plugin.cli import global_flags
    from metallb_plugin.commands import add_timeout, add_write_flags

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
    add_write_flags(create, overwrite=False)
    add_timeout(create, defaults.POOLS_TIMEOUT, "how long to retry while MetalLB's webhook is not serving yet")

    delete = command(
        "delete",
        "delete a pool (refused while Services use it)",
        "Delete an IPAddressPool and the advertisement `pools create` made for it; advertisements of your own "
        "that name the pool are only changed with --overwrite. Refused while Services hold addresses from it, "
        "unless --force.",
    )
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--force", action="store_true", help="delete even though Services use the pool")
    add_write_flags(delete)

    migrate = command(
        "migrate",
        "convert a legacy ConfigMap configuration into custom resources",
        "Convert MetalLB's legacy configuration (ConfigMap `config`, MetalLB <= v0.12) into "
        "IPAddressPool, L2Advertisement, BGPAdvertisement, BGPPeer, Community and BFDProfile objects "
        "as MetalLB's own converter does. Prints YAML; --apply applies it with server-side apply: nothing is "
        "applied if any object would be refused (an object of the same name that this migration did not create "
        "needs --overwrite).",
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
    add_write_flags(migrate)
    add_timeout(migrate, defaults.POOLS_TIMEOUT, "how long to retry while MetalLB's webhook is not serving yet")


def run(args, ctx):
    import importlib

    command = getattr(args, "pools_command", None) or "list"
    name = {"list": "listing"}.get(command, command)  # each subcommand's module is loaded only when it runs
    return importlib.import_module(f"metallb_plugin.commands.pools.{name}").run(args, ctx)
