"""MetalLB's namespace: Pod Security admission and NetworkPolicies; memberlist between the speakers."""

from typing import Iterable, List, Mapping, Sequence

from metallb_plugin.core import objects as k8s
from metallb_plugin.core import selectors
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, register
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.preflight.facts import MEMBERLIST_PORT, PSA_ENFORCE, WEBHOOK_PORT, Facts
from metallb_plugin.defaults import DOCS


def check_pod_security(facts: Facts) -> Result:
    found = facts.items("metallb_namespace")
    if not found:
        return Result(
            OK,
            details=(
                f"namespace {facts.namespace} does not exist yet: kubectl metallb install "
                "creates it with the privileged Pod Security labels",
            ),
        )
    labels = k8s.labels(found[0])
    level = labels.get(PSA_ENFORCE)
    if level == "privileged":
        return Result(OK, details=(f"namespace {facts.namespace} enforces the privileged level",))
    fix = f"kubectl label namespace {facts.namespace} {PSA_ENFORCE}=privileged --overwrite"
    if level:
        return Result(
            FAIL,
            f"namespace {facts.namespace} enforces Pod Security level {level!r}: the speaker "
            "(hostNetwork, NET_RAW) would be rejected. Run: " + fix,
        )
    return Result(
        WARN,
        f"namespace {facts.namespace} has no {PSA_ENFORCE} label, so the cluster-wide default "
        "applies, which the API does not show; if it is stricter than privileged the speaker is "
        "rejected. Run: " + fix,
    )


def check_memberlist_ports(facts: Facts) -> Result:
    return Result(
        WARN,
        f"the speakers talk to each other on TCP and UDP port {MEMBERLIST_PORT} (memberlist): make "
        "sure host firewalls allow it between all nodes (this cannot be checked from the API)",
    )


# pod labels of MetalLB's components in the manifest and in the Helm chart
POD_LABELS = {
    "speaker": (
        {"app": "metallb", "component": "speaker"},
        {"app.kubernetes.io/name": "metallb", "app.kubernetes.io/component": "speaker"},
    ),
    "controller": (
        {"app": "metallb", "component": "controller"},
        {"app.kubernetes.io/name": "metallb", "app.kubernetes.io/component": "controller"},
    ),
}
NEEDED_PORTS = {
    "speaker": (MEMBERLIST_PORT, ("TCP", "UDP"), ("memberlist-tcp", "memberlist-udp")),
    "controller": (WEBHOOK_PORT, ("TCP",), ("webhook-server",)),
}


def _selects(selector: Obj, label_sets: Iterable[Mapping[str, str]]) -> bool:
    return any(selectors.matches(selector, labels) for labels in label_sets)


def _rule_allows(rule: Obj, port: int, protocol: str, names: Sequence[str]) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True  # no ports: every port
    for item in ports:
        if item.get("protocol", "TCP") != protocol:
            continue
        value = item.get("port")
        if value is None or value in names or value == port or str(value) == str(port):
            return True
        end = item.get("endPort")
        if isinstance(value, int) and end and value <= port <= end:
            return True
    return False


def blocked_ports(policy: Obj, component: str) -> List[str]:
    """The protocols of a component's needed port that a NetworkPolicy selecting it does not let in."""
    spec = policy.get("spec") or {}
    if not _selects(spec.get("podSelector") or {}, POD_LABELS[component]):
        return []
    types = spec.get("policyTypes") or ["Ingress"]
    if "Ingress" not in types:
        return []
    port, protocols, names = NEEDED_PORTS[component]
    rules = spec.get("ingress") or []
    return [f"{port}/{p}" for p in protocols if not any(_rule_allows(r, port, p, names) for r in rules)]


def check_network_policies(facts: Facts) -> Result:
    if not facts.items("metallb_namespace"):
        return Result(OK)
    policies = facts.items("networkpolicies")
    details = []
    for policy in policies:
        for component in ("speaker", "controller"):
            blocked = blocked_ports(policy, component)
            if blocked:
                details.append(f"{k8s.name(policy)}: blocks {', '.join(blocked)} to the {component}")
    if details:
        return Result(
            WARN,
            f"NetworkPolicies in {facts.namespace} keep traffic MetalLB needs out (memberlist "
            f"{MEMBERLIST_PORT} between speakers, webhook {WEBHOOK_PORT} from the API server)",
            tuple(details),
        )
    return Result(OK)


register(
    "pod-security",
    "Pod Security",
    (
        Check(
            "pod-security",
            "pod-security",
            lambda f: f"namespace {f.namespace} allows privileged pods",
            check_pod_security,
            hint=f"{DOCS}/installation/",
            needs=("metallb_namespace",),
        ),
    ),
)


register(
    "memberlist",
    "Memberlist",
    (
        Check(
            "memberlist-ports",
            "memberlist",
            f"memberlist needs TCP and UDP port {MEMBERLIST_PORT} open between nodes",
            check_memberlist_ports,
            severity="warning",
            hint=f"{DOCS}/#requirements",
        ),
        Check(
            "network-policies",
            "memberlist",
            lambda f: f"no NetworkPolicy in {f.namespace} blocks MetalLB",
            check_network_policies,
            severity="warning",
            hint=lambda f: f"kubectl get networkpolicies -n {f.namespace}",
            needs=("metallb_namespace", "networkpolicies"),
        ),
    ),
)
