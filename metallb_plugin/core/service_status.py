"""Where each LoadBalancer Service stands with MetalLB: assigned (and announced by which nodes), pending (and
why), ignored (a loadBalancerClass MetalLB does not handle) or served by something else (pure).

    handles(view, service) -> (bool, why not)
    announcements(view, service) -> [Announcement]       from ServiceL2Status / ServiceBGPStatus / nodeAssigned
    pending_reason(view, service) -> (reason, hint)
    classify(view, service) -> ServiceState              one row of the status report
"""

import re
from dataclasses import dataclass
from typing import Any, Dict, List, NamedTuple, Optional, Set, Tuple

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import allocation, endpoints, ipam, pool_usage, workloads
from metallb_plugin.core import events as ev
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.objects import Obj, key, meta, name
from metallb_plugin.core.view import STATUS_KINDS, View

ASSIGNED, PENDING, IGNORED, OTHER = "assigned", "pending", "ignored", "other"
ANNOUNCING = re.compile(r'announcing from node "([^"]+)" with protocol "([^"]+)"')
ALLOCATION_WARNINGS = (
    "AllocationFailed",
    "LoadBalancerFailed",
    "nolbIPsIPFamily",
    "noclusterIPsIPFamily",
    "InternalError",
)


class Announcement(NamedTuple):
    """Who announces a Service (a tuple: small, ordered and hashable; one per announced Service)."""

    node: str
    protocol: str
    source: str = ""  # ServiceL2Status | ServiceBGPStatus | event

    def to_dict(self) -> Dict[str, str]:
        return {"node": self.node, "protocol": self.protocol, "source": self.source}


@dataclass
class ServiceState:
    """One per LoadBalancer Service, 20,000 in a large cluster: slots (declared, as fields without defaults allow
    on Python 3.9) and tuples, whose empty one is shared."""

    __slots__ = (
        "announced_by",
        "deprecated_annotations",
        "deprecated_fields",
        "hint",
        "ips",
        "name",
        "namespace",
        "pool",
        "pool_inferred",
        "reason",
        "severity",
        "state",
    )
    namespace: str
    name: str
    state: str
    ips: Tuple[str, ...]
    pool: Optional[str]
    pool_inferred: bool  # no ip-allocated-from-pool annotation: the pool holding the address
    announced_by: Tuple[Announcement, ...]
    reason: str
    hint: str
    severity: Optional[str]  # None: fine; "warn" or "fail": a problem of this Service
    deprecated_annotations: Tuple[str, ...]
    deprecated_fields: Tuple[str, ...]  # spec.loadBalancerIP

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_dict(self) -> Dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "state": self.state,
            "ips": list(self.ips),
            "pool": self.pool,
            "poolInferred": self.pool_inferred,
            "announcedBy": [a.to_dict() for a in self.announced_by],
            "reason": self.reason,
            "hint": self.hint,
            "problem": self.severity,
            "deprecatedAnnotations": list(self.deprecated_annotations),
            "deprecatedFields": list(self.deprecated_fields),
        }


def explain_hint(service: Obj) -> str:
    return f"kubectl metallb status --service {key(service)}"


def handles(view: View, service: Obj) -> Tuple[bool, str]:
    """Whether MetalLB's controller takes care of this Service, given its loadBalancerClass."""
    wanted = (service.get("spec") or {}).get("loadBalancerClass")
    if view.lb_class:
        if wanted == view.lb_class:
            return True, ""
        if not wanted:
            return False, (f"it has no loadBalancerClass and MetalLB only handles class {view.lb_class} (--lb-class)")
        return False, f"its loadBalancerClass {wanted} is not MetalLB's ({view.lb_class})"
    if wanted:
        return False, (
            f"its loadBalancerClass {wanted} belongs to another load balancer; MetalLB only handles "
            "Services without a class"
        )
    return True, ""


