"""Components: the controller, the speakers on every node, frr-k8s, their Pods and restarts."""

from typing import Iterable, List

from metallb_plugin.core import installation as inst
from metallb_plugin.core import workloads
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.objects import Obj, name
from metallb_plugin.core.status.common import (
    _need_install,
    _plural,
    installed,
    named,
    uses_frr_k8s,
)
from metallb_plugin.core.view import View


def _pod_lines(view: View, pods: Iterable[Obj]) -> List[str]:
    lines = []
    for pod in sorted(pods, key=name):
        if not workloads.pod_ready(pod):
            node = (pod.get("spec") or {}).get("nodeName") or "no node"
            lines.append(f"pod {name(pod)} ({node}): {workloads.why_not_ready(pod, view.pod_events(pod))}")
    return lines


def _warning_lines(view: View, kind: str, workload: Obj) -> List[str]:
    return [
        f"event {e.get('reason')}: {' '.join((e.get('message') or '').split())}"
        for e in workloads.workload_warnings(kind, workload, view.events_by_object)
    ]


def check_controller(view: View) -> Result:
    install = _need_install(view)
    if not view.controller:
        return Result(
            FAIL,
            f"controller Deployment {install.controller or 'controller'} not found in {install.namespace}",
        )
    ready, text = inst.deployment_ready(view.controller)
    message = f"controller Deployment {name(view.controller)}: {text}"
    if not ready:
        pods = workloads.pods_of(view.controller, view.pods)
        return Result(
            FAIL, message, tuple(_pod_lines(view, pods) + _warning_lines(view, "Deployment", view.controller))
        )
    return Result(OK, message)


def _daemonset_result(view: View, ds: Obj, what: str) -> Result:
    ready, text = inst.daemonset_ready(ds)
    counts = workloads.daemonset_counts(ds)
    message = f"{what} DaemonSet {name(ds)}: {text}, {counts['updated']}/{counts['desired']} up to date"
    pods = workloads.pods_of(ds, view.pods)
    details = []
    if pods:
        missing = workloads.nodes_without_ready_pod(ds, view.nodes, view.pods)
        if missing:
            details.append(f"nodes without a ready {what}: {', '.join(missing)}")
    if not ready:
        details += _pod_lines(view, pods) + _warning_lines(view, "DaemonSet", ds)
        return Result(FAIL, message, tuple(details))
    return Result(OK, message, tuple(details))


def check_speaker(view: View) -> Result:
    install = _need_install(view)
    if not view.speaker:
        return Result(FAIL, f"speaker DaemonSet not found in {install.namespace}: nothing announces addresses")
    return _daemonset_result(view, view.speaker, "speaker")


def check_frr_k8s(view: View) -> Result:
    install = _need_install(view)
    if not install.frr_k8s:
        raise Skip("no frr-k8s DaemonSet (not used by this backend)")
    if not view.frr_k8s:
        return Result(FAIL, f"frr-k8s DaemonSet {install.frr_k8s} not found")
    return _daemonset_result(view, view.frr_k8s, "frr-k8s")


def _metallb_pods(view: View) -> List[Obj]:
    """The Pods of MetalLB's workloads; Skip when there are none (nothing to judge)."""
    install = _need_install(view)
    pods = [p for w in (view.controller, view.speaker, view.frr_k8s) if w for p in workloads.pods_of(w, view.pods)]
    if not pods:
        raise Skip(f"no MetalLB Pods found in {install.namespace}")
    return pods


def check_pods(view: View) -> Result:
    pods = _metallb_pods(view)  # the pods are a need of the check: unreadable, it is skipped before this
    lines = _pod_lines(view, pods)
    if lines:
        return Result(FAIL, f"{_plural(len(lines), 'Pod')} of {len(pods)} not ready", tuple(lines))
    return Result(OK, f"all {_plural(len(pods), 'Pod')} ready")


def check_restarts(view: View) -> Result:
    pods = _metallb_pods(view)  # the pods are a need of the check: unreadable, it is skipped before this
    found = [r for pod in pods for r in workloads.restarts(pod, view.facts.now)]
    recent = [r for r in found if r.recent]
    if recent:
        return Result(
            WARN,
            f"{_plural(len(recent), 'container')} restarted in the last hour",
            tuple(
                f"{r.pod}/{r.container}: {_plural(r.count, 'restart')}"
                + (f", last {r.last_reason}" if r.last_reason else "")
                for r in sorted(recent, key=lambda r: (r.pod, r.container))
            ),
        )
    if found:
        return Result(
            OK, f"no recent restarts ({_plural(sum(r.count for r in found), 'restart')} more than an hour ago)"
        )
    return Result(OK, "no container restarts")


register(
    "components",
    "Components",
    (
        Check(
            "components.controller",
            "components",
            "controller ready",
            check_controller,
            hint=named("kubectl -n {ns} describe deployment {controller}"),
            when=installed,
        ),
        Check(
            "components.speaker",
            "components",
            "speaker ready on every node",
            check_speaker,
            hint=named("kubectl -n {ns} describe daemonset {speaker}"),
            when=installed,
        ),
        Check(
            "components.frr-k8s",
            "components",
            "frr-k8s ready on every node",
            check_frr_k8s,
            hint=named("kubectl -n {frr_ns} describe daemonset {frr}"),
            when=uses_frr_k8s,
        ),
        Check(
            "components.pods",
            "components",
            "MetalLB Pods ready",
            check_pods,
            hint=named("kubectl -n {ns} get pods -o wide; kubectl -n {ns} describe pod POD"),
            needs=("pods",),
            when=installed,
        ),
        Check(
            "components.restarts",
            "components",
            "no containers restarting",
            check_restarts,
            severity="warning",
            hint=named("kubectl -n {ns} logs POD -c CONTAINER --previous"),
            needs=("pods",),
            when=installed,
        ),
    ),
)
