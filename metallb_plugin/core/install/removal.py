"""uninstall, the pure parts: whether to refuse, which Services still hold MetalLB addresses, what the backup
holds (the configuration, the Secrets BGPPeers use, ConfigMaps changed since install), what else deleting the
namespace would destroy, and why a namespace is still Terminating."""

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from metallb_plugin.core import backups, installation, manifests, pool_usage
from metallb_plugin.core import objects as k8s
from metallb_plugin.defaults import FIELD_MANAGER, INVENTORY

Obj = Dict[str, Any]

METALLB_GROUPS = ("metallb.io", "frrk8s.metallb.io")
# written by MetalLB itself to report state; restoring them would only leave stale reports behind
STATUS_KINDS = ("ServiceL2Status", "ServiceBGPStatus", "ConfigurationState", "FRRNodeState", "BGPSessionState")


def refusal(found: Any, namespace: str) -> Optional[str]:
    """Why uninstall leaves a MetalLB it finds without install's record alone."""
    if found and found.managed_by == installation.HELM:
        return (
            f"MetalLB in {namespace} was installed with Helm (release {found.helm_release or 'unknown'}): remove it "
            "with `helm uninstall`"
        )
    if found and found.managed_by == installation.OPERATOR:
        return f"MetalLB in {namespace} is managed by metallb-operator: delete its MetalLB resource, then the operator"
    if found:
        return (
            f"MetalLB {found.version or ''} in {namespace} was not installed by `kubectl metallb install` (no "
            f"ConfigMap {INVENTORY}); remove it the way it was installed, e.g. `kubectl delete -f <manifest>`"
        )
    return None


def terminating(namespace: Optional[Obj]) -> str:
    """Why a namespace being deleted is still there ("" when it is not being deleted): since when, the finalizers
    it waits for and what the namespace controller reports as left (its True status conditions)."""
    meta = (namespace or {}).get("metadata") or {}
    if not meta.get("deletionTimestamp"):
        return ""
    finalizers = list((namespace or {}).get("spec", {}).get("finalizers") or []) + list(meta.get("finalizers") or [])
    text = f"Terminating since {meta['deletionTimestamp']}"
    if finalizers:
        text += f"; finalizers: {', '.join(finalizers)}"
    conditions = [
        c.get("message") or c.get("type")
        for c in ((namespace or {}).get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    ]
    if conditions:
        text += f"; {'; '.join(conditions)}"
    return text


def crd_refs(refs: Iterable[Mapping[str, str]]) -> List[Mapping[str, str]]:
    """The recorded CRDs of MetalLB's groups (their custom resources are the configuration)."""
    return [
        r for r in refs if r["kind"] == "CustomResourceDefinition" and r["name"].split(".", 1)[-1] in METALLB_GROUPS
    ]


def holders(pools: Mapping[str, Sequence[Any]], services: Sequence[Obj]) -> List[str]:
    """ "namespace/name ips (pool ...)" of LoadBalancer Services holding an address of the pools (by range or by
    MetalLB's allocation annotation)."""
    found: Dict[str, Set[str]] = {}
    for pool_name, used in pool_usage.usage(services, pools).pools.items():
        for holder in used.services:
            found.setdefault(holder, set()).add(pool_name)
    for service in services:
        pool = pool_usage.annotated_pool(service)
        if pool and pool_usage.ingress_ips(service):
            found.setdefault(k8s.key(service), set()).add(pool)
    by_key = {k8s.key(s): s for s in services}
    return [
        f"{key} {', '.join(pool_usage.ingress_ips(by_key[key])) or 'no address in status'} "
        f"(pool {', '.join(sorted(found[key]))})"
        for key in sorted(found)
    ]


def backup_objects(crds_and_items: Iterable[Any]) -> List[Obj]:
    """The configuration to back up from [(crd, [custom resources])]: every kind but MetalLB's status reports."""
    found = []
    for crd, items in crds_and_items:
        kind = crd["spec"]["names"]["kind"]
        if kind in STATUS_KINDS:
            continue
        for item in items:
            found.append(backups.restorable(item, f"{crd['spec']['group']}/{k8s.crd_version(crd)}", kind))
    return found


def password_secrets(peers: Iterable[Obj]) -> List[Tuple[str, str]]:
    """(namespace, name) of the Secrets BGPPeers take their password from (spec.passwordSecret)."""
    found: Dict[Tuple[str, str], None] = {}
    for peer in peers:
        ref = k8s.spec(peer).get("passwordSecret") or {}
        if ref.get("name"):
            found.setdefault((ref.get("namespace") or k8s.namespace(peer), ref["name"]))
    return list(found)


def edited_configmaps(configmaps: Iterable[Obj]) -> List[Obj]:
    """The ConfigMaps whose data another field manager set: changed since install applied the release's."""
    return [
        cm
        for cm in configmaps
        if any(
            m.get("manager") != FIELD_MANAGER and "f:data" in (m.get("fieldsV1") or {})
            for m in k8s.meta(cm).get("managedFields") or []
        )
    ]


def workload_secrets(workloads: Iterable[Obj]) -> Set[str]:
    """Names of the Secrets MetalLB's workloads use (volumes, secret env references, the memberlist Secret the
    controller creates at run time)."""
    found: Set[str] = set()
    for workload in workloads:
        pod = k8s.pod_spec(workload)
        found |= {(v.get("secret") or {}).get("secretName") or "" for v in pod.get("volumes") or []}
        for container in k8s.containers(workload):
            for variable in container.get("env") or []:
                if variable.get("name") == "METALLB_ML_SECRET_NAME":
                    found.add(str(variable.get("value") or ""))
                found.add(((variable.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") or "")
    return found - {""}


# what the cluster itself puts in every namespace, and reports nobody restores
IMPLICIT = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
EVENT_GROUPS = {("", "Event"), ("events.k8s.io", "Event")}


def foreign(objects: Iterable[Obj], refs: Iterable[Mapping[str, str]], uids: Set[str], secrets: Set[str]) -> List[Obj]:
    """The objects in MetalLB's namespace that are not MetalLB's: not recorded by install (refs), not made by
    what it installed (ownerReferences to uids, transitively), not a metallb.io object, not a Secret its workloads
    use, not an Event or what the cluster puts in every namespace. Deleting the namespace would destroy them."""
    recorded = {(r["kind"], r["name"]) for r in refs}
    services = {name for kind, name in recorded if kind == "Service"}
    pending = list(objects)
    owned = set(uids)
    found_more = True
    while found_more:  # Pods belong to ReplicaSets that belong to Deployments: follow the chain
        found_more = False
        for obj in pending:
            if k8s.meta(obj).get("uid") not in owned and any(
                o.get("uid") in owned for o in k8s.meta(obj).get("ownerReferences") or []
            ):
                owned.add(k8s.meta(obj)["uid"])
                found_more = True
    result = []
    for obj in pending:
        kind, group = obj.get("kind", ""), manifests.group_of(obj)
        if (
            (kind, k8s.name(obj)) in recorded | IMPLICIT
            or k8s.meta(obj).get("uid") in owned
            or group in METALLB_GROUPS
            or (group, kind) in EVENT_GROUPS
            or (kind == "Secret" and k8s.name(obj) in secrets)
            or (kind == "Endpoints" and k8s.name(obj) in services)
            or (kind == "EndpointSlice" and k8s.labels(obj).get("kubernetes.io/service-name") in services)
            or (kind == "Secret" and obj.get("type") == "kubernetes.io/service-account-token")
        ):
            continue
        result.append(obj)
    return result
