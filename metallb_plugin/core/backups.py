"""Backup files (pure): complete objects as YAML that `kubectl metallb restore FILE` (or kubectl) restores as is.

restorable(obj, api_version, kind)  the object without what the server sets (uid, resourceVersion, managedFields,
                                    creationTimestamp, ...), its status and kubectl's last-applied annotation; a
                                    LIST item gets its apiVersion and kind back
text(objects, header)               a multi-document YAML file, restore order, a comment header
load(text)                          the objects of a backup: multi-document YAML or a v1 List; ValueError saying
                                    which document is not a complete object
restore_order(objects)              Namespaces, Secrets and ConfigMaps first, then MetalLB's kinds as they refer
                                    to each other (BFD profiles and communities before peers and pools, pools
                                    before advertisements), anything else last
"""

import copy
from typing import Any, Dict, List, Optional

Obj = Dict[str, Any]

SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences")  # fmt: skip
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ORDER = ("Namespace", "Secret", "ConfigMap", "BFDProfile", "Community", "IPAddressPool", "BGPPeer",
         "BGPAdvertisement", "L2Advertisement")  # fmt: skip


def restorable(obj: Obj, api_version: Optional[str] = None, kind: Optional[str] = None) -> Obj:
    """A complete object as it restores: apiVersion and kind first, no server-set metadata, no status."""
    found: Obj = copy.deepcopy(obj)
    meta = found.get("metadata") or {}
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    annotations.pop(LAST_APPLIED, None)
    if not annotations:
        meta.pop("annotations", None)
    found.pop("status", None)
    head = {"apiVersion": found.pop("apiVersion", None) or api_version, "kind": found.pop("kind", None) or kind}
    return {**head, **found}


def restore_order(objects: List[Obj]) -> List[Obj]:
    return sorted(objects, key=lambda o: ORDER.index(o["kind"]) if o.get("kind") in ORDER else len(ORDER))


def text(objects: List[Obj], header: str) -> str:
    """The backup file: a comment header, then one YAML document per object in restore order."""
    import yaml

    lines = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    body = yaml.safe_dump_all(restore_order(objects), sort_keys=False, explicit_start=True) if objects else ""
    return lines + str(body)


def load(content: str) -> List[Obj]:
    """The objects of a backup file (multi-document YAML or a v1 List); ValueError naming a bad document."""
    from metallb_plugin.core import manifests

    try:
        documents = manifests.parse(content, source="the backup", lists=True)
    except manifests.ManifestError as exc:
        raise ValueError(str(exc)) from None
    objects = []
    for doc in documents:
        for obj in doc["items"] if doc.get("kind") == "List" else [doc]:  # a v1 List (kubectl get -o yaml)
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            if not isinstance(meta, dict) or not obj.get("apiVersion") or not obj.get("kind") or not meta.get("name"):
                raise ValueError("an item of a List in the backup lacks apiVersion, kind or metadata.name")
            objects.append(obj)
    for obj in objects:
        meta = obj["metadata"]
        meta.pop("resourceVersion", None)  # a restore creates the object anew or applies over the live one
        meta.pop("uid", None)
    return objects
