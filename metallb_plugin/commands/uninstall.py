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

from metallb_plugin import defaults, errors
from metallb_plugin.backup import write_backup
from metallb_plugin.commands import duration
from metallb_plugin.core import objects as k8s
from metallb_plugin.errors import ExitCode

METALLB_GROUPS = ("metallb.io", "frrk8s.metallb.io")
# written by MetalLB itself to report state; restoring them would only leave stale reports behind
STATUS_KINDS = ("ServiceL2Status", "ServiceBGPStatus", "ConfigurationState", "FRRNodeState", "BGPSessionState")
SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


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
    parser.add_argument(
        "--timeout",
        type=duration,
        default=defaults.UNINSTALL_TIMEOUT,
        metavar="DURATION",
        help="how long to wait until the CRDs are gone (default 1m)",
    )


def run(args, ctx):
    from metallb_plugin.commands.install import read_inventory
    from metallb_plugin.core import installation

    client = ctx.connect(args)
    namespace = args.namespace
    refs, details = read_inventory(client, namespace)
    deployments = client.list("/apis/apps/v1/deployments")
    found = installation.find_installation(deployments, client.list("/apis/apps/v1/daemonsets"), namespace=namespace)
    if found and found.namespace != namespace:
        found = None
    if refs is None:
        if found and found.managed_by == installation.HELM:
            raise errors.PluginError(
                f"MetalLB in {namespace} was installed with Helm (release "
                f"{found.helm_release or 'unknown'}): remove it with `helm uninstall`"
            )
        if found and found.managed_by == installation.OPERATOR:
            raise errors.PluginError(
                f"MetalLB in {namespace} is managed by metallb-operator: delete its MetalLB resource, then the operator"
            )
        if found:
            raise errors.PluginError(
                f"MetalLB {found.version or ''} in {namespace} was not installed by `kubectl metallb install` (no "
                f"ConfigMap {defaults.INVENTORY}); remove it the way it was installed, e.g. `kubectl delete -f <manifest>`"
            )
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

    removed = _delete_all(ctx, client, args, refs, namespace, defaults.INVENTORY)
    _wait_until_gone(
        ctx,
        client,
        [r["name"] for r in removed if r["kind"] == "CustomResourceDefinition" and r["result"] == "deleted"],
        args.timeout,
    )
    deleted = sum(1 for r in removed if r["result"] == "deleted")
    ctx.say(
        f"MetalLB {version} removed from {namespace}: {deleted} object(s) deleted"
        + (", CRDs and namespace kept" if args.keep_crds else "")
    )
    _emit(
        ctx,
        args,
        {
            "namespace": namespace,
            "version": version,
            "backup": os.path.abspath(backup),
            "backedUp": count,
            "objects": removed,
        },
    )
    return ExitCode.OK


def _wait_until_gone(ctx, client, crds, timeout):
    """The API server deletes a CRD's custom resources before the CRD itself; wait for that, so that an install
    right after this one does not meet CRDs that are still being deleted."""
    from metallb_plugin import cluster

    deadline = ctx.monotonic() + timeout
    while crds:
        crds = [
            name
            for name in crds
            if client.get_or_none(cluster.api_path("apiextensions.k8s.io/v1", "customresourcedefinitions", name=name))
            is not None
        ]
        if crds and ctx.monotonic() > deadline:
            raise errors.WaitTimeout(
                f"{len(crds)} CRD(s) are still being deleted after {timeout:g}s "
                f"({', '.join(crds)}); see `kubectl get crd {crds[0]} -o yaml`"
            )
        if crds:
            ctx.sleep(0.5)


def _emit(ctx, args, doc):
    if args.output != "table":
        ctx.emit(doc, args.output, lambda d: "")


def _crd_refs(refs):
    return [
        r for r in refs if r["kind"] == "CustomResourceDefinition" and r["name"].split(".", 1)[-1] in METALLB_GROUPS
    ]


def _custom_resources(client, refs, group_filter=None):
    """Every custom resource of the install's CRDs, in all namespaces: [(crd, [objects])]."""
    from metallb_plugin import cluster

    found = []
    for ref in _crd_refs(refs):
        crd = client.get_or_none(
            cluster.api_path("apiextensions.k8s.io/v1", "customresourcedefinitions", name=ref["name"])
        )
        if not crd:
            continue
        spec = crd.get("spec") or {}
        if group_filter and spec.get("group") != group_filter:
            continue
        version = k8s.crd_version(crd)
        if not version:
            continue
        items = client.list(cluster.api_path(f"{spec['group']}/{version}", spec["names"]["plural"]))
        found.append((crd, items))
    return found


