"""Restore a backup file kubectl metallb wrote: uninstall's (MetalLB's configuration, the Secrets its BGPPeers use,
changed MetalLB ConfigMaps) or strict-arp's (kube-proxy's ConfigMap).

The file is read as written (multi-document YAML or a v1 List of complete objects) and every object is applied with
server-side apply, in an order that satisfies their references (Secrets and ConfigMaps, BFD profiles and
communities, pools, peers, advertisements). Like every write it is dry-run on the API server first, shown and
asked about: objects that exist with other content and that kubectl metallb did not create are refused, and
nothing is restored, unless --overwrite. MetalLB must be installed first (its CRDs and namespace); right after
`kubectl metallb install` its webhook may still be starting: restore retries until --timeout.

examples:
  kubectl metallb install --yes && kubectl metallb restore metallb-backup-20260102-030405.yaml
  kubectl metallb restore backup.yaml --dry-run -o yaml
"""

from metallb_plugin import defaults, errors, writes
from metallb_plugin.commands import add_timeout, add_write_flags, read_text
from metallb_plugin.core import backups
from metallb_plugin.core import plan as model
from metallb_plugin.core.plan import Plan, Step, Write
from metallb_plugin.errors import ExitCode


def add_arguments(parser):
    parser.add_argument("file", metavar="FILE", help="the backup file (- reads standard input)")
    add_write_flags(parser)
    add_timeout(parser, defaults.POOLS_TIMEOUT, "how long to retry while MetalLB's webhook is not serving yet")


def _read(args, ctx):
    try:
        return backups.load(read_text(args.file, ctx))
    except ValueError as exc:
        raise errors.UsageError(f"{args.file}: {exc}") from None


def run(args, ctx):
    objects = backups.restore_order(_read(args, ctx))
    client = ctx.connect(args)
    steps = []
    for obj in objects:
        try:
            path = client.object_path(obj)
        except errors.NotFound:
            raise errors.PluginError(
                f"the cluster does not serve {obj['kind']} ({obj['apiVersion']}), which the backup holds: install "
                "MetalLB first (kubectl metallb install), then restore. Nothing was changed"
            ) from None
        before = client.get_or_none(path)
        write = Write("apply", path, obj, force=args.overwrite)
        steps.append(Step.of(obj, write, before=before, foreign=model.foreign(before)))
    plan = Plan(
        "restore",
        f"Restore {len(steps)} object(s) from {args.file}?",
        steps,
        resume=f"Run `kubectl metallb restore {args.file}` again to finish",
    )
    applied = writes.carry_out(ctx, client, args, plan, overwrite=args.overwrite, timeout=args.timeout)
    writes.show(ctx, args, plan, applied=applied)
    if applied:
        ctx.say(f"restored from {args.file}: {plan.summary()}")
    elif not args.dry_run:
        ctx.say(f"nothing to restore: every object in {args.file} is on the cluster as saved")
    return ExitCode.OK
