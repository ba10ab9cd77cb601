"""BGP: the sessions MetalLB's BGPPeers ask for are established (BFD up where configured), FRR took its
configuration on every node (FRR-K8s), and each Service advertised over BGP has a session that carries it."""

from typing import Dict, List, Tuple

from metallb_plugin.core import bgp
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.status.common import _plural, named
from metallb_plugin.core.view import View


def configured(view: View) -> bool:
    """BGP checks apply once a BGPPeer exists, or frr-k8s reports sessions or MetalLB advertises over BGP."""
    return view.bgp is not None and view.bgp.configured


def session_line(session: bgp.Session) -> str:
    """node -> peer (BGPPeer names, vrf): state, BFD, why."""
    names = ", ".join(session.peers) if session.peers else "not a MetalLB BGPPeer"
    vrf = f", vrf {session.vrf}" if session.vrf else ""
    text = f"{session.node} -> {session.peer} ({names}{vrf}): {session.state}"
    if session.bfd_down:
        text += f", BFD {session.bfd}"
    return text + (f" ({session.detail})" if session.detail else "")


def where_to_look(view: View) -> str:
    """Where a backend without session objects shows its sessions."""
    if view.bgp.logs_read:
        return (
            f"kubectl -n {view.ns} logs SPEAKER-POD -c speaker | grep -i bgp; compare the BGPPeer's address, "
            "ASNs and password with the router's configuration"
        )
    if view.install and view.install.backend == "frr":
        return (
            f"kubectl -n {view.ns} exec SPEAKER-POD -c frr -- vtysh -c 'show bgp summary' (FRR mode publishes no "
            "session state in the API; the metric is metallb_bgp_session_up)"
        )
    return (
        "kubectl metallb status --bgp, which reads the speakers' logs ('BGP session established', 'BGP session "
        "down', 'failed to connect to peer'); or the metric metallb_bgp_session_up on port 9120 of each speaker"
    )


def check_sessions(view: View) -> Result:
    view.facts.get("bgppeers")
    summary = view.bgp
    mine = [s for s in summary.sessions if s.peers]
    others = [s for s in summary.sessions if not s.peers]
    if not mine and not others:
        return Result(WARN, "no speaker node is selected by any BGPPeer's nodeSelectors: no session is opened")
    known = [s for s in mine if s.source]
    if mine and not known:
        details = tuple(f"could not read: {p}" for p in summary.log_problems)
        raise Skip(f"session state unknown: {mine[0].detail}" + (f" ({'; '.join(details)})" if details else ""))
    down = bgp.failing(summary, mine)
    unknown = [s for s in mine if not s.source]
    foreign_down = [s for s in others if s.source and (not s.up or s.bfd_down)]
    lines = tuple(session_line(s) for s in down + unknown + foreign_down)
    lines += tuple(f"could not read the speaker log: {p}" for p in summary.log_problems)
    source = f"from {known[0].source}" if known else ""
    if down:
        bfd_only = [s for s in down if s.up]  # BGP established, BFD down: no fast failover for that path
        parts = []
        if len(down) > len(bfd_only):
            parts.append(f"{len(down) - len(bfd_only)} of {_plural(len(mine), 'BGP session')} down")
        if bfd_only:
            total = "" if parts else f" of {_plural(len(mine), 'BGP session')}"
            parts.append(f"BFD down on {len(bfd_only)}{total}")
        return Result(FAIL, f"{', '.join(parts)} ({source})", lines)
    if unknown or foreign_down:
        parts = []
        if unknown:
            parts.append(f"no state for {_plural(len(unknown), 'session')}")
        if foreign_down:
            parts.append(f"{len(foreign_down)} session(s) of other FRR configurations down")
        return Result(WARN, "; ".join(parts), lines)
    return Result(OK, f"{_plural(len(known), 'BGP session')} established ({source})", _established(known))