def _services_holding_addresses(client, namespace, refs):
    """ "namespace/name ip (pool)" for LoadBalancer Services with a MetalLB address."""
    from metallb_plugin.core import ipam

    pools = {}
    for crd, items in _custom_resources(client, refs, group_filter="metallb.io"):
        if crd["spec"]["names"]["kind"] != "IPAddressPool":
            continue
        for pool in items:
            if (pool.get("metadata") or {}).get("namespace") != namespace:
                continue
            pools[k8s.name(pool)] = k8s.pool_ranges(pool, lenient=True)[0]  # every address it may have handed out
    services = [s for s in client.list("/api/v1/services") if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    usage = ipam.usage(services, pools)
    holders = {}
    for pool, used in usage.pools.items():
        for service in used.services:
            holders.setdefault(service, set()).add(pool)
    for service in services:
        meta = service.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        pool = next((annotations[k] for k in ipam.ALLOCATED_FROM_POOL if annotations.get(k)), None)
        if pool and ipam.ingress_ips(service):
            holders.setdefault(f"{meta.get('namespace')}/{meta.get('name')}", set()).add(pool)
    by_name = {
        f"{(s.get('metadata') or {}).get('namespace')}/{(s.get('metadata') or {}).get('name')}": s for s in services
    }
    lines = []
    for name in sorted(holders):
        ips = ", ".join(ipam.ingress_ips(by_name[name])) or "no address in status"
        lines.append(f"{name} {ips} (pool {', '.join(sorted(holders[name]))})")
    return lines


def _clean(obj):
    import copy

    obj = copy.deepcopy(obj)
    meta = obj.get("metadata") or {}
    for field in SERVER_FIELDS:
        meta.pop(field, None)
    annotations = meta.get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if not annotations:
        meta.pop("annotations", None)
    obj.pop("status", None)
    return obj


def _backup(ctx, client, refs, path):
    """Write every custom resource of the install's CRDs to path (0600: BGP passwords live there)."""
    import yaml

    objects = []
    for crd, items in _custom_resources(client, refs):
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        if kind in STATUS_KINDS:
            continue
        for item in items:
            item.setdefault("apiVersion", f"{group}/{k8s.crd_version(crd)}")
            item.setdefault("kind", kind)
            objects.append(_clean(item))
    header = (
        f"# MetalLB configuration backed up by `kubectl metallb uninstall` on "
        f"{ctx.now().astimezone().isoformat(timespec='seconds')}: {len(objects)} object(s).\n"
        "# Restore after reinstalling with: kubectl apply -f <this file>\n"
    )
    body = yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True) if objects else ""
    write_backup(path, header + body)
    return len(objects)


def _delete_all(ctx, client, args, refs, namespace, inventory):
    """Delete the recorded objects, last installed first; [{ref..., result}]."""
    from metallb_plugin import cluster
    from metallb_plugin.core import manifests

    keep_kinds = {"CustomResourceDefinition", "Namespace"} if args.keep_crds else set()
    ordered = sorted(refs, key=lambda r: manifests.KINDS.get(r["kind"], (None, None, None, 0))[3], reverse=True)
    inventory_ref = {"apiVersion": "v1", "kind": "ConfigMap", "namespace": namespace, "name": inventory}
    # the record goes just before the namespace (or last when the namespace stays)
    position = next((i for i, r in enumerate(ordered) if r["kind"] == "Namespace"), len(ordered))
    ordered.insert(position, inventory_ref)
    results = []
    for ref in ordered:
        if ref["kind"] in keep_kinds:
            continue
        spec = manifests.KINDS.get(ref["kind"])
        if spec is None:
            continue
        path = cluster.api_path(ref["apiVersion"], spec[1], ref.get("namespace") if spec[2] else None, ref["name"])
        obj = {"apiVersion": ref["apiVersion"], "kind": ref["kind"], "metadata": {"name": ref["name"]}}
        try:
            client.delete(path)
            result = "deleted"
        except errors.NotFound:
            result = "not found"
        results.append({**ref, "result": result})
        if args.output == "table":
            ctx.out(f"{manifests.describe(obj)} {result}")
    return results
