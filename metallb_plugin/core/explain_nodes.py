"""The announcing half of `status --service` (pure): the nodes that may announce the Service in MetalLB's order
(core/election.py), who announces it, what --simulate-drain would change, and the analyzer's findings about it;
when no node may announce it, a cause and a fix that would help."""

from typing import TYPE_CHECKING, List, Optional, Tuple

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import analyze, announcing, election
from metallb_plugin.core import service_status as svc
from metallb_plugin.core.analyze import Finding, Ref
from metallb_plugin.core.checks import FAIL, OK, WARN
from metallb_plugin.core.objects import Obj, name

if TYPE_CHECKING:
    from metallb_plugin.core.explain import _Builder

INFO = "info"  # a step that informs (status --service shows it with "-")


def election_steps(b: "_Builder", usable: List[Obj], pool: str) -> List[election.Election]:
    """One step per protocol of the usable advertisements: the candidate nodes in MetalLB's order, the winner
    marked, then the nodes that are no candidates and why."""
    found = []
    protocols = [p for p in (adv.L2, adv.BGP) if any(adv.protocol(a) == p for a in usable)]
    for protocol in protocols:
        now = election.elect(b.view, b.service, pool, protocol)
        found.append(now)
        b.step(
            f"nodes that may announce it: {len(now.ranked)} of {len(now.verdicts)}"
            + (f" ({protocol})" if len(protocols) > 1 else ""),
            OK if now.ranked else FAIL,
            announcing.lines(now),
        )
    return found


def drained_steps(b: "_Builder", usable: List[Obj], pool: str, drained: Tuple[str, ...]) -> List[election.Election]:
    """--simulate-drain: who would announce it without those nodes (a step per protocol)."""
    found = []
    for protocol in [p for p in (adv.L2, adv.BGP) if any(adv.protocol(a) == p for a in usable)]:
        after = election.elect(b.view, b.service, pool, protocol, drained=drained)
        found.append(after)
        who = ", ".join(after.announcers)
        b.step(
            f"after draining {', '.join(drained)}: "
            + (f"{who} would announce it" if who else f"no node would announce it ({after.blocked})"),
            INFO if who else WARN,
            announcing.lines(after),
        )
    return found


def relevant(b: "_Builder", pool: Optional[str]) -> List[Finding]:
    """The analyzer's errors and warnings about this Service, its pool, or the advertisements covering the pool."""
    view = b.view
    refs = [Ref("Service", b.name, b.ns)]
    if pool:
        refs.append(Ref("IPAddressPool", pool, view.ns))
        refs += [Ref(str(a.get("kind")), name(a), view.ns) for a in view.covering.get(pool, [])]
    return [f for f in view.analysis().about(refs) if f.level != analyze.INFO]


# analyzer codes about advertisements, and the election reason each one explains
NODE_CODES = {"MLB0302": election.NOT_SELECTED, "MLB0303": "labelled"}


def no_candidate(b: "_Builder", elections: List[election.Election], pool: str) -> None:
    """Why no node may announce it, with a fix that would help: the analyzer's finding names the advertisement to
    change when what it says stands in the way of the nodes closest to announcing; its own fix when that alone
    makes one a candidate, else everything that node needs."""
    blocked = next((e for e in elections if not e.ranked), elections[0])
    reasons = announcing.closest(blocked)
    single = any(len(r) == 1 for r in blocked.verdicts.values())
    for found in relevant(b, pool):
        explained = NODE_CODES.get(found.code)
        if explained and any(r.startswith(explained) for r in reasons):
            b.blocked(f"{found.code} {found.message}", found.fix if single else announcing.helpful_fix(blocked, b.view))
            return
    b.blocked(announcing.summary(blocked), announcing.helpful_fix(blocked, b.view))


def announce_failed(b: "_Builder", pool: Optional[str]) -> bool:
    """The elected node lacks the advertisement's interfaces (MetalLB's announceFailed event, as MLB0304 says)."""
    found = [f for f in relevant(b, pool) if f.code == "MLB0304" and any(r.kind == "Service" for r in f.objects)]
    if found:
        b.blocked(f"{found[0].code} {found[0].message}", found[0].fix)
    return bool(found)


def compare(b: "_Builder", elections: List[election.Election], announced: List[svc.Announcement]) -> None:
    """A note under the announcing step when the layer 2 winner MetalLB's order predicts is not the announcer."""
    predicted = next((e.winner for e in elections if e.protocol == adv.L2 and e.winner), None)
    actual = {a.node for a in announced if a.protocol == adv.L2}
    if predicted and actual and predicted not in actual and b.steps:
        b.steps[-1].lines.append(
            f"MetalLB's order predicts {predicted}: the speakers' memberlist may not see the speakers the Pods' "
            "readiness shows (a speaker starting, stopping or cut off)"
        )


def analyzer_step(b: "_Builder", pool: Optional[str]) -> None:
    found = relevant(b, pool)
    if found:
        errors = any(f.level == analyze.ERROR for f in found)
        b.step(
            f"configuration analysis: {len(found)} finding{'' if len(found) == 1 else 's'} about it "
            "(kubectl metallb analyze)",
            FAIL if errors else WARN,
            [f"{f.code} {f.message}" for f in found],
        )


def announced_step(b: "_Builder", state: svc.ServiceState) -> List[svc.Announcement]:
    found = list(state.announced_by)
    if found:
        b.step(
            "announced by " + ", ".join(f"{a.node} ({a.protocol})" for a in found),
            OK,
            [f"from {a.source}" for a in found[:1]],
        )
        return found
    b.step("announced by: no node", WARN if state.severity != "fail" else FAIL, [state.reason] if state.reason else [])
    return found