def _established(sessions: List[bgp.Session]) -> Tuple[str, ...]:
    by_node: Dict[str, List[str]] = {}
    for s in sessions:
        by_node.setdefault(s.node, []).append(f"{', '.join(s.peers)} ({s.peer})")
    return tuple(f"{node}: {', '.join(peers)}" for node, peers in sorted(by_node.items()))


def check_frr(view: View) -> Result:
    view.facts.get("frrnodestates")
    states = view.bgp.node_states
    if not states:
        raise Skip("no FRRNodeState yet (frr-k8s writes one per node when it starts)")
    bad = [n for n in states if not n.ok]
    if bad:
        lines = []
        for n in bad:
            if n.conversion != bgp.SUCCESS:
                lines.append(f"{n.node}: configuration not converted: {n.conversion or '(no result yet)'}")
            if n.reload != bgp.SUCCESS:
                lines.append(f"{n.node}: FRR reload failed: {n.reload or '(no result yet)'}")
        return Result(FAIL, f"FRR did not take its configuration on {_plural(len(bad), 'node')}", tuple(lines))
    return Result(OK, f"FRR runs its configuration on {_plural(len(states), 'node')} (conversion and reload: success)")


def check_services(view: View) -> Result:
    if not view.served("servicebgpstatuses"):
        raise Skip("ServiceBGPStatus needs MetalLB v0.15.0+")
    view.facts.get("servicebgpstatuses")
    summary = view.bgp
    by_service: Dict[str, List[bgp.Advertised]] = {}
    for item in summary.advertised:
        by_service.setdefault(item.service, []).append(item)
    if not by_service:
        return Result(OK, "no Service is advertised over BGP")
    peers = {p.name: p for p in summary.peers}
    stranded, lines = [], []
    for service, items in sorted(by_service.items()):
        paths = [(i.node, peers[p]) for i in items for p in i.peers if p in peers]
        states = [summary.session(node, peer) for node, peer in paths]
        known = [s for s in states if s is not None and s.source]
        text = f"{service}: " + ", ".join(f"{i.node} -> {', '.join(i.peers) or 'no peer'}" for i in items)
        if known and len(known) == len(states) and not any(s.up and not s.bfd_down for s in known):
            stranded.append(service)
            lines.append(text + " (no session that carries it is up)")
        else:
            lines.append(text)
    if stranded:
        return Result(
            FAIL, f"{_plural(len(stranded), 'Service')} advertised over BGP with every session down", tuple(lines)
        )
    return Result(OK, f"{_plural(len(by_service), 'Service')} advertised over BGP", tuple(lines))


def frr_k8s_state(view: View) -> bool:
    return configured(view) and (
        bool(view.facts.listed("frrnodestates")) or bool(view.install and view.install.backend == "frr-k8s")
    )


register(
    "bgp",
    "BGP",
    (
        Check(
            "bgp.sessions",
            "bgp",
            "BGP sessions are established",
            check_sessions,
            needs=("bgppeers",),
            hint=lambda view: (
                f"kubectl metallb status --bgp; kubectl -n {view.ns} get bgpsessionstates"
                if view.install and view.install.backend == "frr-k8s"
                else where_to_look(view)
            ),
            when=configured,
        ),
        Check(
            "bgp.frr",
            "bgp",
            "FRR took its configuration on every node",
            check_frr,
            needs=("frrnodestates",),
            hint=lambda view: (
                "kubectl get frrnodestates -o yaml; kubectl -n "
                + " logs daemonset/".join(
                    ((view.install and view.install.frr_k8s) or f"{view.ns}/frr-k8s-daemon").split("/")
                )
                + " -c reloader"
            ),
            when=frr_k8s_state,
        ),
        Check(
            "bgp.services",
            "bgp",
            "Services advertised over BGP have a session up",
            check_services,
            needs=("servicebgpstatuses",),
            hint=named("kubectl -n {ns} get servicebgpstatuses -o wide; kubectl metallb status --bgp"),
            when=configured,
        ),
    ),
)
