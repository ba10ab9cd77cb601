"""Remove MetalLB as `kubectl metallb install` installed it, after backing up its configuration.

First a backup file (--backup FILE, by default metallb-backup-<timestamp>.yaml in the current directory, mode
0600) gets every metallb.io configuration object (pools, advertisements, peers, BFD profiles, communities, FRR-K8s
configurations; not the status reports MetalLB writes itself), the Secrets BGPPeers take their passwords from, and
the MetalLB ConfigMaps that were changed since install (e.g. a customised metallb-excludel2). After installing
MetalLB again, `kubectl metallb restore FILE` puts them back. Then the objects install recorded are deleted in
reverse order: webhook configuration, workloads, Services, configuration, RBAC, CRDs (and with them every MetalLB
custom resource) and the namespace, and uninstall waits until the CRDs and the namespace are gone.

Deleting the namespace deletes everything in it: when it holds objects that are not MetalLB's (your Secrets,
NetworkPolicies, a legacy ConfigMap), uninstall lists them and refuses unless --delete-namespace (delete them too)
or --keep-namespace (keep the namespace and them). --keep-crds keeps the CRDs and the namespace, and so the
configuration, for a later install. While LoadBalancer Services still hold addresses handed out by MetalLB,
uninstall refuses (they would keep IPs nobody announces any more) and lists them; --force removes MetalLB anyway.

examples:
  kubectl metallb uninstall --dry-run
  kubectl metallb uninstall --yes --backup metallb-config.yaml
  kubectl metallb uninstall --keep-crds
"""

import os

from metallb_plugin import defaults, errors, uninstaller, writes
from metallb_plugin.commands import add_timeout, add_write_flags
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.install import removal
from metallb_plugin.core.plan import Plan
from metallb_plugin.errors import ExitCode


def add_arguments(parser):
    parser.add_argument(
        "--backup",
        metavar="FILE",
        help="where to write the backup (default metallb-backup-<timestamp>.yaml in the current directory)",
    )
    parser.add_argument(
        "--keep-crds",
        action="store_true",
        help="keep the CRDs and the namespace (and so every pool, advertisement and peer)",
    )
    namespace = parser.add_mutually_exclusive_group()
    namespace.add_argument(
        "--keep-namespace", action="store_true", help="keep the namespace (and what else lives in it)"
    )
    namespace.add_argument(
        "--delete-namespace",
        action="store_true",
        help="delete the namespace even though it holds objects that are not MetalLB's",
    )
    parser.add_argument(
        "--force", action="store_true", help="uninstall even while LoadBalancer Services hold MetalLB addresses"
    )
    add_write_flags(parser)
    add_timeout(parser, defaults.UNINSTALL_TIMEOUT, "how long to wait until the CRDs and the namespace are gone")


def run(args, ctx):
    from metallb_plugin.installer import find_installation, read_inventory

    client = ctx.connect(args)
    namespace = args.namespace
    refs, details = read_inventory(client, namespace)
    found, _ = find_installation(client, namespace)
    found = found if found and found.namespace == namespace else None
    if refs is None:
        refused = removal.refusal(found, namespace)
        if refused:
            raise errors.PluginError(refused)
        ctx.say(
            f"MetalLB is not installed in namespace {namespace} (nothing recorded by kubectl metallb install): "
            "nothing to do"
        )
        _emit(ctx, args, {"namespace": namespace, "version": None, "backup": None, "backedUp": 0, "objects": []})
        return ExitCode.OK

    version = details.get("version") or (found.version if found else None) or "unknown"
    resources = uninstaller.custom_resources(client, refs)
    _refuse_while_services_hold_addresses(ctx, args, namespace, resources, client)
    contents = uninstaller.backup_contents(client, refs, resources)
    keep_ns = "--keep-crds" if args.keep_crds else "--keep-namespace" if args.keep_namespace else ""
    notes = []
    if not keep_ns:
        others, unlisted = uninstaller.others_in_namespace(client, namespace, refs, contents)
        notes += [f"could not look for {what} in namespace {namespace}" for what in unlisted]
        if others and not args.delete_namespace:
            for line in others:
                ctx.say(f"  {line}")
            raise errors.PluginError(
                f"namespace {namespace} holds {len(others)} object(s) that are not MetalLB's (listed above) and "
                "deleting it would delete them too: pass --keep-namespace to remove MetalLB and keep the namespace, "
                "or --delete-namespace to delete them as well. Nothing was changed"
            )
        if others:
            notes.append(f"deleting namespace {namespace} also deletes: {k8s.listing(others, limit=10)}")
    backup = args.backup or f"metallb-backup-{ctx.now().astimezone().strftime('%Y%m%d-%H%M%S')}.yaml"
    secrets = f", with Secret(s) {', '.join(contents.secrets)}" if contents.secrets else ""
    notes.insert(0, f"first backs up {len(contents.objects)} object(s) to {os.path.abspath(backup)}{secrets}")
    keep = " (keeping the CRDs, the namespace and the configuration)" if args.keep_crds else ""
    plan = Plan(
        "uninstall",
        f"Remove MetalLB {version} from namespace {namespace}{keep}?",
        uninstaller.steps(client, refs, namespace, args.keep_crds, keep_ns),
        notes=notes,
        resume=f"Run `kubectl metallb uninstall -n {namespace}` again to finish; to go back, "
        f"`kubectl metallb install` then `kubectl metallb restore {backup}`",
    )
    applied = writes.carry_out(
        ctx, client, args, plan, args.overwrite, before_apply=lambda: uninstaller.write(ctx, backup, contents, version)
    )
    doc = {"namespace": namespace, "version": version, "backup": None, "backedUp": 0, "secrets": contents.secrets}
    if not applied:
        writes.show(ctx, args, plan, doc)
        return ExitCode.OK
    doc.update(backup=os.path.abspath(backup), backedUp=len(contents.objects))
    try:
        uninstaller.wait_until_gone(ctx, client, plan.pending(), args.timeout)
    except errors.WaitTimeout:
        writes.show(ctx, args, plan, {**doc, "gone": False}, applied=True)
        raise
    ctx.say(
        f"MetalLB {version} removed from {namespace}: {plan.counts()['deleted']} object(s) deleted"
        + (", CRDs and namespace kept" if args.keep_crds else ", namespace kept" if args.keep_namespace else "")
        + f". To restore its configuration after installing it again: kubectl metallb restore {backup}"
    )
    writes.show(ctx, args, plan, {**doc, "gone": True}, applied=True)
    return ExitCode.OK


def _emit(ctx, args, doc):
    if args.output != "table":
        ctx.emit(doc, args.output, lambda d: "")


def _refuse_while_services_hold_addresses(ctx, args, namespace, resources, client):
    pools = {
        k8s.name(pool): k8s.pool_ranges(pool, lenient=True)[0]  # every address it may have handed out
        for crd, items in resources
        if crd["spec"]["names"]["kind"] == "IPAddressPool"
        for pool in items
        if k8s.namespace(pool) == namespace
    }
    services = [s for s in client.list("/api/v1/services") if k8s.is_load_balancer(s)]
    holders = removal.holders(pools, services)
    if not holders:
        return
    for line in holders:
        ctx.say(f"  {line}")
    if not args.force:
        raise errors.PluginError(
            f"{len(holders)} LoadBalancer Service(s) still hold MetalLB addresses (listed above): delete them or "
            "change their type first, or pass --force to uninstall anyway (their addresses stay in their status "
            "but nobody announces them)"
        )
    ctx.say(f"warning: --force: {len(holders)} LoadBalancer Service(s) keep addresses nobody will announce")
