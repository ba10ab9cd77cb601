"""uninstall's reads and waits (the shell): the configuration to back up, what else lives in MetalLB's namespace,
the delete steps, and waiting until the CRDs and the namespace are really gone.

The decisions are core/install/removal.py's; the writes go through writes.carry_out like every other write.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from metallb_plugin import cluster, errors
from metallb_plugin.backup import write_backup
from metallb_plugin.context import Cluster, Context
from metallb_plugin.core import backups, manifests
from metallb_plugin.core import objects as k8s
from metallb_plugin.core import plan as model
from metallb_plugin.core.install import inventory, removal
from metallb_plugin.core.plan import Step, Write
from metallb_plugin.defaults import READ_WORKERS

Obj = Dict[str, Any]
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@dataclass
class Backup:
    objects: List[Obj] = field(default_factory=list)
    secrets: List[str] = field(default_factory=list)  # namespace/name of the Secrets in it
    configmaps: List[str] = field(default_factory=list)  # namespace/name of MetalLB ConfigMaps changed since install


def custom_resources(client: Cluster, refs: List[Dict[str, str]], group: Optional[str] = None) -> List[Any]:
    """Every custom resource of the install's CRDs (of one group), in all namespaces: [(crd, [objects])]."""
    found = []
    for ref in removal.crd_refs(refs):
        crd = client.get_or_none(f"{CRDS}/{ref['name']}")
        version = k8s.crd_version(crd) if crd else None
        if crd is None or not version or (group and crd["spec"].get("group") != group):
            continue
        path = cluster.api_path(f"{crd['spec']['group']}/{version}", crd["spec"]["names"]["plural"])
        found.append((crd, client.list(path)))
    return found


def backup_contents(client: Cluster, refs: List[Dict[str, str]], resources: List[Any]) -> Backup:
    """The configuration (custom resources but MetalLB's status reports), the Secrets BGPPeers take passwords from,
    and the ConfigMaps install applied that were changed since (their data has another field manager)."""
    found = Backup(removal.backup_objects(resources))
    peers = [item for crd, items in resources if crd["spec"]["names"]["kind"] == "BGPPeer" for item in items]
    for namespace, name in removal.password_secrets(peers):
        secret = client.get_or_none(cluster.api_path("v1", "secrets", namespace, name))
        if secret is not None:
            found.objects.append(backups.restorable(secret, "v1", "Secret"))
            found.secrets.append(f"{namespace}/{name}")
    configmaps = [
        client.get_or_none(cluster.api_path("v1", "configmaps", r.get("namespace"), r["name"]))
        for r in refs
        if r["kind"] == "ConfigMap"
    ]
    for cm in removal.edited_configmaps([c for c in configmaps if c is not None]):
        found.objects.append(backups.restorable(cm, "v1", "ConfigMap"))
        found.configmaps.append(k8s.key(cm))
    return found


def write(ctx: Context, path: str, contents: Backup, version: str) -> None:
    header = (
        f"MetalLB configuration backed up by `kubectl metallb uninstall` on "
        f"{ctx.now().astimezone().isoformat(timespec='seconds')}: {len(contents.objects)} object(s) of MetalLB "
        f"{version}.\nRestore after installing MetalLB again with: kubectl metallb restore <this file>\n"
        "(or kubectl apply -f <this file>)."
    )
    write_backup(path, backups.text(contents.objects, header))
    ctx.say(f"backed up {len(contents.objects)} object(s) to {os.path.abspath(path)} (mode 0600)")
    if contents.secrets:
        ctx.say(f"note: the backup holds Secret(s) {', '.join(contents.secrets)} (BGP passwords): keep it private")


# ------------------------------------------------------------------------------------------- the namespace


def _resources(client: Cluster) -> List[Tuple[str, str, str]]:
    """(apiVersion, plural, kind) of every namespaced kind that can be listed and deleted (discovery)."""
    versions = ["v1"] + [
        g["preferredVersion"]["groupVersion"]
        for g in (client.get("/apis") or {}).get("groups") or []
        if g.get("preferredVersion")
    ]

    def read(version: str) -> List[Tuple[str, str, str]]:
        try:
            found = client.get("/api/v1" if version == "v1" else f"/apis/{version}") or {}
        except errors.APIError:  # an aggregated API that is down: the namespace controller would stall on it too
            return []
        return [
            (version, r["name"], r["kind"])
            for r in found.get("resources") or []
            if r.get("namespaced") and "/" not in r["name"] and {"list", "delete"} <= set(r.get("verbs") or [])
        ]

    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        return [r for found in pool.map(read, versions) for r in found]


