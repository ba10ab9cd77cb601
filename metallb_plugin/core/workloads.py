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
from datetime import timedelta

from metallb_plugin.core import events as ev
from metallb_plugin.core.selectors import matches


def _meta(obj):
    return obj.get("metadata") or {}


def _status(obj):
    return obj.get("status") or {}


def _spec(obj):
    return obj.get("spec") or {}


def name(obj):
    return _meta(obj).get("name", "")


def deployment_counts(dep):
    status = _status(dep)
    desired = _spec(dep).get("replicas", 1)
    return {"desired": desired, "ready": status.get("readyReplicas", 0),
            "updated": status.get("updatedReplicas", 0), "available": status.get("availableReplicas", 0)}


def daemonset_counts(ds):
    status = _status(ds)
    return {"desired": status.get("desiredNumberScheduled", 0), "current": status.get("currentNumberScheduled", 0),
            "ready": status.get("numberReady", 0), "updated": status.get("updatedNumberScheduled", 0),
            "available": status.get("numberAvailable", 0), "misscheduled": status.get("numberMisscheduled", 0)}


def pods_of(workload, pods):
    namespace = _meta(workload).get("namespace")
    selector = _spec(workload).get("selector")
    return [p for p in pods or [] if _meta(p).get("namespace") == namespace
            and matches(selector, _meta(p).get("labels"))]


def _condition(obj, kind):
    return next((c for c in _status(obj).get("conditions") or [] if c.get("type") == kind), None)


def pod_ready(pod):
    ready = _condition(pod, "Ready")
    return bool(ready) and ready.get("status") == "True"


def _container_problem(statuses):
    for status in statuses or []:
        state = status.get("state") or {}
        waiting = state.get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            message = " ".join((waiting.get("message") or "").split())
            return f"container {status.get('name')}: {waiting.get('reason')}" + (f": {message}" if message else "")
        terminated = state.get("terminated")
        if terminated and terminated.get("reason") != "Completed":
            return (f"container {status.get('name')}: terminated ({terminated.get('reason', 'Error')}, "
                    f"exit code {terminated.get('exitCode')})")
    return None


def why_not_ready(pod, pod_events=()):
    """Why a Pod is not ready, as one line; the latest warning event is appended when it adds something."""
    status = _status(pod)
    reason = None
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
            reason = f"phase {status.get('phase', 'Unknown')}" + (f": {status['reason']}" if status.get("reason")
                                                                   else "")
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
    finished: object  # datetime or None
    recent: bool


def restarts(pod, now, recent=timedelta(hours=1)):
    found = []
    for status in _status(pod).get("containerStatuses") or []:
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
        found.append(Restart(name(pod), status.get("name", ""), times, reason, finished, is_recent))
    return found


# ------------------------------------------------------------------------------------------ scheduling


def _tolerates(toleration, taint):
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    operator = toleration.get("operator", "Equal")
    if not toleration.get("key"):
        return operator == "Exists"  # an empty key with Exists tolerates everything
    if toleration.get("key") != taint.get("key"):
        return False
    return operator == "Exists" or toleration.get("value", "") == taint.get("value", "")


def _requirement_matches(expr, labels):
    key, operator, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    if operator in ("Gt", "Lt"):
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, ValueError, IndexError):
            return False
        return have > want if operator == "Gt" else have < want
    return matches({"matchExpressions": [expr]}, labels)


def _affinity_allows(pod_spec, node):
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    labels = _meta(node).get("labels") or {}
    fields = {"metadata.name": name(node)}
    return any(all(_requirement_matches(e, labels) for e in term.get("matchExpressions") or [])
               and all(_requirement_matches(e, fields) for e in term.get("matchFields") or [])
               for term in terms)


# Tolerations the DaemonSet controller adds to every daemon Pod (pkg/controller/daemon/util), so a node under
# memory pressure or cordoned still runs its speaker; network-unavailable only for hostNetwork Pods.
DAEMON_TOLERATIONS = tuple({"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": e} for k, e in (
    ("not-ready", "NoExecute"), ("unreachable", "NoExecute"), ("disk-pressure", "NoSchedule"),
    ("memory-pressure", "NoSchedule"), ("pid-pressure", "NoSchedule"), ("unschedulable", "NoSchedule")))
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": "NoSchedule"}


def schedulable_nodes(ds, nodes):
    pod_spec = (_spec(ds).get("template") or {}).get("spec") or {}
    selector = pod_spec.get("nodeSelector") or {}
    tolerations = list(pod_spec.get("tolerations") or []) + list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        tolerations.append(HOST_NETWORK_TOLERATION)
    chosen = []
    for node in nodes or []:
        labels = _meta(node).get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            continue
        taints = [t for t in _spec(node).get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
        if any(not any(_tolerates(tol, taint) for tol in tolerations) for taint in taints):
            continue
        if not _affinity_allows(pod_spec, node):
            continue
        chosen.append(node)
    return chosen


def nodes_without_ready_pod(ds, nodes, pods):
    ready_on = {_spec(p).get("nodeName") for p in pods_of(ds, pods) if pod_ready(p)}
    return sorted(name(n) for n in schedulable_nodes(ds, nodes) if name(n) not in ready_on)


def workload_warnings(kind, workload, events_by_object):
    """Latest warning event per involved object: the workload itself and, for a Deployment, its ReplicaSets."""
    namespace, own = _meta(workload).get("namespace", ""), name(workload)
    found = []
    for (obj_kind, obj_ns, obj_name), items in events_by_object.items():
        if obj_ns != namespace:
            continue
        if (obj_kind == kind and obj_name == own) or (
                kind == "Deployment" and obj_kind == "ReplicaSet" and obj_name.startswith(own + "-")):
            warning = ev.latest(items, type_="Warning")
            if warning:
                found.append(warning)
    return sorted(found, key=ev.when)