def announcements(view: View, service: Obj) -> List[Announcement]:
    found: Set[Announcement] = {Announcement(node, *STATUS_KINDS[kind]) for kind, node in view.statuses_of(service)}
    # nodeAssigned events only tell for a protocol whose status kind the release lacks: a speaker records the event
    # even when it then cannot announce (announceFailed), and its status object is written only when it announces
    silent = {protocol for kind, (protocol, _) in STATUS_KINDS.items() if not view.served(kind)}
    if not found and silent:
        events = [e for e in view.events_of_service(service) if e.get("reason") == "nodeAssigned"]
        matched = [(ev.when(e), ANNOUNCING.search(e.get("message") or "")) for e in events]
        parsed = [(t, m.group(1), m.group(2)) for t, m in matched if m]
        parsed = [p for p in parsed if p[2] in silent]
        layer2 = [p for p in parsed if p[2] == adv.L2]
        if layer2:  # one node at a time announces in L2: the latest event names it
            latest = max(layer2)
            found.add(Announcement(latest[1], latest[2], "event"))
        for _, node, protocol in parsed:
            if protocol != adv.L2:
                found.add(Announcement(node, protocol, "event"))
    return sorted(found)


def _allocation_events(view: View, service: Obj) -> Optional[ev.Event]:
    """The latest MetalLB warning about allocating this Service, unless an IPAllocated came after it."""
    items = view.events_of_service(service)
    warning = ev.latest(items, reasons=ALLOCATION_WARNINGS, type_="Warning")
    allocated = ev.latest(items, reasons=("IPAllocated",))
    if warning and (allocated is None or ev.when(allocated) <= ev.when(warning)):
        return warning
    return None


# message fragment -> what to do (AllocationFailed texts from MetalLB's allocator and controller)
_FAILURE_HINTS = (
    (
        "no available IPs in pool",
        "the requested pool is full: add addresses to it (kubectl metallb pools) or free some",
    ),
    ("unknown pool", "the metallb.io/address-pool annotation names a pool that does not exist in {ns}"),
    (
        "is not allowed in config",
        "the requested address is in no IPAddressPool: add it to a pool or request another one",
    ),
    (
        "not compatible for ip assignment",
        "the pool's serviceAllocation does not select this Service (namespace or labels)",
    ),
    ("is not compatible with requested address pool", "the requested address is not in the requested pool"),
    ("no suitable pool for", "no pool has addresses of the Service's IP family"),
    ("sharing key", "Services sharing an address need the same metallb.io/allow-shared-ip value"),
    ("does not allow sharing", "Services sharing an address need the same metallb.io/allow-shared-ip value"),
    ("already in use on", "another Service already uses this port on the shared address"),
    ("can not have both", "set either spec.loadBalancerIP or metallb.io/loadBalancerIPs, not both"),
    ("no available IPs", "no pool could serve it (full, autoAssign: false, serviceAllocation, or IP family)"),
)


def failure_hint(message: str, namespace: str) -> str:
    for fragment, hint in _FAILURE_HINTS:
        if fragment in message:
            return hint.format(ns=namespace)
    return ""


def pending_reason(view: View, service: Obj) -> Tuple[str, str]:
    """(reason, hint) for a Service MetalLB should serve but that has no address."""
    wanted = allocation.request(service)
    explain = explain_hint(service)
    if wanted.problems:
        return wanted.problems[0], explain
    if not view.install:
        return "MetalLB is not installed (no controller found)", "kubectl metallb install"
    if not view.controller:
        return f"MetalLB's controller Deployment is missing in {view.install.namespace}", "kubectl metallb install"
    counts = workloads.deployment_counts(view.controller)
    if counts["ready"] < 1:
        return (
            "MetalLB's controller is not ready, so nothing assigns addresses",
            f"kubectl -n {view.install.namespace} describe deployment {name(view.controller)}",
        )
    if not view.pools:
        reason = f"there is no IPAddressPool in {view.ns} (MetalLB records no event in that case)"
        others = sorted({meta(p).get("namespace", "") for p in view.elsewhere["ipaddresspools"]})
        if others:
            reason += f"; the pools in {', '.join(others)} are ignored"
        return reason, "kubectl metallb pools create NAME --addresses RANGE --l2"
    warning = _allocation_events(view, service)
    if warning:
        message = " ".join((warning.get("message") or "").split())
        return f"{warning.get('reason')}: {message}", failure_hint(message, view.ns) or explain
    invalid = [c for c in view.local["configurationstates"] if (c.get("status") or {}).get("result") == "Invalid"]
    if invalid:
        return (
            f"MetalLB rejected its configuration: {(invalid[0].get('status') or {}).get('errorSummary', '')}",
            f"kubectl -n {view.ns} get configurationstates -o yaml",
        )
    labels = view.namespace_labels.get(k8s.namespace(service))
    fits = allocation.evaluate_pools(service, view.pool_table(), labels, wanted)
    if not any(f.eligible for f in fits):
        return "no IPAddressPool can serve it: " + "; ".join(f"{f.name}: {f.reasons[0]}" for f in fits), explain
    return "no MetalLB event yet: the controller has not processed it", explain