def others_in_namespace(
    client: Cluster, namespace: str, refs: List[Dict[str, str]], contents: Backup
) -> Tuple[List[str], List[str]]:
    """(objects in the namespace that are not MetalLB's, kinds that could not be listed)."""

    def read(resource: Tuple[str, str, str]) -> Tuple[List[Obj], str]:
        version, plural, kind = resource
        try:
            items = client.list(cluster.api_path(version, plural, namespace))
        except errors.Forbidden:
            return [], f"{plural} (no permission to list them)"
        except errors.APIError:
            return [], ""
        return [dict(i, kind=kind, apiVersion=i.get("apiVersion") or version) for i in items], ""

    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        listed = list(pool.map(read, _resources(client)))
    objects = [o for items, _ in listed for o in items]
    recorded = {(r["kind"], r["name"]) for r in refs}
    uids = {str(k8s.meta(o).get("uid")) for o in objects if (o["kind"], k8s.name(o)) in recorded}
    workloads = [o for o in objects if o["kind"] in ("Deployment", "DaemonSet") and k8s.meta(o).get("uid") in uids]
    secrets = removal.workload_secrets(workloads) | {s.split("/", 1)[1] for s in contents.secrets}
    others = removal.foreign(objects, inventory.deletion_order(refs, namespace), uids, secrets)
    return [manifests.describe(o) for o in others], [why for _, why in listed if why]


# ------------------------------------------------------------------------------------------- steps and waiting


def steps(client: Cluster, refs: List[Dict[str, str]], namespace: str, keep_crds: bool, keep_ns: str) -> List[Step]:
    """A delete per recorded object that still exists, last installed first; the CRDs and the namespace as kept."""
    found = []
    for ref in inventory.deletion_order(refs, namespace):
        spec = manifests.KINDS.get(ref["kind"])
        if spec is None:
            continue
        path = cluster.api_path(ref["apiVersion"], spec[1], ref.get("namespace") if spec[2] else None, ref["name"])
        step = Step(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace") if spec[2] else None)
        if ref["kind"] == "CustomResourceDefinition" and keep_crds:
            step.note = "kept: --keep-crds"
        elif ref["kind"] == "Namespace" and keep_ns:
            step.note = f"kept: {keep_ns}"
        else:
            step.before = client.get_or_none(path)
            if step.before is None:
                continue
            step.write = Write("delete", path)
            if not inventory.same_object(ref, step.before):
                step.foreign = "it is not the object install made (deleted and made again since, by someone else?)"
            elif not ref.get("uid") and not model.managed_by_us(step.before):
                step.foreign = "it was not installed by kubectl metallb (made again by someone else?)"
        found.append(step)
    return found


def wait_until_gone(ctx: Context, client: Cluster, deleted: List[Step], timeout: float) -> None:
    """The API server deletes a CRD's custom resources before the CRD, and the namespace controller empties a
    namespace before it goes: wait for both, so that an install right after this one works. On timeout, say what
    holds them (the namespace's finalizers and conditions)."""
    pending = [s for s in deleted if s.kind in ("CustomResourceDefinition", "Namespace") and s.write is not None]
    deadline = ctx.monotonic() + timeout
    progress = ctx.progress()
    while True:
        live = {id(s): client.get_or_none(s.write.path) for s in pending if s.write is not None}
        pending = [s for s in pending if live[id(s)] is not None]
        if not pending:
            progress.done()
            return
        progress.update(f"waiting for {', '.join(s.describe() for s in pending[:3])} to be gone")
        if ctx.monotonic() > deadline:
            progress.done()
            raise errors.WaitTimeout(_stuck(pending, live, timeout))
        ctx.sleep(0.5)


def _stuck(pending: List[Step], live: Dict[int, Any], timeout: float) -> str:
    parts = []
    for step in pending:
        if step.kind == "Namespace":
            parts.append(
                f"namespace {step.name} is still {removal.terminating(live[id(step)]) or 'there'} (the namespace "
                "controller of kube-controller-manager empties it, then removes the `kubernetes` finalizer)"
            )
        else:
            parts.append(f"{step.describe()} ({removal.terminating(live[id(step)]) or 'still there'})")
    return (
        f"still being deleted after {timeout:g}s: {'; '.join(parts)}. Everything else was removed; see "
        f"`kubectl get {pending[0].kind.lower()} {pending[0].name} -o yaml`"
    )
