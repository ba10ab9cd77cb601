"""Show or change kube-proxy's ipvs.strictARP, which MetalLB needs when kube-proxy runs in IPVS mode.

Without --enable/--disable: report where kube-proxy's configuration lives, its mode, the current strictARP and
whether MetalLB needs a change.

--enable/--disable change only that one value in the kube-proxy ConfigMap (everything else stays byte-identical),
with the ConfigMap's resourceVersion (a concurrent change is re-read, never overwritten), record the previous value
in the annotation metallb.io/strict-arp-previous, then restart the kube-proxy DaemonSet as
`kubectl rollout restart` does so the change takes effect.

examples:
  kubectl metallb strict-arp                      # report
  kubectl metallb strict-arp --enable --dry-run   # show the diff, change nothing
  kubectl metallb strict-arp --enable --yes --wait --backup kube-proxy.yaml
"""

import os

from metallb_plugin import defaults, errors, kube_proxy, writes
from metallb_plugin.commands import add_timeout
from metallb_plugin.core import kubeproxy as kp
from metallb_plugin.core.kubeproxy import report
from metallb_plugin.errors import ExitCode


def add_arguments(parser):
    change = parser.add_mutually_exclusive_group()
    change.add_argument("--enable", dest="value", action="store_const", const=True, help="set ipvs.strictARP: true")
    change.add_argument("--disable", dest="value", action="store_const", const=False, help="set ipvs.strictARP: false")
    parser.add_argument("--dry-run", action="store_true", help="print the diff of the ConfigMap; change nothing")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--force", action="store_true", help="change strictARP even though kube-proxy does not run in IPVS mode"
    )
    parser.add_argument(
        "--no-restart", action="store_true", help="do not restart the kube-proxy DaemonSet after the change"
    )
    parser.add_argument("--wait", action="store_true", help="wait until the kube-proxy rollout completes")
    add_timeout(parser, defaults.ROLLOUT_TIMEOUT, "how long --wait waits, like 90s or 5m")
    parser.add_argument(
        "--backup", metavar="FILE", help="before changing, save the ConfigMap as YAML to FILE (must not exist)"
    )


def run(args, ctx):
    if args.value is None:
        misplaced = [
            flag
            for flag, on in (
                ("--dry-run", args.dry_run),
                ("--yes", args.yes),
                ("--force", args.force),
                ("--no-restart", args.no_restart),
                ("--wait", args.wait),
                ("--backup", args.backup),
            )
            if on
        ]
        if misplaced:
            verb = "applies" if len(misplaced) == 1 else "apply"
            raise errors.UsageError(f"{', '.join(misplaced)} only {verb} with --enable or --disable")
    if args.wait and args.no_restart:
        raise errors.UsageError("--wait waits for the restart: it cannot be combined with --no-restart")
    if args.backup and os.path.exists(args.backup):
        raise errors.UsageError(f"--backup {args.backup}: the file exists; choose a new file name")
    client = ctx.connect(args)
    facts = kube_proxy.gather(client)
    info = facts.info
    if args.value is None:
        ctx.emit(info.as_dict(), args.output, report.report_text)
        return ExitCode.FAILED if info.problem else ExitCode.OK
    return _change(ctx, client, args, facts)


def _change(ctx, client, args, facts):
    info, value = facts.info, args.value
    refused = report.refusal(info)
    if refused:
        raise errors.PluginError(refused)
    word = "true" if value else "false"
    for note in info.notes:
        ctx.warn(note)
    if info.mode != kp.IPVS and not args.force:
        result = report.result(
            info,
            value,
            changed=False,
            dry_run=args.dry_run,
            message=f"kube-proxy runs in {info.mode} mode: MetalLB does not need strict ARP. Nothing "
            f"changed (--force sets ipvs.strictARP: {word} anyway)",
        )
        ctx.emit(result, args.output, report.result_text)
        return ExitCode.OK
    if value is False and info.mode == kp.IPVS:
        ctx.warn(
            "with IPVS, MetalLB's layer 2 mode needs strict ARP: every node would answer ARP for every LoadBalancer IP",
        )
    location = info.location
    old_text = facts.configmap["data"][location.key]
    new_text = kube_proxy.edit(old_text, value, location)
    if new_text == old_text:
        result = report.result(
            info,
            value,
            changed=False,
            dry_run=args.dry_run,
            message=f"ipvs.strictARP is already {word} in {location.describe()}: nothing changed",
        )
        ctx.emit(result, args.output, report.result_text)
        return ExitCode.OK
    diff = kp.unified_diff(old_text, new_text, f"{location.namespace}/{location.name}/{location.key}")
    state = {}
    plan = kube_proxy.plan(ctx, client, args, facts, new_text, diff, state)
    if args.dry_run:
        writes.carry_out(ctx, client, args, plan)  # the server checks both writes and the permissions they need
        result = report.result(  # changed: what applying it would do
            info, value, changed=True, dry_run=True, diff=diff, message="dry run: nothing was changed"
        )
        ctx.emit({**result, "objects": [s.document() for s in plan.steps]}, args.output, report.result_text)
        return ExitCode.OK
    if not writes.carry_out(ctx, client, args, plan):
        return ExitCode.OK
    if state["written"] is None:
        result = report.result(
            info,
            value,
            changed=False,
            dry_run=False,
            message=f"ipvs.strictARP was set to {word} meanwhile by someone else: nothing changed",
        )
        ctx.emit(result, args.output, report.result_text)
        return ExitCode.OK
    previous = state["previous"]
    undo = f"kubectl metallb strict-arp --{'enable' if previous is True else 'disable'}"
    result = report.result(
        info,
        value,
        changed=True,
        dry_run=False,
        diff=diff,
        previous=previous,
        backup=args.backup,
        message=f"ipvs.strictARP set to {word} in {location.describe()}",
        undo=undo,
    )
    result["objects"] = [s.document() for s in plan.steps]
    result["restart"] = state.get("restart") or (
        kube_proxy.no_daemonset(ctx) if facts.daemonset is None and not args.no_restart else {"restarted": False}
    )
    if args.wait and result["restart"]["restarted"]:
        try:
            result["restart"]["rollout"] = kube_proxy.wait_rollout(
                ctx, client, facts, result["restart"]["restartedAt"], args.timeout
            )
        except errors.WaitTimeout:
            ctx.emit(result, args.output, report.result_text)
            raise
    ctx.emit(result, args.output, report.result_text)
    return ExitCode.OK
