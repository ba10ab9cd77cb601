"""What strict-arp reports: the JSON documents of a report and of a change, and their text (pure)."""

from typing import Any, Dict, Optional

from metallb_plugin.core.kubeproxy.locate import DAEMONSET, NAMESPACE, KubeProxy

ANNOTATION = "metallb.io/strict-arp-previous"  # the previous value and time, written with the change
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def refusal(info: KubeProxy) -> Optional[str]:
    """Why the configuration must not be edited here (malformed, or owned by the distribution), or None."""
    if info.editable:
        return None
    if info.problem:
        return (
            f"{info.location.describe()} is malformed: {info.problem}. Nothing was changed; fix the configuration by "
            "hand first"
        )
    if info.location.kind == "CiliumConfig":
        return f"{info.message}. Nothing was changed. {info.hint}"
    return (
        f"{info.distribution}: kube-proxy's configuration lives in {info.location.describe()}, which this plugin "
        f"does not change. {info.hint}. Nothing was changed"
    )


def _yesno(value: Any) -> str:
    return "unknown" if value is None else str(value).lower()


def report_text(doc: Dict[str, Any]) -> str:
    mode = doc["mode"] or "unknown"
    if doc["configuredMode"] == "" and doc["mode"]:
        mode += " (mode is empty: the default)"
    if doc["metallbNeedsChange"] is True:
        needs = "yes: run `kubectl metallb strict-arp --enable`" if doc["editable"] else "yes (see below)"
    else:
        needs = {False: "no", None: "unknown"}[doc["metallbNeedsChange"]]
    rows = [
        ("Distribution", doc["distribution"]),
        ("Configuration", doc["location"]["description"]),
        ("Mode", mode),
        ("Strict ARP", _yesno(doc["strictARP"])),
        ("MetalLB needs a change", needs),
    ]
    width = max(len(k) for k, _ in rows) + 2
    lines = [f"{k + ':':<{width}}{v}" for k, v in rows]
    lines += ["", doc["message"]]
    if doc["problem"]:
        lines.append(f"problem: {doc['problem']}")
    lines += [f"note: {n}" for n in doc["notes"]]
    if doc["hint"]:
        lines.append(f"hint: {doc['hint']}")
    return "\n".join(lines)


def result(
    info: KubeProxy,
    value: bool,
    changed: bool,
    dry_run: bool,
    message: str,
    diff: str = "",
    previous: Any = None,
    backup: Optional[str] = None,
    undo: str = "",
) -> Dict[str, Any]:
    return {
        "location": info.location.as_dict(),
        "distribution": info.distribution,
        "mode": info.mode,
        "strictARP": value,
        "changed": changed,
        "dryRun": dry_run,
        "previous": previous,
        "diff": diff,
        "annotation": ANNOTATION if changed else None,
        "backup": backup if changed else None,
        "undo": undo,
        "restart": None,
        "message": message,
    }


def result_text(doc: Dict[str, Any]) -> str:
    if doc["dryRun"]:
        return str(doc["diff"] or "") + str(doc["message"])
    lines = [doc["message"]]
    if doc["changed"]:
        lines.append(
            f"the previous value ({_yesno(doc['previous']) if doc['previous'] is not None else 'absent'})"
            f" and time are recorded in annotation {doc['annotation']}"
        )
        if doc["backup"]:
            lines.append(f"backup of the ConfigMap written to {doc['backup']}")
        restart = doc.get("restart") or {}
        if restart.get("restarted"):
            lines.append(f"restarted DaemonSet {restart['daemonset']} ({RESTARTED_AT}={restart['restartedAt']})")
        else:
            lines.append(
                f"kube-proxy was not restarted: the change takes effect when it restarts "
                f"(kubectl -n {NAMESPACE} rollout restart daemonset/{DAEMONSET})"
            )
        if restart.get("rollout"):
            lines.append(f"rollout complete: {restart['rollout']['status']}")
        lines.append(
            f"to undo: {doc['undo']}"
            + (f" (or restore the backup: kubectl replace -f {doc['backup']})" if doc["backup"] else "")
        )
    return "\n".join(lines)
