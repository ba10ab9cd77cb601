"""Who announces a Service, as status shows it (pure): the election's lines in `status --service`, a fix that would
make a node eligible when none is, and the --simulate-drain table.

    lines(election) -> [str]                     candidates in MetalLB's order (the winner marked), then the others
    blockers(election) -> {reason: [nodes]}      why the nodes that are no candidates are not
    closest(election) -> [reason]                what stands in the way of the nodes closest to being candidates
    helpful_fix(election, view) -> str            only changes that would make some node a candidate
    drain(view, states, drained) -> [Moved]      each announced Service before and after those nodes are gone
"""

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import election as el
from metallb_plugin.core.objects import Obj, key
from metallb_plugin.core.view import View

ORDINALS = {1: "st", 2: "nd", 3: "rd"}


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else ORDINALS.get(n % 10, 'th')}"


def lines(election: el.Election) -> List[str]:
    found = []
    announcing = set(election.announcers)
    for number, node in enumerate(election.ranked, 1):
        if election.protocol == adv.L2:
            mark = ": announces" if node in announcing else ""
            found.append(f"√ {node} ({_ordinal(number)} in MetalLB's layer2 order{mark})")
        else:
            found.append(f"√ {node}" + (" (announces over BGP)" if node in announcing else ""))
    for node, reasons in election.verdicts.items():
        if reasons:
            found.append(f"× {node}: {'; '.join(reasons)}")
    found += election.caveats
    return found


def blockers(election: el.Election) -> Dict[str, List[str]]:
    found: Dict[str, List[str]] = {}
    for node, reasons in election.verdicts.items():
        for reason in reasons:
            found.setdefault(reason, []).append(node)
    return found


def summary(election: el.Election) -> str:
    return "no node may announce it: " + "; ".join(f"{', '.join(n)}: {r}" for r, n in blockers(election).items())


def _fix(reason: str, nodes: List[str], view: View) -> Optional[str]:
    shown = ", ".join(nodes)
    if reason.startswith("labelled"):
        return (
            f"remove the label from {shown} (kubectl label node {nodes[0]} {el.EXCLUDE_LABEL}-), or run the speaker "
            "with --ignore-exclude-lb (Helm: speaker.ignoreExcludeLB=true)"
        )
    if reason == el.NO_SPEAKER:
        return f"kubectl -n {view.ns} get pods -o wide (why is the speaker not ready on {shown}?)"
    if reason == el.NETWORK_UNAVAILABLE:
        return f"repair the network of {shown} (its NetworkUnavailable condition): kubectl describe node {nodes[0]}"
    if reason == el.CORDONED:
        return f"uncordon {shown} (kubectl uncordon {nodes[0]})"
    if reason == el.NOT_SELECTED:
        return f"widen the advertisement's nodeSelectors to {shown}, or label {shown} to match them"
    if reason == el.NO_LOCAL_ENDPOINT:
        return f"run the Service's Pods on {shown}, or use externalTrafficPolicy Cluster"
    return None  # drained: only simulated


def closest(election: el.Election) -> List[str]:
    """The reasons of the nodes with the fewest reasons to be no candidate (what stands least in the way)."""
    blocked = [r for r in election.verdicts.values() if r]
    fewest = min((len(r) for r in blocked), default=0)
    return sorted({reason for r in blocked if len(r) == fewest for reason in r})


def helpful_fix(election: el.Election, view: View) -> str:
    """Changes that would each make a node a candidate: a node with a single reason names it. With none of those,
    every reason of the node with the fewest has to go."""
    single: Dict[str, List[str]] = {}
    for node, reasons in election.verdicts.items():
        if len(reasons) == 1:
            single.setdefault(reasons[0], []).append(node)
    fixes = [f for f in (_fix(r, n, view) for r, n in single.items()) if f]
    if fixes:
        return "; or ".join(fixes)
    blocked = [(len(r), n, r) for n, r in election.verdicts.items() if r]
    if not blocked:
        return f"kubectl -n {view.ns} logs daemonset/speaker"
    _, node, reasons = min(blocked)
    steps = [f for f in (_fix(r, [node], view) for r in reasons) if f]
    return f"{node} needs all of: " + "; and ".join(steps) if steps else "no node can announce it"


@dataclass
class Moved:
    """One announced Service before and after the drained nodes are gone."""

    service: str
    ips: Tuple[str, ...]
    protocol: str
    observed: Tuple[str, ...]  # announcing now, as its ServiceL2Status / ServiceBGPStatus / nodeAssigned events say
    predicted: Tuple[str, ...]  # announcing now, as MetalLB's order predicts
    after: Tuple[str, ...]  # predicted once the drained nodes are gone
    blocked: str  # why nothing would announce it then

    @property
    def now(self) -> Tuple[str, ...]:
        return self.observed or self.predicted

    @property
    def change(self) -> str:
        if not self.after:
            return "loses its announcement"
        return "stays" if set(self.after) == set(self.now) else "moves"

    def to_dict(self) -> Dict[str, Any]:
        return {
            "service": self.service,
            "ips": list(self.ips),
            "protocol": self.protocol,
            "announcedBy": list(self.observed),
            "predictedNow": list(self.predicted),
            "after": list(self.after),
            "change": self.change,
            "reason": self.blocked,
        }


def drain(view: View, states: Iterable[Any], services: Dict[str, Obj], drained: Iterable[str]) -> List[Moved]:
    """Each assigned MetalLB Service (states: service_status.ServiceState, services by namespace/name) as it is
    announced now and would be with the drained nodes gone."""
    gone = tuple(drained)
    found = []
    # in BGP every candidate node announces, often the same thousands for every Service: one copy of each set
    shared: Dict[Tuple[str, ...], Tuple[str, ...]] = {}

    def one(nodes: List[str]) -> Tuple[str, ...]:
        kept = tuple(nodes)
        return shared.setdefault(kept, kept)

    for state in states:
        service = services.get(state.key)
        if service is None or state.state != "assigned" or not state.pool:
            continue
        for protocol in (adv.L2, adv.BGP):
            if not el.advertisements_for(view, state.pool, service, protocol):
                continue
            before = el.elect(view, service, state.pool, protocol)
            after = el.elect(view, service, state.pool, protocol, drained=gone, before=before)
            observed = tuple(sorted({a.node for a in state.announced_by if a.protocol == protocol}))
            found.append(
                Moved(
                    key(service),
                    state.ips,
                    protocol,
                    observed,
                    one(before.announcers),
                    one(after.announcers),
                    after.blocked,
                )
            )
    return found
