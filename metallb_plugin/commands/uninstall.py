"""Remove MetalLB as `kubectl metallb install` installed it, after backing up its configuration.

Every metallb.io configuration object (pools, advertisements, peers, BFD profiles, communities, FRR-K8s
configurations; not the status reports MetalLB writes itself) is first written to a YAML file (--backup FILE, by
default metallb-backup-<timestamp>.yaml in the current directory) that `kubectl apply -f` can restore. Then the
objects install recorded are deleted in reverse order: webhook configuration, workloads, Services, configuration,
RBAC, CRDs (and with them every MetalLB custom resource) and the namespace. --keep-crds keeps the CRDs and the
namespace, so the configuration stays for a later install.

While LoadBalancer Services still hold addresses handed out by MetalLB, uninstall refuses (they would keep IPs
nobody announces any more) and lists them; --force removes MetalLB anyway.

examples:
  kubectl metallb uninstall
  kubectl metallb uninstall --yes --backup metallb-config.yaml
  kubectl metallb uninstall --keep-crds
"""

import os

from metallb_plugin import cluster, defaults, errors
from metallb_plugin.backup import write_backup
from metallb_plugin.commands import add_timeout
from metallb_plugin.core import manifests
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.install import inventory, removal
from metallb_plugin.errors import ExitCode
from metallb_plugin.installer import CRDS

# what uninstall waits for once it deleted it: kind -> its collection
WAITED = {"CustomResourceDefinition": CRDS, "Namespace": cluster.api_path("v1", "namespaces")}


def add_arguments(parser):
    parser.add_argument(
        "--backup",
        metavar="FILE",
        help="where to write the backup of every metallb.io object (default "
        "metallb-backup-<timestamp>.yaml in the current directory)",
    )
    parser.add_argument(
        "--keep-crds",
        action="store_true",
        help="keep the CRDs and the namespace (and so every pool, advertisement and peer)",
    )
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--force", action="store_true", help="uninstall even while LoadBalancer Services hold MetalLB addresses"
    )
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
    holders = _services_holding_addresses(client, namespace, refs)
    if holders:
        for line in holders:
            ctx.say(f"  {line}")
        if not args.force:
            raise errors.PluginError(
                f"{len(holders)} LoadBalancer Service(s) still hold MetalLB addresses (listed above): delete them or "
                "change their type first, or pass --force to uninstall anyway (their addresses stay in their status "
                "but nobody announces them)"
            )
        ctx.say(f"warning: --force: {len(holders)} LoadBalancer Service(s) keep addresses nobody will announce")

    keep = " (keeping the CRDs, the namespace and the configuration)" if args.keep_crds else ""
    question = f"Remove MetalLB {version} from namespace {namespace}{keep}?"
    if not ctx.confirm(
        question, f"{question} Pass --yes to uninstall (there is no terminal to ask on)", assume_yes=args.yes
    ):
        raise errors.PluginError("uninstall cancelled; nothing was changed")

    backup = args.backup or f"metallb-backup-{ctx.now().astimezone().strftime('%Y%m%d-%H%M%S')}.yaml"
    count = _backup(ctx, client, refs, backup)
    ctx.say(f"backed up {count} metallb.io object(s) to {os.path.abspath(backup)} (restore with kubectl apply -f)")

    removed = _delete_all(ctx, client, args, refs, namespace)
    _wait_until_gone(
        ctx,
        client,
        [(r["kind"], r["name"]) for r in removed if r["kind"] in WAITED and r["result"] == "deleted"],
        args.timeout,
    )
    deleted = sum(1 for r in removed if r["result"] == "deleted")
    ctx.say(
        f"MetalLB {version} removed from {namespace}: {deleted} object(s) deleted"
        + (", CRDs and namespace kept" if args.keep_crds else "")
    )
    doc = {"namespace": namespace, "version": version, "backup": os.path.abspath(backup), "backedUp": count}
    _emit(ctx, args, {**doc, "objects": removed})
    return ExitCode.OK


def _wait_until_gone(ctx, client, refs, timeout):
    """The API server deletes a CRD's custom resources before the CRD itself, and the namespace controller empties a
    namespace before it goes; wait for both, so that an install right after this one does not meet CRDs or a
    namespace that are still being deleted (writes into a terminating namespace are refused)."""
    deadline = ctx.monotonic() + timeout
    while refs:
        refs = [(kind, name) for kind, name in refs if client.get_or_none(f"{WAITED[kind]}/{name}") is not None]
        if refs and ctx.monotonic() > deadline:
            kind, name = refs[0]
            raise errors.WaitTimeout(
                f"{len(refs)} object(s) are still being deleted after {timeout:g}s "
                f"({', '.join(f'{k} {n}' for k, n in refs)}); see `kubectl get {kind.lower()} {name} -o yaml`"
            )
        if refs:
            ctx.sleep(0.5)


def _emit(ctx, args, doc):
    if args.output != "table":
        ctx.emit(doc, args.output, lambda d: "")


def _custom_resources(client, refs, group=None):
    """Every custom resource of the install's CRDs (of one group), in all namespaces: [(crd, [objects])]."""
    found = []
    for ref in removal.crd_refs(refs):
        crd = client.get_or_none(
            cluster.api_path("apiextensions.k8s.io/v1", "customresourcedefinitions", name=ref["name"])
        )
        version = k8s.crd_version(crd) if crd else None
        if not version or (group and crd["spec"].get("group") != group):
            continue
        found.append(
            (crd, client.list(cluster.api_path(f"{crd['spec']['group']}/{version}", crd["spec"]["names"]["plural"])))
        )
    return found


def _services_holding_addresses(client, namespace, refs):
    pools = {
        k8s.name(pool): k8s.pool_ranges(pool, lenient=True)[0]  # every address it may have handed out
        for crd, items in _custom_resources(client, refs, group="metallb.io")
        if crd["spec"]["names"]["kind"] == "IPAddressPool"
        for pool in items
        if k8s.namespace(pool) == namespace
    }
    services = [s for s in client.list("/api/v1/services") if k8s.is_load_balancer(s)]
    return removal.holders(pools, services)


def _backup(ctx, client, refs, path):
    """Write every MetalLB custom resource but the status reports to path (0600: BGP passwords live there)."""
    import yaml

    objects = removal.backup_objects(_custom_resources(client, refs))
    header = (
        f"# MetalLB configuration backed up by `kubectl metallb uninstall` on "
        f"{ctx.now().astimezone().isoformat(timespec='seconds')}: {len(objects)} object(s).\n"
        "# Restore after reinstalling with: kubectl apply -f <this file>\n"
    )
    write_backup(path, header + (yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True) if objects else ""))
    return len(objects)


def _delete_all(ctx, client, args, refs, namespace):
    """Delete the recorded objects, last installed first (--keep-crds: not the CRDs and the namespace)."""
    kept = {"CustomResourceDefinition", "Namespace"} if args.keep_crds else set()
    results = []
    for ref in inventory.deletion_order(refs, namespace):
        spec = manifests.KINDS.get(ref["kind"])
        if ref["kind"] in kept or spec is None:
            continue
        path = cluster.api_path(ref["apiVersion"], spec[1], ref.get("namespace") if spec[2] else None, ref["name"])
        try:
            client.delete(path)
            result = "deleted"
        except errors.NotFound:
            result = "not found"
        results.append({**ref, "result": result})
        if args.output == "table":
            obj = {"apiVersion": ref["apiVersion"], "kind": ref["kind"], "metadata": {"name": ref["name"]}}
            ctx.out(f"{manifests.describe(obj)} {result}")
    return results
