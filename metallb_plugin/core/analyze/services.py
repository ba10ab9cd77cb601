"""Services: allow-shared-ip groups that cannot share, deprecated annotations and fields, and loadBalancerClasses
MetalLB ignores."""

from typing import Dict, List, Optional, Set, Tuple

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
    """Services with one allow-shared-ip key: those asking for one address (MLB0601, MLB0602), and those asking for
    none, which MetalLB would put on one address if it could (MLB0603). One finding per address or group."""
    groups: Dict[str, List[Tuple[Obj, allocation.Request]]] = {}
    for service in model.metallb_services():
        wanted = model.request(service)
        if wanted.sharing_key:
            groups.setdefault(wanted.sharing_key, []).append((service, wanted))
    found = []
    for key, members in sorted(groups.items()):
        by_address: Dict[str, List[Obj]] = {}
        unasked = []
        for service, wanted in members:
            for ip in dict.fromkeys(wanted.ips):
                by_address.setdefault(ip, []).append(service)
            if not wanted.ips:
                unasked.append(service)
        for ip, services in sorted(by_address.items()):
            if len(services) > 1:
                found += _shared(key, services, ip)
        if len(unasked) > 1:
            found += _shared(key, unasked, None)
    return found


def _names(services: List[Obj]) -> str:
    keys = [k8s.key(s) for s in services]
    return f"{', '.join(keys[:-1])} and {keys[-1]}"


def _shared(key: str, services: List[Obj], ip: Optional[str]) -> List[Finding]:
    """What keeps these Services of one sharing key from sharing an address (ip: the one they ask for)."""
    users: Dict[Tuple[str, int], List[Obj]] = {}
    backends: Dict[str, List[Obj]] = {}
    for service in services:
        for port in sorted(ports(service)):
            users.setdefault(port, []).append(service)
        backends.setdefault(backend_key(service), []).append(service)
    collide = {port: who for port, who in sorted(users.items()) if len(who) > 1}
    clashing = sorted({k8s.key(s): s for who in collide.values() for s in who}.values(), key=k8s.key)
    port_text = "; ".join(f"{port}/{proto} by {_names(who)}" for (proto, port), who in collide.items())
    backend_text = "; ".join(
        f"{_backend_text(group[0])}: {', '.join(k8s.key(s) for s in group)}" for _, group in sorted(backends.items())
    )
    found = []
    if ip is not None:
        if collide:
            found.append(
                finding(
                    "MLB0601",
                    f"Services {_names(clashing)} (allow-shared-ip {key}) ask for {ip} and use the same port "
                    f'({port_text}): MetalLB refuses all but the first ("port ... is already in use")',
                    "give them distinct ports, or ask for different addresses",
                    *(Ref.of(s, "spec.ports", kind="Service") for s in clashing),
                )
            )
        if len(backends) > 1:
            found.append(
                finding(
                    "MLB0602",
                    f"Services {_names(services)} (allow-shared-ip {key}) ask for {ip}, but MetalLB only shares an "
                    f"address between Services with externalTrafficPolicy Cluster or the same selector "
                    f"({backend_text}): it refuses all but the first",
                    "use externalTrafficPolicy Cluster for all of them, or the same selector",
                    *(Ref.of(s, "spec.externalTrafficPolicy", kind="Service") for s in services),
                )
            )
    elif collide or len(backends) > 1:
        why = [f"they use the same port ({port_text})"] if collide else []
        why += [f"their backends differ ({backend_text})"] if len(backends) > 1 else []
        found.append(
            finding(
                "MLB0603",
                f"Services {_names(services)} (allow-shared-ip {key}) cannot all share one address: "
                f"{' and '.join(why)}, so MetalLB gives them separate addresses",
                "give them distinct ports and the same backends (externalTrafficPolicy Cluster, or Local with the "
                "same selector), or drop the sharing key",
                *(Ref.of(s, kind="Service") for s in services),
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
