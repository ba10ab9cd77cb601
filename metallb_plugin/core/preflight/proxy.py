"""kube-proxy: its mode and strictARP, as MetalLB's installation guide asks."""

from metallb_plugin.core import kubeproxy
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.preflight.facts import BGP, Facts
from metallb_plugin.defaults import DOCS, KUBE_SYSTEM


def kube_proxy_facts(facts: Facts) -> kubeproxy.KubeProxy:
    """kubeproxy.inspect() over what was read (kube-system ConfigMaps and Pods, the kube-proxy DaemonSet)."""
    nodes = facts.items("nodes") if facts.readable("nodes") else []
    configmaps = facts.items("configmaps")  # without the ConfigMaps nothing can be said
    daemonset = None
    if facts.readable("daemonsets"):
        daemonset = next(
            (
                d
                for d in facts.items("daemonsets")
                if k8s.meta(d).get("namespace") == KUBE_SYSTEM and k8s.name(d) == kubeproxy.DAEMONSET
            ),
            None,
        )
    pods = facts.items("pods") if facts.readable("pods") else []
    return kubeproxy.inspect(nodes=nodes, configmaps=configmaps, daemonset=daemonset, pods=pods)


def check_kube_proxy_mode(facts: Facts) -> Result:
    info = kube_proxy_facts(facts)
    where = info.location.describe()
    if info.problem:
        return Result(WARN, f"{where} cannot be read: {info.problem}")
    if info.distribution == "cilium":
        return Result(OK, details=(info.message,))
    if info.mode is None:
        return Result(WARN, info.message, tuple(x for x in (info.hint,) + tuple(info.notes) if x))
    return Result(OK, details=(f"{info.mode} mode ({info.distribution}; {where})",) + tuple(info.notes))


def check_strict_arp(facts: Facts) -> Result:
    info = kube_proxy_facts(facts)
    if info.needs_change is None:
        raise Skip(
            "kube-proxy's mode is not known" if not info.problem else "kube-proxy's configuration cannot be read"
        )
    if not info.needs_change:
        return Result(OK, details=(info.message,))
    details = () if info.editable else (info.hint,)
    if facts.mode == BGP:
        return Result(
            WARN, info.message + " (MetalLB's installation guide asks for it in IPVS mode, BGP included)", details
        )
    return Result(FAIL, info.message, details)


register(
    "kube-proxy",
    "kube-proxy",
    (
        Check(
            "kube-proxy-mode",
            "kube-proxy",
            "kube-proxy's mode is known",
            check_kube_proxy_mode,
            severity="warning",
            hint=f"{DOCS}/installation/#preparation",
            needs=("configmaps",),
        ),
        Check(
            "strict-arp",
            "kube-proxy",
            "kube-proxy does not answer ARP for MetalLB's addresses (strictARP)",
            check_strict_arp,
            hint="kubectl metallb strict-arp --enable",
            needs=("configmaps",),
        ),
    ),
)
