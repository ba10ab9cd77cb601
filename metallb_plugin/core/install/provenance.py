"""Where a --manifest comes from: compared object by object with the closest pinned release file (pure).

The plugin does not carry MetalLB's manifests, only what tools/manifests/derive.py derives from every pinned release
file (pinned.json next to this module): each object's identity and digest, the rules and bindings of its RBAC
objects and the images of its workloads. A manifest whose sha256 is not pinned is compared with the closest pinned
file (same mode and Prometheus variant, nearest version): objects it adds, changes or lacks are listed, with what
changed in RBAC rules, bindings and images. Added kinds, added or changed RBAC (and, flagged, anything binding
cluster-admin/admin/edit or granting `*`) make install want --yes even on a terminal: that is what a tampered
manifest would change to take over a cluster.
"""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from metallb_plugin.core import releases

Obj = Dict[str, Any]
Index = Dict[str, Dict[str, Any]]

RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
WORKLOAD_KINDS = ("Deployment", "DaemonSet")
POWERFUL_ROLES = ("cluster-admin", "admin", "edit")
MONITORING_KINDS = ("ServiceMonitor", "PodMonitor")


def digest(obj: Obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]


def identity(obj: Obj) -> List[str]:
    meta = obj.get("metadata") or {}
    return [str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name"))]


def _rbac(obj: Obj) -> Obj:
    if obj.get("kind") in ("Role", "ClusterRole"):
        return {"rules": obj.get("rules") or []}
    return {"roleRef": obj.get("roleRef") or {}, "subjects": obj.get("subjects") or []}


def _images(obj: Obj) -> List[str]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [str(c.get("image")) for key in ("initContainers", "containers") for c in spec.get(key) or []]


def add(index: Index, key: str, data: bytes) -> None:
    """Add what a release file holds to the index (tools/manifests/derive.py)."""
    from metallb_plugin.core import manifests

    digests = []
    for obj in manifests.parse(data):
        found = digest(obj)
        digests.append(found)
        index["objects"][found] = identity(obj)
        if obj["kind"] in RBAC_KINDS:
            index["rbac"][found] = _rbac(obj)
        if obj["kind"] in WORKLOAD_KINDS:
            index["images"][found] = _images(obj)
    index["manifests"][key] = " ".join(digests)


_INDEX: Optional[Index] = None


def load() -> Index:
    """pinned.json (read through the package loader: it works from the krew zipapp too)."""
    global _INDEX
    if _INDEX is None:
        import pkgutil

        data = pkgutil.get_data("metallb_plugin.core.install", "pinned.json")
        _INDEX = json.loads(data or b"{}")
    return _INDEX


def closest(index: Index, version: Optional[str], mode: str, prometheus: bool) -> Optional[str]:
    """The pinned file ("tag/file") of the same mode and variant whose version is nearest (ties: the older)."""
    try:
        wanted = releases.parse_version(version or "")
    except ValueError:
        return None
    name = releases.manifest_file(mode if mode in releases.MODES else "native", prometheus)
    candidates = [k for k in index["manifests"] if k.split("/", 1)[1] == name]
    if not candidates:
        return None

    def distance(key: str) -> Tuple[Tuple[int, ...], int]:
        have = releases.parse_version(key.split("/", 1)[0])
        return tuple(abs(a - b) for a, b in zip(have, wanted)), int(have > wanted)

    return min(candidates, key=distance)


# ------------------------------------------------------------------------------------------- comparing


def _rule(rule: Obj) -> str:
    what = ",".join(rule.get("resources") or rule.get("nonResourceURLs") or [])
    groups = [g or "core" for g in rule.get("apiGroups") or []]
    names = f" named {','.join(rule['resourceNames'])}" if rule.get("resourceNames") else ""
    return f"{','.join(rule.get('verbs') or [])} {what}{names}" + (f" ({','.join(groups)})" if groups else "")


def _subject(subject: Obj) -> str:
    where = f"{subject.get('namespace')}/" if subject.get("namespace") else ""
    return f"{subject.get('kind')} {where}{subject.get('name')}"


def _binding(rbac: Obj) -> str:
    ref = rbac.get("roleRef") or {}
    subjects = ", ".join(_subject(s) for s in rbac.get("subjects") or []) or "nobody"
    return f"binds {ref.get('kind')} {ref.get('name')} to {subjects}"


def risks(obj: Obj) -> List[str]:
    """What makes an RBAC object dangerous: binding a powerful role, granting `*`."""
    found = []
    rbac = _rbac(obj)
    if obj.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
        role = (rbac.get("roleRef") or {}).get("name")
        if role in POWERFUL_ROLES:
            found.append(f"binds {role}")
    for rule in rbac.get("rules") or []:
        for key in ("verbs", "resources", "apiGroups", "nonResourceURLs"):
            if "*" in (rule.get(key) or []):
                found.append(f"grants * {key}: {_rule(rule)}")
                break
    return found


def _rbac_change(old: Obj, new: Obj) -> List[str]:
    if "rules" in new:
        before = {json.dumps(r, sort_keys=True) for r in old.get("rules") or []}
        after = {json.dumps(r, sort_keys=True) for r in new.get("rules") or []}
        return [f"+ rule: {_rule(json.loads(r))}" for r in sorted(after - before)] + [
            f"- rule: {_rule(json.loads(r))}" for r in sorted(before - after)
        ]
    return [f"was: {_binding(old)}; now: {_binding(new)}"]


@dataclass
class Report:
    reference: Optional[str]  # "tag/file" compared with; None: nothing to compare with
    lines: List[str] = field(default_factory=list)  # added / changed / missing objects, with details
    risky: List[str] = field(default_factory=list)
    needs_yes: bool = False

    def document(self) -> Obj:
        return {"comparedWith": self.reference, "differences": self.lines, "risks": self.risky}


def compare(objects: List[Obj], index: Index, reference: str) -> Report:
    """The differences between a manifest's objects and a pinned release file's."""
    known = {d: index["objects"][d] for d in index["manifests"][reference].split()}
    by_identity = {tuple(v): d for d, v in known.items()}
    kinds = {v[0] for v in known.values()}
    report = Report(reference)
    seen = set()
    for obj in objects:
        found, ident = digest(obj), tuple(identity(obj))
        seen.add(ident)
        if found in known:
            continue
        kind, namespace, name = ident
        what = f"{kind} {namespace + '/' if namespace else ''}{name}"
        danger = risks(obj) if kind in RBAC_KINDS else []
        report.risky += [f"{what}: {r}" for r in danger]
        if ident not in by_identity:
            detail = f" ({_binding(_rbac(obj))})" if kind in ("RoleBinding", "ClusterRoleBinding") else ""
            report.lines.append(f"added: {what}{' (a kind the release does not have)' if kind not in kinds else ''}"
                                f"{detail}")  # fmt: skip
            report.needs_yes |= kind in RBAC_KINDS or kind not in kinds
            continue
        old = by_identity[ident]
        details: List[str] = []
        if kind in RBAC_KINDS:
            details = _rbac_change(index["rbac"].get(old) or {}, _rbac(obj))
            report.needs_yes = True
        elif kind in WORKLOAD_KINDS and _images(obj) != index["images"].get(old):
            details = [f"images {', '.join(_images(obj))} (the release: {', '.join(index['images'].get(old) or [])})"]
        report.lines.append(f"changed: {what}" + (f": {'; '.join(details)}" if details else ""))
    for ident in by_identity:
        if ident not in seen:
            kind, namespace, name = ident
            report.lines.append(f"missing: {kind} {namespace + '/' if namespace else ''}{name}")
    return report


def check(objects: List[Obj], version: Optional[str], mode: str) -> Report:
    """Compare a manifest that is not a pinned release file with the closest one."""
    index = load()
    prometheus = any(o.get("kind") in MONITORING_KINDS for o in objects)
    reference = closest(index, version, mode, prometheus) if index.get("manifests") else None
    if reference is None:
        return Report(None, [f"no pinned MetalLB release to compare it with (version {version}, mode {mode})"],
                      needs_yes=True)  # fmt: skip
    return compare(objects, index, reference)
