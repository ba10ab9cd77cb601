"""Deployments, DaemonSets and their Pods as raw dicts: readiness, why a Pod is not ready, restarts, and which
nodes a DaemonSet should cover (pure).

    deployment_counts(dep)               -> {"desired", "ready", "updated", "available"}
    daemonset_counts(ds)                 -> {"desired", "current", "ready", "updated", "available", "misscheduled"}
    pods_of(workload, pods)              -> the Pods its selector picks, in its namespace
    pod_ready(pod)                       -> bool (the Ready condition)
    why_not_ready(pod, pod_events)       -> one line from the Pod's status and its latest warning event
    restarts(pod, now, recent)           -> [Restart] per container that restarted
    schedulable_nodes(ds, nodes)         -> nodes the DaemonSet's Pods may run on (nodeSelector, required node
                                            affinity, taints vs tolerations)
    nodes_without_ready_pod(ds, nodes, pods) -> sorted node names that should run a Pod but have no ready one
    workload_warnings(kind, workload, events_by_object) -> latest warning events of the workload and (for a
                                            Deployment) its ReplicaSets, e.g. FailedCreate from Pod Security
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from metallb_plugin.core import events as ev
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.selectors import matches


def deployment_counts(dep: Obj) -> Dict[str, int]:
    status = k8s.status(dep)
    desired = k8s.spec(dep).get("replicas", 1)
    return {
        "desired": desired,
        "ready": status.get("readyReplicas", 0),
        "updated": status.get("updatedReplicas", 0),
        "available": status.get("availableReplicas", 0),
    }


def daemonset_counts(ds: Obj) -> Dict[str, int]:
    status = k8s.status(ds)
    return {
        "desired": status.get("desiredNumberScheduled", 0),
        "current": status.get("currentNumberScheduled", 0),
        "ready": status.get("numberReady", 0),
        "updated": status.get("updatedNumberScheduled", 0),
        "available": status.get("numberAvailable", 0),
        "misscheduled": status.get("numberMisscheduled", 0),
    }


def pods_of(workload: Obj, pods: Optional[Iterable[Obj]]) -> List[Obj]:
    namespace = k8s.meta(workload).get("namespace")
    selector = k8s.spec(workload).get("selector")
    return [
        p
        for p in pods or []
        if k8s.meta(p).get("namespace") == namespace and matches(selector, k8s.meta(p).get("labels"))
    ]


def _condition(obj: Obj, kind: str) -> Optional[Obj]:
    return next((c for c in k8s.status(obj).get("conditions") or [] if c.get("type") == kind), None)


def pod_ready(pod: Obj) -> bool:
    ready = _condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


def _container_problem(statuses: Optional[Iterable[Obj]]) -> Optional[str]:
    for status in statuses or []:
        state = status.get("state") or {}
        waiting = state.get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            message = " ".join((waiting.get("message") or "").split())
            return f"container {status.get('name')}: {waiting.get('reason')}" + (f": {message}" if message else "")
        terminated = state.get("terminated")
        if terminated and terminated.get("reason") != "Completed":
            return (
                f"container {status.get('name')}: terminated ({terminated.get('reason', 'Error')}, "
                f"exit code {terminated.get('exitCode')})"
            )
    return None


def why_not_ready(pod: Obj, pod_events: Iterable[Obj] = ()) -> str:
    """Why a Pod is not ready, as one line; the latest warning event is appended when it adds something."""
    status = k8s.status(pod)
    reason: Optional[str] = None
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        reason = f"not scheduled: {scheduled.get('reason', '')}: {' '.join((scheduled.get('message') or '').split())}"
    reason = reason or _container_problem(status.get("initContainerStatuses"))
    reason = reason or _container_problem(status.get("containerStatuses"))
    if reason is None:
        unready = [s.get("name") for s in status.get("containerStatuses") or [] if not s.get("ready")]
        if unready:
            reason = f"container {', '.join(unready)} running but not ready"
        else:
            reason = f"phase {status.get('phase', 'Unknown')}" + (
                f": {status['reason']}" if status.get("reason") else ""
            )
    warning = ev.latest(pod_events, type_="Warning")
    if warning:
        line = " ".join((warning.get("message") or "").split())
        if line and line not in reason:
            reason += f" (event {warning.get('reason')}: {line})"
    return reason


@dataclass(frozen=True)
class Restart:
    pod: str
    container: str
    count: int
    last_reason: str
    finished: Optional[datetime]
    recent: bool


def restarts(pod: Obj, now: datetime, recent: timedelta = timedelta(hours=1)) -> List[Restart]:
    found: List[Restart] = []
    for status in k8s.status(pod).get("containerStatuses") or []:
        times = status.get("restartCount") or 0
        if not times:
            continue
        terminated = (status.get("lastState") or {}).get("terminated") or {}
        finished = ev.parse_time(terminated.get("finishedAt"))
        waiting = ((status.get("state") or {}).get("waiting") or {}).get("reason")
        is_recent = waiting == "CrashLoopBackOff" or (finished is not None and now - finished <= recent)
        reason = terminated.get("reason") or ""
        if terminated.get("exitCode") is not None:
            reason = f"{reason or 'exited'} with code {terminated['exitCode']}"
        found.append(Restart(k8s.name(pod), status.get("name", ""), times, reason, finished, is_recent))
    return found


# ------------------------------------------------------------------------------------------ scheduling


def _requirement_matches(expr: Obj, labels: Mapping[str, str]) -> bool:
    key, operator, values = str(expr.get("key") or ""), expr.get("operator"), expr.get("values") or []
    if operator in ("Gt", "Lt"):
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, ValueError, IndexError):
            return False
        return have > want if operator == "Gt" else have < want
    return matches({"matchExpressions": [expr]}, labels)


def _affinity_allows(pod_spec: Obj, node: Obj) -> bool:
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    labels = k8s.labels(node)
    fields = {"metadata.name": k8s.name(node)}
    return any(
        all(_requirement_matches(e, labels) for e in term.get("matchExpressions") or [])
        and all(_requirement_matches(e, fields) for e in term.get("matchFields") or [])
        for term in terms
    )


def schedulable_nodes(ds: Obj, nodes: Optional[Iterable[Obj]]) -> List[Obj]:
    pod_spec = k8s.pod_spec(ds)
    selector = pod_spec.get("nodeSelector") or {}
    tolerations = k8s.daemon_tolerations(pod_spec)
    chosen = []
    for node in nodes or []:
        labels = k8s.labels(node)
        if any(labels.get(k) != v for k, v in selector.items()):
            continue
        if k8s.blocking_taints(node, tolerations):
            continue
        if not _affinity_allows(pod_spec, node):
            continue
        chosen.append(node)
    return chosen


def nodes_without_ready_pod(ds: Obj, nodes: Optional[Iterable[Obj]], pods: Optional[Iterable[Obj]]) -> List[str]:
    ready_on = {k8s.spec(p).get("nodeName") for p in pods_of(ds, pods) if pod_ready(p)}
    return sorted(k8s.name(n) for n in schedulable_nodes(ds, nodes) if k8s.name(n) not in ready_on)


def workload_warnings(
    kind: str, workload: Obj, events_by_object: Mapping[Tuple[str, str, str], List[Obj]]
) -> List[Obj]:
    """Latest warning event per involved object: the workload itself and, for a Deployment, its ReplicaSets."""
    namespace, own = k8s.meta(workload).get("namespace", ""), k8s.name(workload)
    found = []
    for (obj_kind, obj_ns, obj_name), items in events_by_object.items():
        if obj_ns != namespace:
            continue
        if (obj_kind == kind and obj_name == own) or (
            kind == "Deployment" and obj_kind == "ReplicaSet" and obj_name.startswith(own + "-")
        ):
            warning = ev.latest(items, type_="Warning")
            if warning:
                found.append(warning)
    return sorted(found, key=ev.when)
