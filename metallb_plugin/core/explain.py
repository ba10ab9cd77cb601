"""`kubectl metallb status --service NAMESPACE/NAME`: why one Service has (or lacks) its address, step by step,
ending with the most likely cause and its fix (pure).

    explanation = explain(view, service)      # view: core.view.View over the gathered facts
    explanation.ok                            # the Service has an address and (if MetalLB's) is announced
    explanation.to_document()                 # {"service", "state", "ok", "steps": [...], "cause": {...}, ...}

Steps follow the path of a Service through MetalLB: type and class -> what it requests -> is MetalLB running ->
which pools could serve it -> its address and events -> endpoints -> externalTrafficPolicy -> advertisements
covering its pool -> nodes that may announce it -> who announces it.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import allocation, election, endpoints, workloads
from metallb_plugin.core import events as ev
from metallb_plugin.core import objects as k8s
from metallb_plugin.core import service_status as svc
from metallb_plugin.core.checks import FAIL, OK, WARN
from metallb_plugin.core.explain_nodes import (
    INFO,
    analyzer_step,
    announce_failed,
    announced_step,
    compare,
    drained_steps,
    election_steps,
    no_candidate,
)
from metallb_plugin.core.objects import Obj, key, meta, name
from metallb_plugin.core.selectors import describe
from metallb_plugin.core.view import View

MAX_EVENTS = 10


@dataclass
class Step:
    title: str
    status: str
    lines: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {"title": self.title, "status": self.status, "lines": list(self.lines)}


@dataclass
class Explanation:
    service: str
    state: str
    ok: bool
    steps: List[Step]
    cause: str
    fix: str
    pools: List[allocation.PoolFit] = field(default_factory=list)
    announced_by: List[svc.Announcement] = field(default_factory=list)
    ips: List[str] = field(default_factory=list)
    elections: List[election.Election] = field(default_factory=list)  # who may announce it, in MetalLB's order
    after_drain: List[election.Election] = field(default_factory=list)  # the same without --simulate-drain's nodes

    def to_document(self) -> Dict[str, Any]:
        return {
            "service": self.service,
            "state": self.state,
            "ok": self.ok,
            "ips": list(self.ips),
            "announcedBy": [a.to_dict() for a in self.announced_by],
            "pools": [p.to_dict() for p in self.pools],
            "election": [e.to_dict() for e in self.elections],
            "afterDrain": [e.to_dict() for e in self.after_drain],
            "steps": [s.to_dict() for s in self.steps],
            "cause": {"summary": self.cause, "fix": self.fix},
        }


class _Builder:
    def __init__(self, view: View, service: Obj) -> None:
        self.view = view
        self.service = service
        self.spec = service.get("spec") or {}
        self.ns = meta(service).get("namespace", "")
        self.name = name(service)
        self.steps: List[Step] = []
        self.cause: Optional[Tuple[str, str]] = None  # (summary, fix) of the first blocking problem found

    def step(self, title: str, status: str, lines: Iterable[str] = ()) -> None:
        self.steps.append(Step(title, status, list(lines)))

    def blocked(self, summary: str, fix: str) -> None:
        if self.cause is None:
            self.cause = (summary, fix)


SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


def _system(b: _Builder) -> bool:
    """A Service the cluster or MetalLB itself relies on (the API server's, kube-system's, MetalLB's webhook): making
    it a LoadBalancer would expose it, so no fix proposes that."""
    return b.ns in SYSTEM_NAMESPACES or b.ns == b.view.ns or (b.ns, b.name) == ("default", "kubernetes")


def _type_and_class(b: _Builder) -> bool:
    kind = b.spec.get("type", "ClusterIP")
    if kind != "LoadBalancer":
        b.step(f"type {kind}: not a LoadBalancer Service", FAIL)
        if _system(b):
            b.blocked(
                f"{key(b.service)} is a cluster-internal system Service of type {kind}; MetalLB only serves type "
                "LoadBalancer, and this one must stay as it is",
                "to reach its Pods from outside, create a Service of your own of type LoadBalancer that selects them",
            )
        else:
            b.blocked(
                f"{key(b.service)} is of type {kind}; MetalLB only serves type LoadBalancer",
                f'kubectl -n {b.ns} patch service {b.name} -p \'{{"spec":{{"type":"LoadBalancer"}}}}\'',
            )
        return False
    handled, why = svc.handles(b.view, b.service)
    cls = b.spec.get("loadBalancerClass")
    if not handled:
        ips = k8s.ingress_addresses(b.service)
        if ips:
            b.step(
                f"type LoadBalancer, loadBalancerClass {cls or '(none)'}: not MetalLB's",
                INFO,
                [why, f"its address {', '.join(ips)} comes from that implementation"],
            )
            b.blocked(
                f"not MetalLB's: {why}; its address {', '.join(ips)} comes from the other implementation",
                "nothing to do for MetalLB",
            )
            return False
        b.step(f"type LoadBalancer, loadBalancerClass {cls or '(none)'}: MetalLB ignores it", FAIL, [why])
        fix = (
            "recreate the Service without spec.loadBalancerClass (the field cannot be changed)"
            if cls
            else f"set spec.loadBalancerClass: {b.view.lb_class} (recreate the Service)"
        )
        b.blocked(f"MetalLB does not handle it: {why}", fix)
        return False
    b.step(
        f"type LoadBalancer, {'loadBalancerClass ' + cls if cls else 'no loadBalancerClass'}: MetalLB handles it", OK
    )
    return True


def _request(b: _Builder) -> allocation.Request:
    wanted = allocation.request(b.service)
    lines: List[str] = []
    if wanted.ips:
        lines.append(f"requested address: {', '.join(wanted.ips)}")
    if wanted.pool:
        lines.append(f"requested pool: {wanted.pool}")
    if wanted.sharing_key:
        lines.append(f"allow-shared-ip key: {wanted.sharing_key}")
    families = " and ".join(f"IPv{f}" for f in wanted.families)
    lines.append(f"IP families: {families} ({wanted.dual_stack})")
    old = allocation.deprecated_annotations(b.service)
    if old:
        lines.append(f"deprecated annotations (use metallb.io/): {', '.join(old)}")
    if wanted.problems:
        b.step("what it asks for: an impossible request", FAIL, lines + list(wanted.problems))
        b.blocked(wanted.problems[0], f"kubectl -n {b.ns} edit service {b.name}")
    else:
        asked = "no particular address or pool" if not wanted.ips and not wanted.pool else "a specific address/pool"
        b.step(f"what it asks for: {asked}", WARN if old else OK, lines)
    return wanted


def _metallb(b: _Builder) -> None:
    view = b.view
    if not view.install:
        b.step("MetalLB: not installed", FAIL)
        b.blocked("MetalLB is not installed", "kubectl metallb install")
        return
    counts = workloads.deployment_counts(view.controller) if view.controller else None
    if counts is None or counts["ready"] < 1:
        if k8s.ingress_addresses(b.service):  # an address already given stays; only new assignments wait
            b.step(
                f"MetalLB {view.install.version} in {view.install.namespace}: controller not ready",
                WARN,
                ["addresses already assigned stay; new Services wait until it is back"],
            )
            return
        b.step(f"MetalLB {view.install.version} in {view.install.namespace}: controller not ready", FAIL)
        b.blocked(
            "MetalLB's controller is not running, so no address is assigned",
            f"kubectl metallb status (then kubectl -n {view.install.namespace} describe deployment "
            f"{view.install.controller or 'controller'})",
        )
        return
    b.step(f"MetalLB {view.install.version} in {view.install.namespace}: controller ready", OK)


def _pool_fix(fits: List[allocation.PoolFit], wanted: allocation.Request, b: _Builder) -> str:
    reasons = " ".join(r for f in fits for r in f.reasons)
    if "no free" in reasons:
        return "add addresses to a pool (kubectl metallb pools) or release unused LoadBalancer Services"
    if "autoAssign is false" in reasons:
        names = [f.name for f in fits if not f.auto_assign]
        return (
            f"ask for the pool by name: kubectl -n {b.ns} annotate service {b.name} metallb.io/address-pool={names[0]}"
        )
    if "serviceAllocation" in reasons:
        return "change the pool's spec.serviceAllocation (namespaces / selectors) or the Service's labels"
    if "has no IPv" in reasons:
        return "add addresses of the Service's IP family to a pool, or change spec.ipFamilies"
    if "asks for pool" in reasons and wanted.pool:
        return f"create pool {wanted.pool} in {b.view.ns} or fix the metallb.io/address-pool annotation"
    if "not in this pool" in reasons:
        return "request an address inside a pool, or add it to one"
    return f"kubectl -n {b.view.ns} get ipaddresspools -o yaml"


def _pools(b: _Builder, wanted: allocation.Request) -> List[allocation.PoolFit]:
    view = b.view
    if not view.pools:
        others = sorted({meta(p).get("namespace", "") for p in view.elsewhere["ipaddresspools"]})
        lines = [f"pools in {', '.join(others)} are ignored: MetalLB only reads {view.ns}"] if others else []
        b.step(f"pools: none in {view.ns}", FAIL, lines)
        b.blocked(
            f"there is no IPAddressPool in {view.ns}, so MetalLB assigns nothing (and records no event)",
            "kubectl metallb pools create NAME --addresses RANGE --l2",
        )
        return []
    fits = allocation.evaluate_pools(b.service, view.pool_table(), view.namespace_labels.get(b.ns))
    lines = []
    for fit in fits:
        free = ", ".join(f"IPv{k}: {v} free" for k, v in sorted(fit.free.items())) or "no addresses"
        if fit.eligible:
            tags = (
                [free]
                + (["pinned by serviceAllocation"] if fit.pinned else [])
                + ([f"priority {fit.priority}"] if fit.priority else [])
            )
            lines.append(f"√ {fit.name}: can serve it ({', '.join(tags)})")
        else:
            lines.append(f"× {fit.name}: {'; '.join(fit.reasons)} ({free})")
    eligible = [f for f in fits if f.eligible]
    status = OK if eligible else FAIL
    b.step(f"pools: {len(eligible)} of {len(fits)} could serve it", status, lines)
    return fits


def _address(b: _Builder, wanted: allocation.Request, fits: List[allocation.PoolFit]) -> svc.ServiceState:
    view = b.view
    state = svc.classify(view, b.service)
    events = view.events_of_service(b.service)
    lines = [f"event {ev.describe(e)}" for e in events[-MAX_EVENTS:]]
    if not events:
        lines.append("no events about this Service")
    if state.state == svc.OTHER:
        b.step(f"address: {', '.join(state.ips)}, not from MetalLB", WARN, [state.reason] + lines)
        b.blocked(f"{state.reason}", state.hint or "find the other load balancer implementation")
        return state
    if state.state == svc.ASSIGNED:
        pool = f"pool {state.pool}" + (
            " (by address; no ip-allocated-from-pool annotation)" if state.pool_inferred else ""
        )
        b.step(f"address: {', '.join(state.ips)} from {pool}", OK, lines)
        return state
    b.step("address: none (pending)", FAIL, [state.reason] + lines)
    if fits and not any(f.eligible for f in fits):
        summary = "no IPAddressPool can serve it: " + "; ".join(f"{f.name}: {f.reasons[0]}" for f in fits)
        b.blocked(summary, _pool_fix(fits, wanted, b))
    hint = state.hint
    if hint.startswith("kubectl metallb status --service"):  # that is this very command: point at the controller
        controller = view.install.controller if view.install and view.install.controller else "controller"
        hint = f"kubectl -n {view.ns} logs deployment/{controller} (look for {key(b.service)})"
    b.blocked(state.reason, hint)
    return state


def _endpoints(b: _Builder) -> Tuple[List[Tuple[str, Optional[str]]], List[str]]:
    ready = endpoints.ready(b.view.slices_of(b.service))
    nodes = sorted({n for _, n in ready if n})
    if not b.spec.get("selector") and not ready:
        b.step("endpoints: none (the Service has no selector; its EndpointSlices are managed by hand)", WARN)
    elif not ready:
        b.step("endpoints: none ready", FAIL, ["MetalLB does not announce a Service without ready endpoints"])
    else:
        b.step(f"endpoints: {len(ready)} ready" + (f" on {', '.join(nodes)}" if nodes else ""), OK)
    return ready, nodes


def _traffic_policy(b: _Builder, endpoint_nodes: List[str]) -> None:
    policy = b.spec.get("externalTrafficPolicy", "Cluster")
    if policy == "Local":
        if endpoint_nodes:
            b.step(
                f"externalTrafficPolicy Local: only nodes with a ready endpoint may announce it "
                f"({', '.join(endpoint_nodes)})",
                OK,
            )
        else:
            b.step("externalTrafficPolicy Local: no node has a ready endpoint, so no node may announce it", FAIL)
        return
    b.step(f"externalTrafficPolicy {policy}: any node may announce it", OK)


def _advertisements(b: _Builder, pool_names: Set[str]) -> List[Obj]:
    view = b.view
    pools = [p for p in view.pools if name(p) in pool_names]
    covering: List[Obj] = []
    for pool in pools:
        for item in adv.covering(pool, view.advertisements):
            if item not in covering:
                covering.append(item)
    lines = []
    for item in covering:
        spec = item.get("spec") or {}
        selectors = spec.get("nodeSelectors") or []
        where = "nodes " + " or ".join(describe(s) for s in selectors) if selectors else "all nodes"
        extra = []
        if spec.get("interfaces"):
            extra.append(f"interfaces {', '.join(spec['interfaces'])}")
        if spec.get("peers"):
            extra.append(f"peers {', '.join(spec['peers'])}")
        if not adv.selects_service(item, b.service):
            extra.append("its serviceSelectors do not select this Service")
        lines.append(
            f"{item.get('kind')} {name(item)} ({adv.protocol(item)}): {where}"
            + (f"; {'; '.join(extra)}" if extra else "")
        )
    usable = [a for a in covering if adv.selects_service(a, b.service)]
    label = ", ".join(sorted(pool_names)) or "(none)"
    if not usable:
        b.step(f"advertisements for pool {label}: none", FAIL, lines)
        return usable
    b.step(f"advertisements for pool {label}: {len(usable)}", OK, lines)
    return usable


def explain(view: View, service: Obj, drained: Iterable[str] = ()) -> Explanation:
    """The step-by-step explanation; drained: nodes --simulate-drain takes away."""
    b = _Builder(view, service)
    state: Optional[svc.ServiceState] = None
    fits: List[allocation.PoolFit] = []
    announced: List[svc.Announcement] = []
    elections: List[election.Election] = []
    after: List[election.Election] = []
    if _type_and_class(b):
        wanted = _request(b)
        _metallb(b)
        fits = _pools(b, wanted)
        state = _address(b, wanted, fits)
        if state.state == svc.ASSIGNED:
            _, endpoint_nodes = _endpoints(b)
            _traffic_policy(b, endpoint_nodes)
            usable = _advertisements(b, {state.pool} if state.pool else set())
            elections = election_steps(b, usable, state.pool or "")
            candidates = [n for e in elections for n in e.ranked]
            announced = announced_step(b, state)
            compare(b, elections, announced)
            gone = tuple(sorted(set(drained)))
            after = drained_steps(b, usable, state.pool or "", gone) if gone else []
            if not announced:
                if not usable:
                    b.blocked(
                        f"pool {state.pool} is not announced: no L2Advertisement or BGPAdvertisement covers it "
                        "(or selects this Service)",
                        f"create one: an L2Advertisement in {view.ns} with spec.ipAddressPools: [{state.pool}]",
                    )
                elif not endpoints.ready(view.slices_of(service)):
                    b.blocked(
                        "the Service has no ready endpoints, and MetalLB only announces Services that have some",
                        f"kubectl -n {b.ns} get endpointslices -l kubernetes.io/service-name={b.name}; check its Pods",
                    )
                elif not candidates:
                    no_candidate(b, elections, state.pool or "")
                elif state.severity == "fail" and announce_failed(b, state.pool):
                    pass
                elif state.severity == "fail":
                    b.blocked(
                        f"nodes {', '.join(candidates)} may announce it, yet none does",
                        f"kubectl -n {view.ns} logs daemonset/{view.install.speaker if view.install else 'speaker'}"
                        " (look for the Service's name)",
                    )
        analyzer_step(b, state.pool or allocation.request(service).pool)
    ips = k8s.ingress_addresses(service)
    ok = False
    if state is None:
        kind = svc.IGNORED if k8s.is_load_balancer(b.service) else "not-loadbalancer"
        ok = kind == svc.IGNORED and bool(ips)
    else:
        kind = state.state
        ok = state.state == svc.ASSIGNED and b.cause is None
    if b.cause is None:
        who = ", ".join(sorted({a.node for a in announced})) or "an unknown node (no recent nodeAssigned event)"
        b.cause = (
            f"none: MetalLB assigned {', '.join(ips)} and {who} announces it",
            "if the address does not answer: test from the same L2 segment (arping), check kube-proxy's "
            "strictARP (kubectl metallb strict-arp) and firewalls",
        )
    return Explanation(
        service=key(service),
        state=kind,
        ok=ok,
        steps=b.steps,
        cause=b.cause[0],
        fix=b.cause[1],
        pools=fits,
        announced_by=announced,
        ips=ips,
        elections=elections,
        after_drain=after,
    )
