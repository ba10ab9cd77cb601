"""Services: allow-shared-ip groups that cannot share, deprecated annotations and fields, and loadBalancerClasses
MetalLB ignores."""

from typing import Dict, List, Set, Tuple

from metallb_plugin.core import allocation
from metallb_plugin.core import objects as k8s
from metallb_plugin.core import service_status as svc
from metallb_plugin.core.analyze.finding import ERROR, INFO, WARNING, Finding, Ref, finding, rule
from metallb_plugin.core.analyze.model import Model
from metallb_plugin.core.checks import register
from metallb_plugin.core.objects import Obj

SERVICES = ("services",)
CURRENT_PREFIX = "metallb.io/"


def ports(service: Obj) -> Set[Tuple[str, int]]:
    """(protocol, port) of each port (MetalLB's allocator compares these on a shared address)."""
    return {(str(p.get("protocol") or "TCP"), int(p.get("port") or 0)) for p in k8s.spec(service).get("ports") or []}


def backend_key(service: Obj) -> str:
    """MetalLB's backend key: the pod selector with externalTrafficPolicy Local ("" with Cluster: any backends)."""
    spec = k8s.spec(service)
    if spec.get("externalTrafficPolicy") != "Local":
        return ""
    return ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))


def _backend_text(service: Obj) -> str:
    key = backend_key(service)
    return f"externalTrafficPolicy Local, selector {key or '(none)'}" if key else "externalTrafficPolicy Cluster"


def sharing(model: Model) -> List[Finding]:
    groups: Dict[str, List[Obj]] = {}
    for service in model.metallb_services():
        key = allocation.request(service).sharing_key
        if key:
            groups.setdefault(key, []).append(service)
    found = []
    for key, members in sorted(groups.items()):
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                found += _pair(key, first, second)
    return found


def _pair(key: str, first: Obj, second: Obj) -> List[Finding]:
    asked_first, asked_second = set(allocation.request(first).ips), set(allocation.request(second).ips)
    same = sorted(asked_first & asked_second)
    if not same and (asked_first or asked_second):
        return []  # different addresses asked for: nothing to share
    names = f"Services {k8s.key(first)} and {k8s.key(second)} (allow-shared-ip {key})"
    refs = (Ref.of(first, kind="Service"), Ref.of(second, kind="Service"))
    found = []
    collide = sorted(ports(first) & ports(second))
    different = backend_key(first) != backend_key(second)
    if same:
        if collide:
            shown = ", ".join(f"{port}/{proto}" for proto, port in collide)
            found.append(
                finding(
                    "MLB0601",
                    f"{names} both ask for {', '.join(same)} and both use {shown}: MetalLB refuses the second one "
                    '("port ... is already in use")',
                    "give one of them other ports, or another address",
                    *(Ref(r.kind, r.name, r.namespace, "spec.ports") for r in refs),
                )
            )
        if different:
            found.append(
                finding(
                    "MLB0602",
                    f"{names} both ask for {', '.join(same)} but MetalLB only shares an address between Services "
                    f"with externalTrafficPolicy Cluster or the same selector ({_backend_text(first)}; "
                    f"{_backend_text(second)}): it refuses the second one",
                    "use externalTrafficPolicy Cluster for both, or the same selector",
                    *(Ref(r.kind, r.name, r.namespace, "spec.externalTrafficPolicy") for r in refs),
                )
            )
        return found
    if collide or different:
        why = (
            f"they both use {', '.join(f'{port}/{proto}' for proto, port in collide)}"
            if collide
            else f"their backends differ ({_backend_text(first)}; {_backend_text(second)})"
        )
        found.append(
            finding(
                "MLB0603",
                f"{names} cannot share an address: {why}, so MetalLB gives them separate addresses",
                "give them distinct ports and the same backends (externalTrafficPolicy Cluster, or Local with the "
                "same selector), or drop the sharing key",
                *refs,
            )
        )
    return found


def deprecated_annotations(model: Model) -> List[Finding]:
    found = []
    for service in model.metallb_services():
        for old in allocation.deprecated_annotations(service):
            new = CURRENT_PREFIX + old.split("/", 1)[1]
            found.append(
                finding(
                    "MLB0604",
                    f"Service {k8s.key(service)} uses the deprecated annotation {old}",
                    f"rename it to {new} (MetalLB v0.14.9+; the new name wins when both are set)",
                    Ref.of(service, f"metadata.annotations[{old}]", kind="Service"),
                )
            )
    return found


def load_balancer_ip(model: Model) -> List[Finding]:
    found = []
    for service in model.metallb_services():
        address = k8s.spec(service).get("loadBalancerIP")
        if not address:
            continue
        listed = allocation.annotation(service, allocation.LOADBALANCER_IPS)
        ref = Ref.of(service, "spec.loadBalancerIP", kind="Service")
        if listed:
            found.append(
                finding(
                    "MLB0606",
                    f"Service {k8s.key(service)} sets both spec.loadBalancerIP ({address}) and "
                    f"metallb.io/loadBalancerIPs ({listed}): MetalLB refuses it",
                    "keep the annotation and remove spec.loadBalancerIP",
                    ref,
                )
            )
            continue
        ns, service_name = k8s.namespace(service), k8s.name(service)
        found.append(
            finding(
                "MLB0605",
                f"Service {k8s.key(service)} sets spec.loadBalancerIP ({address}), deprecated since Kubernetes 1.24 "
                "(MetalLB still honours it)",
                f"kubectl -n {ns} annotate service {service_name} metallb.io/loadBalancerIPs={address}, then remove "
                "spec.loadBalancerIP",
                ref,
            )
        )
    return found


def ignored_class(model: Model) -> List[Finding]:
    found = []
    for service in model.services:
        handled, why = svc.handles(model.view, service)
        if handled:
            continue
        served = k8s.ingress_addresses(service)
        found.append(
            finding(
                "MLB0607",
                f"MetalLB ignores Service {k8s.key(service)}: {why}"
                + (f"; its address {', '.join(served)} comes from that implementation" if served else ""),
                "nothing to do if another load balancer serves it; otherwise recreate it without "
                "spec.loadBalancerClass (the field cannot change)"
                if k8s.spec(service).get("loadBalancerClass")
                else f"recreate it with spec.loadBalancerClass: {model.view.lb_class}",
                Ref.of(service, "spec.loadBalancerClass", kind="Service"),
            )
        )
    return found


register(
    "analyze.services",
    "Services",
    (
        rule("MLB0601", ERROR, "Services sharing an address use distinct ports", sharing, needs=SERVICES),
        rule("MLB0602", ERROR, "Services sharing an address have compatible backends", sharing, needs=SERVICES),
        rule("MLB0603", WARNING, "allow-shared-ip groups can share", sharing, needs=SERVICES),
        rule(
            "MLB0604",
            WARNING,
            "no deprecated metallb.universe.tf annotations",
            deprecated_annotations,
            needs=SERVICES,
            shown_by="services.annotations",
        ),
        rule(
            "MLB0605",
            WARNING,
            "no spec.loadBalancerIP",
            load_balancer_ip,
            needs=SERVICES,
            shown_by="services.annotations",
        ),
        rule("MLB0606", ERROR, "not both spec.loadBalancerIP and the annotation", load_balancer_ip, needs=SERVICES),
        rule("MLB0607", INFO, "loadBalancerClasses MetalLB handles", ignored_class, needs=SERVICES),
    ),
)
