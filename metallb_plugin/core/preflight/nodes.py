"""Nodes: Linux nodes, the exclude-from-external-load-balancers label, taints the pods do not tolerate."""

from typing import Iterable, List

from metallb_plugin.core import objects as k8s
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.preflight.facts import EXCLUDE_LB_LABEL, SPEAKER_TOLERATIONS, Facts, is_linux
from metallb_plugin.defaults import DOCS


def check_linux_nodes(facts: Facts) -> Result:
    nodes = facts.items("nodes")
    if not nodes:
        return Result(FAIL, "the cluster has no nodes: MetalLB's controller and speaker cannot run anywhere")
    linux = [n for n in nodes if is_linux(n)]
    if not linux:
        what = "the only node does not run" if len(nodes) == 1 else f"none of the {len(nodes)} nodes runs"
        return Result(FAIL, f"{what} Linux: MetalLB only runs on Linux nodes")
    other = len(nodes) - len(linux)
    extra = f"; {other} non-Linux node(s) will not run a speaker" if other else ""
    return Result(OK, details=(f"{len(linux)} Linux node(s){extra}",))


def check_excluded_nodes(facts: Facts) -> Result:
    nodes = [n for n in facts.items("nodes") if is_linux(n)]
    excluded = [k8s.name(n) for n in nodes if EXCLUDE_LB_LABEL in k8s.labels(n)]
    if not excluded:
        return Result(OK)
    if len(excluded) == len(nodes):
        what = "the only node is" if len(nodes) == 1 else "every node is"
        return Result(
            WARN,
            f"{what} labelled {EXCLUDE_LB_LABEL}: MetalLB will announce no address at all. Remove "
            "the label, or run the speaker with --ignore-exclude-lb",
            tuple(excluded),
        )
    return Result(
        WARN,
        f"{len(excluded)} of {len(nodes)} nodes {'is' if len(excluded) == 1 else 'are'} labelled {EXCLUDE_LB_LABEL}: MetalLB will not "
        "announce addresses from them",
        tuple(excluded),
    )


def blocking_taints(node: Obj, tolerations: Iterable[Obj]) -> List[str]:
    """The taints (as "key=value:Effect") that keep a pod with these tolerations off a node for good."""
    return [k8s.taint_text(t) for t in k8s.blocking_taints(node, tolerations, ignore=k8s.TRANSIENT_TAINTS)]


def check_taints(facts: Facts) -> Result:
    nodes = [n for n in facts.items("nodes") if is_linux(n)]
    if not nodes:
        raise Skip("no Linux nodes")
    speaker_off = {k8s.name(n): blocking_taints(n, SPEAKER_TOLERATIONS) for n in nodes}
    speaker_off = {k: v for k, v in speaker_off.items() if v}
    controller_ok = [n for n in nodes if not blocking_taints(n, ())]
    details = tuple(f"{name}: {', '.join(taints)}" for name, taints in sorted(speaker_off.items()))
    if not controller_ok:
        return Result(
            FAIL,
            "every Linux node has a taint that MetalLB's controller does not tolerate (it tolerates "
            "none): it cannot be scheduled, so no address would be assigned. Remove the taint "
            "from a node, or add tolerations to the controller",
            details or tuple(f"{k8s.name(n)}: {', '.join(blocking_taints(n, ()))}" for n in nodes),
        )
    if len(speaker_off) == len(nodes):
        return Result(
            FAIL,
            "the speaker tolerates only the control-plane taints: no node can run it, so no address would be announced",
            details,
        )
    if speaker_off:
        return Result(
            WARN,
            f"{len(speaker_off)} node(s) have taints the speaker does not tolerate: they will not announce addresses",
            details,
        )
    return Result(OK)


register(
    "nodes",
    "Nodes",
    (
        Check(
            "linux-nodes",
            "nodes",
            "Linux nodes are present",
            check_linux_nodes,
            hint="kubectl get nodes -L kubernetes.io/os",
            needs=("nodes",),
        ),
        Check(
            "excluded-nodes",
            "nodes",
            f"no node is labelled {EXCLUDE_LB_LABEL}",
            check_excluded_nodes,
            severity="warning",
            hint=f"{DOCS}/troubleshooting/",
            needs=("nodes",),
        ),
        Check(
            "node-taints",
            "nodes",
            "MetalLB's pods tolerate the nodes' taints",
            check_taints,
            hint="kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints",
            needs=("nodes",),
        ),
    ),
)