def _not_announced(view: View, service: Obj, pool_name: str) -> Tuple[str, Optional[str]]:
    """(reason, severity) for an assigned Service nobody announces."""
    covering = view.covering.get(pool_name, [])
    if pool_name in view.covering and not covering:
        return f"pool {pool_name} is not announced: no L2Advertisement or BGPAdvertisement selects it", "fail"
    if covering and not any(adv.selects_service(a, service) for a in covering):
        return "no advertisement of its pool selects this Service (serviceSelectors)", "fail"
    if not endpoints.ready(view.slices_of(service)):
        return "not announced: it has no ready endpoints", "warn"
    protocols = {adv.protocol(a) for a in covering}
    observable = (adv.L2 in protocols and view.served("servicel2statuses") and view.at_least(0, 14, 6)) or (
        adv.BGP in protocols and view.served("servicebgpstatuses")
    )
    if observable:
        return "no node announces it (no ServiceL2Status/ServiceBGPStatus, no nodeAssigned event)", "fail"
    return "announcing node unknown (no recent nodeAssigned event)", None


def classify(view: View, service: Obj) -> ServiceState:
    state = ServiceState(
        namespace=meta(service).get("namespace", ""),
        name=name(service),
        state=PENDING,
        ips=(),
        pool=None,
        pool_inferred=False,
        announced_by=(),
        reason="",
        hint="",
        severity=None,
        deprecated_annotations=tuple(allocation.deprecated_annotations(service)),
        deprecated_fields=tuple(allocation.deprecated_fields(service)),
    )
    ok, why = handles(view, service)
    state.ips = tuple(k8s.ingress_addresses(service))
    if not ok:
        state.state = OTHER if state.ips else IGNORED
        state.reason = why[0].upper() + why[1:] if why else ""
        return state
    pools = view.pool_ranges
    annotated = pool_usage.annotated_pool(service)
    if state.ips:
        state.pool = annotated
        if not state.pool:
            state.pool = next((ipam.pool_of(ip, pools) for ip in state.ips if ipam.pool_of(ip, pools)), None)
            state.pool_inferred = state.pool is not None
        if not state.pool:
            state.state = OTHER
            state.reason = (
                "has an address MetalLB did not assign (no metallb.io/ip-allocated-from-pool, not in a "
                "pool): another load balancer implementation serves it"
            )
            state.hint = "disable the other implementation (k3s: --disable=servicelb) or give the Service a class"
            state.severity = "warn"
            return state
        state.state = ASSIGNED
        state.announced_by = tuple(announcements(view, service))
        if not state.announced_by:
            state.reason, state.severity = _not_announced(view, service, state.pool)
            state.hint = explain_hint(service) if state.severity else ""
        elif len({a.node for a in state.announced_by if a.protocol == adv.L2}) > 1:
            state.reason = "announced in layer 2 by several nodes at once (split brain?)"
            state.severity = "warn"
            state.hint = explain_hint(service)
        return state
    state.reason, state.hint = pending_reason(view, service)
    state.severity = "fail"
    return state
