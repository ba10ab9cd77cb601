"""What install applied, recorded in a ConfigMap in MetalLB's namespace, so that an upgrade removes what the new
release no longer has and uninstall deletes exactly what install created (pure)."""

import json
from typing import Any, Dict, Iterable, List, Optional, Tuple

from metallb_plugin.core import manifests
from metallb_plugin.defaults import INVENTORY, MANAGED_BY

Obj = Dict[str, Any]
Ref = Dict[str, str]


def ref(obj: Obj) -> Ref:
    """apiVersion, kind, name (and namespace) of a manifest object."""
    meta = obj["metadata"]
    found = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"]}
    if meta.get("namespace"):
        found["namespace"] = meta["namespace"]
    return found


def ref_key(found: Ref) -> Tuple[str, str, str, str]:
    """Identity of a ref across API versions: (group, kind, namespace, name)."""
    api_version = found["apiVersion"]
    return (
        api_version.split("/")[0] if "/" in api_version else "",
        found["kind"],
        found.get("namespace", ""),
        found["name"],
    )


def step(found: Ref) -> int:
    """The apply step of a ref's kind (manifests.KINDS); unknown kinds first, so they are deleted last."""
    return int(manifests.KINDS.get(found["kind"], (None, None, None, 0))[3])


def merge(old: Optional[Iterable[Ref]], new: Iterable[Ref]) -> List[Ref]:
    """new, then what only old has: recorded before applying, so an interrupted upgrade can still be undone. A new
    ref keeps the uid old recorded for the same object."""
    old = list(old or [])
    uids = {ref_key(r): r["uid"] for r in old if r.get("uid")}
    seen, merged = set(), []
    for found in list(new) + old:
        if ref_key(found) not in seen:
            seen.add(ref_key(found))
            uid = found.get("uid") or uids.get(ref_key(found))
            merged.append({**found, "uid": uid} if uid else found)
    return merged


def with_uids(refs: Iterable[Ref], uids: Dict[Tuple[str, str, str, str], str]) -> List[Ref]:
    """The refs with the uid of the object each names (uninstall deletes only that object, not one made again)."""
    return [{**r, "uid": uids[ref_key(r)]} if uids.get(ref_key(r)) else dict(r) for r in refs]


def same_object(ref: Ref, live: Obj) -> bool:
    """Whether the live object is the one install recorded (same uid; a ref without uid cannot tell: True)."""
    return not ref.get("uid") or ref["uid"] == (live.get("metadata") or {}).get("uid")


def stale(old: Optional[Iterable[Ref]], new: Iterable[Ref]) -> List[Ref]:
    """What the previous install created that this one does not have, last applied first."""
    keys = {ref_key(r) for r in new}
    return sorted((r for r in old or [] if ref_key(r) not in keys), key=step, reverse=True)


def configmap(namespace: str, refs: List[Ref], details: Dict[str, str]) -> Obj:
    """The inventory ConfigMap: the refs (JSON) and details (version, mode, source, sha256)."""
    data = dict(details)
    data["objects"] = json.dumps(refs, indent=0, sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": INVENTORY, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "data": data,
    }


def parse(found: Optional[Obj], namespace: str) -> Tuple[Optional[List[Ref]], Dict[str, str]]:
    """The refs and details of an inventory ConfigMap; (None, {}) without one; ValueError when it is corrupt."""
    if not found:
        return None, {}
    data = found.get("data") or {}
    try:
        refs = json.loads(data.get("objects") or "[]")
    except ValueError:
        raise ValueError(
            f"ConfigMap {namespace}/{INVENTORY} (install's record) is corrupt: its objects are not JSON"
        ) from None
    return refs, data


def deletion_order(refs: Iterable[Ref], namespace: str) -> List[Ref]:
    """Everything recorded, last installed first, with the record itself just before the namespace."""
    ordered = sorted(refs, key=step, reverse=True)
    record = {"apiVersion": "v1", "kind": "ConfigMap", "namespace": namespace, "name": INVENTORY}
    position = next((i for i, r in enumerate(ordered) if r["kind"] == "Namespace"), len(ordered))
    ordered.insert(position, record)
    return ordered
