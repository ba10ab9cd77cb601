"""uninstall, the pure parts: whether to refuse, which Services still hold MetalLB addresses, and the backup of
the configuration (restorable with `kubectl apply -f`)."""

import copy
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set

from metallb_plugin.core import installation, ipam
from metallb_plugin.core import objects as k8s
from metallb_plugin.defaults import INVENTORY

Obj = Dict[str, Any]

METALLB_GROUPS = ("metallb.io", "frrk8s.metallb.io")
# written by MetalLB itself to report state; restoring them would only leave stale reports behind
STATUS_KINDS = ("ServiceL2Status", "ServiceBGPStatus", "ConfigurationState", "FRRNodeState", "BGPSessionState")
SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                 "deletionTimestamp", "deletionGracePeriodSeconds")  # fmt: skip


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


def crd_refs(refs: Iterable[Mapping[str, str]]) -> List[Mapping[str, str]]:
    """The recorded CRDs of MetalLB's groups (their custom resources are the configuration)."""
    return [
        r for r in refs if r["kind"] == "CustomResourceDefinition" and r["name"].split(".", 1)[-1] in METALLB_GROUPS
    ]


def holders(pools: Mapping[str, Sequence[Any]], services: Sequence[Obj]) -> List[str]:
    """ "namespace/name ips (pool ...)" of LoadBalancer Services holding an address of the pools (by range or by
    MetalLB's allocation annotation)."""
    found: Dict[str, Set[str]] = {}
    for pool_name, used in ipam.usage(services, pools).pools.items():
        for holder in used.services:
            found.setdefault(holder, set()).add(pool_name)
    for service in services:
        pool = next((k8s.annotations(service)[k] for k in ipam.ALLOCATED_FROM_POOL if k8s.annotations(service).get(k)),
                    None)  # fmt: skip
        if pool and ipam.ingress_ips(service):
            found.setdefault(k8s.key(service), set()).add(pool)
    by_key = {k8s.key(s): s for s in services}
    return [
        f"{key} {', '.join(ipam.ingress_ips(by_key[key])) or 'no address in status'} "
        f"(pool {', '.join(sorted(found[key]))})"
        for key in sorted(found)
    ]


def restorable(obj: Obj) -> Obj:
    """An object as `kubectl apply -f` restores it: without what the server sets, its status and the
    last-applied annotation."""
    found: Obj = copy.deepcopy(obj)
    meta = found.get("metadata") or {}
    for field in SERVER_FIELDS:
        meta.pop(field, None)
    annotations = meta.get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if not annotations:
        meta.pop("annotations", None)
    found.pop("status", None)
    return found


def backup_objects(crds_and_items: Iterable[Any]) -> List[Obj]:
    """The configuration to back up from [(crd, [custom resources])]: every kind but MetalLB's status reports."""
    found = []
    for crd, items in crds_and_items:
        kind = crd["spec"]["names"]["kind"]
        if kind in STATUS_KINDS:
            continue
        for item in items:
            item = dict(item, apiVersion=item.get("apiVersion") or f"{crd['spec']['group']}/{k8s.crd_version(crd)}",
                        kind=item.get("kind") or kind)  # fmt: skip
            found.append(restorable(item))
    return found
