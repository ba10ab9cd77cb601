"""Network add-on: which CNI runs, and what MetalLB's compatibility table says about it."""

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

from metallb_plugin.core import objects as k8s
from metallb_plugin.core.checks import OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.preflight.facts import BGP, Facts
from metallb_plugin.defaults import DOCS


@dataclass(frozen=True)
class Addon:
    name: str
    support: str  # MetalLB's network-addons table: "yes", "mostly", or "unlisted"
    daemonsets: Tuple[str, ...]
    configmaps: Tuple[str, ...] = ()
    crd_group: Optional[str] = None


ADDONS = (
    Addon("Canal", "yes", ("canal",), ("canal-config",)),
    Addon("Calico", "mostly", ("calico-node",), ("calico-config",), "crd.projectcalico.org"),
    Addon("Cilium", "yes", ("cilium",), ("cilium-config",), "cilium.io"),
    Addon("Flannel", "yes", ("kube-flannel-ds", "kube-flannel", "flannel"), ("kube-flannel-cfg",)),
    Addon("Antrea", "yes", ("antrea-agent",), ("antrea-config",), "crd.antrea.io"),
    Addon("Kube-OVN", "yes", ("kube-ovn-cni",), ("ovn-config",), "kubeovn.io"),
    Addon("kube-router", "mostly", ("kube-router",), ("kube-router-cfg",)),
    Addon("Weave Net", "unlisted", ("weave-net",), ("weave-net",)),
)
ADDON_NAMES = ", ".join(a.name for a in ADDONS)


def detect_addons(
    daemonsets: Optional[Sequence[Obj]] = None,
    configmaps: Optional[Sequence[Obj]] = None,
    crds: Optional[Sequence[Obj]] = None,
    nodes: Optional[Sequence[Obj]] = None,
) -> Dict[str, str]:
    """{addon name: evidence} from whatever could be read (None: not readable)."""
    found: Dict[str, str] = {}
    ds_names = {k8s.name(d): k8s.qualified(d) for d in daemonsets or []}
    ds_apps = {k8s.labels(d).get("k8s-app"): k8s.qualified(d) for d in daemonsets or [] if k8s.labels(d).get("k8s-app")}
    cm_names = {k8s.name(c) for c in configmaps or []}
    crd_groups = {(c.get("spec") or {}).get("group") for c in crds or []}
    for addon in ADDONS:
        for name in addon.daemonsets:
            where = ds_names.get(name) or ds_apps.get(name)
            if where:
                found.setdefault(addon.name, f"DaemonSet {where}")
        if addon.name not in found and daemonsets is None:  # no DaemonSets to look at: weaker evidence
            cm = next((c for c in addon.configmaps if c in cm_names), None)
            if cm:
                found[addon.name] = f"ConfigMap kube-system/{cm}"
            elif addon.crd_group and addon.crd_group in crd_groups:
                found[addon.name] = f"CRDs of {addon.crd_group}"
    if "Canal" in found:
        found.pop("Calico", None)
    elif not {"Flannel", "Canal"} & set(found):
        # k3s runs flannel inside its own process: only the nodes' annotations tell
        annotated = [n for n in nodes or [] if "flannel.alpha.coreos.com/backend-type" in k8s.annotations(n)]
        if annotated and not found:
            found["Flannel"] = f"flannel annotations on node {k8s.name(annotated[0])}"
    return found


def _kube_router_advertises(facts: Facts) -> bool:
    for ds in facts.items("daemonsets") if facts.readable("daemonsets") else []:
        for container in k8s.containers(ds, init=True):
            args = k8s.argv(container)
            if any(
                a.startswith(("--advertise-loadbalancer-ip", "--peer-router-ips")) and not a.endswith("=false")
                for a in args
            ):
                return True
    return False


def check_network_addon(facts: Facts) -> Result:
    sources = {k: facts.items(k) if facts.readable(k) else None for k in ("daemonsets", "configmaps", "crds", "nodes")}
    if all(v is None for v in sources.values()):
        raise Skip(facts.reason("daemonsets"))
    found = detect_addons(**sources)
    if not found:
        return Result(
            WARN,
            f"no known network add-on found (looked for {ADDON_NAMES}): check MetalLB's compatibility table for yours",
        )
    details = []
    problems = []
    for name, evidence in found.items():
        addon = next(a for a in ADDONS if a.name == name)
        support = {"yes": "compatible", "mostly": "mostly compatible", "unlisted": "no longer listed"}[addon.support]
        details.append(f"{name} ({evidence}): {support}")
        if name == "Calico" and facts.mode == BGP:
            problems.append(
                "Calico's own BGP sessions and MetalLB's cannot peer with the same router: let Calico "
                f"advertise the addresses, or peer MetalLB elsewhere ({DOCS}/configuration/calico/)"
            )
        if name == "kube-router" and (facts.mode == BGP or _kube_router_advertises(facts)):
            problems.append(
                "kube-router's own BGP peering cannot be used together with MetalLB in BGP mode "
                f"({DOCS}/configuration/kube-router/)"
            )
        if name == "Weave Net":
            problems.append(
                "Weave Net left MetalLB's compatibility table; with externalTrafficPolicy: Local it "
                "needs Weave 2.4+ with NO_MASQ_LOCAL"
            )
    if problems:
        return Result(WARN, "; ".join(problems), tuple(details))
    return Result(OK, details=tuple(details))


register(
    "network-add-on",
    "Network add-on",
    (
        Check(
            "network-addon",
            "network-add-on",
            "network add-on is compatible with MetalLB",
            check_network_addon,
            severity="warning",
            hint=f"{DOCS}/installation/network-addons/",
        ),
    ),
)
