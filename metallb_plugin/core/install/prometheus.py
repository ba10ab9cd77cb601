"""The Prometheus variants fitted to the cluster's Prometheus: manifest transforms, like --image-registry (pure).

    options(account_text, label_texts) -> (Account or None, {label: value}) from the flags; ValueError
    bind_account(objects, account)    -> (objects, changes): every reference to the ServiceAccount the releases
                                         bind (monitoring/prometheus-k8s) now names account
    label_monitors(objects, labels)   -> (objects, changes): labels added to every ServiceMonitor
    fit(manifest, account, labels)    -> changes: both, on a prepared Manifest

In every release from v0.13.5 to v0.16.1 that account appears once, as the subject of RoleBinding prometheus-k8s
(the Role and the RoleBinding are named after it too; those names are left alone). Both transforms refuse a
manifest they cannot change (no such subject, no ServiceMonitor): the flag would silently do nothing.
"""

import copy
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from metallb_plugin.core.manifests import Manifest, ManifestError
from metallb_plugin.core.prometheus import DEFAULT_ACCOUNT, Account, parse_account, parse_label

Obj = Dict[str, Any]
BINDINGS = ("RoleBinding", "ClusterRoleBinding")


def options(account: Optional[str], labels: Optional[Iterable[str]]) -> Tuple[Optional[Account], Dict[str, str]]:
    """--prometheus-service-account and --servicemonitor-label values, checked; ValueError naming the flag."""
    found: Dict[str, str] = {}
    for text in labels or ():
        try:
            key, value = parse_label(text)
        except ValueError as exc:
            raise ValueError(f"--servicemonitor-label: {exc}") from None
        if found.get(key, value) != value:
            raise ValueError(f"--servicemonitor-label: {key} is given twice, as {found[key]} and {value}")
        found[key] = value
    if account is None:
        return None, found
    try:
        return parse_account(account), found
    except ValueError as exc:
        raise ValueError(f"--prometheus-service-account: {exc}") from None


def fit(manifest: Manifest, account: Optional[Account], labels: Mapping[str, str]) -> List[str]:
    """Rebind and label a prepared manifest's objects in place; what changed, one line each."""
    changes: List[str] = []
    if account is not None:
        manifest.objects, changed = bind_account(manifest.objects, account)
        changes += changed
    if labels:
        manifest.objects, changed = label_monitors(manifest.objects, labels)
        changes += changed
    return changes


def _rebind(subject: Dict[str, Any], old: Account, new: Account) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount" and name == old.name and subject.get("namespace") == old.namespace:
        subject["name"], subject["namespace"] = new.name, new.namespace
        return True
    if kind == "User" and name == old.user:
        subject["name"] = new.user
        return True
    return False


def bind_account(objects: List[Obj], account: Account, old: Account = DEFAULT_ACCOUNT) -> Tuple[List[Obj], List[str]]:
    """Copies where the bindings' subjects that name `old` (as a ServiceAccount or its user name) name account."""
    result, changes = [], []
    for obj in objects:
        if obj["kind"] in BINDINGS:
            obj = copy.deepcopy(obj)
            for subject in obj.get("subjects") or []:
                if _rebind(subject, old, account):
                    changes.append(f"{obj['kind']} {obj['metadata']['name']}: subject {old} -> {account}")
        result.append(obj)
    if not changes:
        raise ManifestError(
            f"--prometheus-service-account: the manifest binds no ServiceAccount {old}, so there is nothing to "
            "rebind (only MetalLB's Prometheus variants do)"
        )
    return result, changes


def label_monitors(objects: List[Obj], labels: Mapping[str, str]) -> Tuple[List[Obj], List[str]]:
    """Copies where every ServiceMonitor carries labels; ManifestError when one already has another value."""
    result, changes = [], []
    for obj in objects:
        if obj["kind"] == "ServiceMonitor":
            obj = copy.deepcopy(obj)
            meta = obj["metadata"]
            have = meta.get("labels") or {}
            clash = sorted(k for k in labels if k in have and have[k] != labels[k])
            if clash:
                raise ManifestError(
                    f"--servicemonitor-label {clash[0]}={labels[clash[0]]}: ServiceMonitor {meta['name']} already "
                    f"has {clash[0]}={have[clash[0]]}, which the manifest sets; choose another label"
                )
            meta["labels"] = {**have, **labels}
            added = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in have)
            if added:
                changes.append(f"ServiceMonitor {meta['name']}: labels +{added}")
        result.append(obj)
    if not any(o["kind"] == "ServiceMonitor" for o in objects):
        raise ManifestError(
            "--servicemonitor-label: the manifest has no ServiceMonitor (only MetalLB's Prometheus variants do)"
        )
    return result, changes
