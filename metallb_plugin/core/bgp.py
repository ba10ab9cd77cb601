"""BGP as MetalLB's objects tell it (pure): the sessions the configuration asks for and their state, FRR's
configuration results per node, and the Services advertised over BGP.

Where session state comes from depends on the BGP backend:
- FRR-K8s: frr-k8s writes a BGPSessionState per node and neighbor (status node, peer, vrf, bgpStatus: FRR's FSM
  state, bfdStatus: "N/A" without BFD) and an FRRNodeState per node (lastConversionResult, lastReloadResult).
- native (and FRR mode): MetalLB publishes no session state in the API; the speaker logs "BGP session
  established", "BGP session down" and "failed to connect to peer" (native), and exports metallb_bgp_session_up.
  `parse_speaker_log` reads those lines when the command could read the speakers' logs.
ServiceBGPStatus (MetalLB v0.15+) says which node advertises a Service to which BGPPeers: intent, not state.

    summarize(view) -> Summary            peers, sessions (expected and reported), FRR node states, Services
    parse_speaker_log(text) -> {peer address: LogEvent}     the latest session event per peer
    peer_label(address) -> str            how frr-k8s names a neighbor in labels and status.peer

The speakers' logs are in the snapshot under SPEAKER_LOGS when the command read them: a list of {"node", "pod",
"events": {peer address: LogEvent}} or {"node", "pod", "error": why it could not be read}.
"""

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from metallb_plugin.core import objects as k8s
from metallb_plugin.core import workloads
from metallb_plugin.core.objects import Obj, name
from metallb_plugin.core.selectors import any_matches
from metallb_plugin.core.view import status_target

SPEAKER_LOGS = "speakerlogs"
ESTABLISHED = "Established"
UNKNOWN = "unknown"
NO_BFD = "N/A"
FROM_STATE, FROM_LOG = "BGPSessionState", "speaker log"
SUCCESS = "success"  # FRRNodeState results
LOG_EVENTS = {  # native speaker: msg -> the session state it means
    "BGP session established": ESTABLISHED,
    "BGP session down": "Down",
    "failed to connect to peer": "Connect",
    "peer sent notification, closing session": "Down",
    "peer deconfigured, closing BGP session": "Idle",  # the BGPPeer was removed or no longer selects the node
}


@dataclass(frozen=True)
class Peer:
    """A BGPPeer in MetalLB's namespace."""

    name: str
    address: str  # peerAddress, or the interface of an unnumbered peer
    vrf: str
    my_asn: Any
    peer_asn: Any  # peerASN, or dynamicASN ("internal" / "external")
    bfd_profile: str
    node_selectors: Tuple[Any, ...]

    def runs_on(self, node: Obj) -> bool:
        return not self.node_selectors or any_matches(self.node_selectors, k8s.labels(node))

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "address": self.address, "vrf": self.vrf, "myASN": self.my_asn,
                "peerASN": self.peer_asn, "bfdProfile": self.bfd_profile}  # fmt: skip


@dataclass(frozen=True)
class LogEvent:
    state: str
    time: str
    detail: str = ""


@dataclass
class Session:
    node: str
    peer: str  # address or interface
    vrf: str = ""
    peers: List[str] = field(default_factory=list)  # the BGPPeers that ask for it ([]: not MetalLB's)
    state: str = UNKNOWN  # FRR's FSM state (Established, Active, Connect, Idle, ...), "Down", or unknown
    bfd: str = ""  # frr-k8s: N/A, up, down; "" unknown
    source: str = ""  # FROM_STATE | FROM_LOG | "" (nothing reported it)
    detail: str = ""

    @property
    def up(self) -> bool:
        return self.state == ESTABLISHED

    @property
    def bfd_down(self) -> bool:
        return self.bfd not in ("", NO_BFD) and self.bfd.lower() != "up"

    def to_dict(self) -> Dict[str, Any]:
        return {"node": self.node, "peer": self.peer, "vrf": self.vrf, "bgpPeers": list(self.peers),
                "state": self.state, "bfd": self.bfd, "source": self.source, "detail": self.detail}  # fmt: skip


@dataclass(frozen=True)
class NodeState:
    node: str
    conversion: str
    reload: str

    @property
    def ok(self) -> bool:
        return self.conversion == SUCCESS and self.reload == SUCCESS

    def to_dict(self) -> Dict[str, str]:
        return {"node": self.node, "lastConversionResult": self.conversion, "lastReloadResult": self.reload}


@dataclass(frozen=True, order=True)
class Advertised:
    """One ServiceBGPStatus: a node advertises a Service to these BGPPeers."""

    service: str  # namespace/name
    node: str
    peers: Tuple[str, ...]

    def to_dict(self) -> Dict[str, Any]:
        return {"service": self.service, "node": self.node, "bgpPeers": list(self.peers)}


@dataclass
class Summary:
    backend: str
    peers: List[Peer]
    sessions: List[Session]
    node_states: List[NodeState]
    advertised: List[Advertised]
    logs_read: bool = False  # the speakers' logs were read (native or FRR mode)
    log_problems: List[str] = field(default_factory=list)  # speakers whose log could not be read, and why

    @property
    def configured(self) -> bool:
        return bool(self.peers or self.sessions or self.advertised)

    def session(self, node: str, peer: Peer) -> Optional[Session]:
        return next((s for s in self.sessions if s.node == node and peer.name in s.peers), None)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "backend": self.backend,
            "sessionSource": FROM_STATE if self.backend == "frr-k8s" else (FROM_LOG if self.logs_read else None),
            "peers": [p.to_dict() for p in self.peers],
            "sessions": [s.to_dict() for s in self.sessions],
            "frrNodeStates": [n.to_dict() for n in self.node_states],
            "services": [a.to_dict() for a in self.advertised],
            "logProblems": list(self.log_problems),
        }


def peer_label(address: str) -> str:
    """frr-k8s' form of a neighbor: IPv4 and interface names as they are, IPv6 expanded with '-' for ':'."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    return address if parsed.version == 4 else parsed.exploded.replace(":", "-")


def _peer(obj: Obj) -> Peer:
    spec = k8s.spec(obj)
    return Peer(
        name=name(obj),
        address=str(spec.get("peerAddress") or spec.get("interface") or ""),
        vrf=str(spec.get("vrf") or ""),
        my_asn=spec.get("myASN"),
        peer_asn=spec.get("peerASN") or spec.get("dynamicASN"),
        bfd_profile=str(spec.get("bfdProfile") or ""),
        node_selectors=tuple(spec.get("nodeSelectors") or ()),
    )


def parse_speaker_log(text: str) -> Dict[str, LogEvent]:
    """The latest session event per peer address in a native speaker's log (JSON lines; other lines skipped)."""
    latest: Dict[str, LogEvent] = {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        state = LOG_EVENTS.get(str(entry.get("msg"))) if isinstance(entry, dict) else None
        if state and entry.get("peer"):
            detail = str(entry.get("error") or entry.get("msg"))
            latest[str(entry["peer"])] = LogEvent(state, str(entry.get("ts") or ""), detail)
    return latest


def _speaker_nodes(view: Any) -> List[Obj]:
    """The nodes a speaker Pod runs on (every node when the speaker's Pods are unknown)."""
    pods = workloads.pods_of(view.speaker, view.pods) if view.speaker else []
    on = {(p.get("spec") or {}).get("nodeName") for p in pods}
    return [n for n in view.nodes if name(n) in on] if on else list(view.nodes)


def _reported(view: Any, logs: Mapping[str, Mapping[str, LogEvent]]) -> List[Session]:
    """Sessions as frr-k8s (BGPSessionState) or the speakers' logs ({node: {peer address: event}}) report them."""
    found = []
    for state in view.facts.listed("bgpsessionstates"):
        status, labels = k8s.status(state), k8s.labels(state)
        found.append(
            Session(
                node=str(status.get("node") or labels.get("frrk8s.metallb.io/node") or ""),
                peer=str(status.get("peer") or labels.get("frrk8s.metallb.io/peer") or ""),
                vrf=str(status.get("vrf") or labels.get("frrk8s.metallb.io/vrf") or ""),
                state=str(status.get("bgpStatus") or UNKNOWN),
                bfd=str(status.get("bfdStatus") or ""),
                source=FROM_STATE,
            )
        )
    for node, events in logs.items():
        for address, event in events.items():
            detail = f"{event.time}: {event.detail}" if event.time else event.detail
            found.append(Session(node=node, peer=address, state=event.state, source=FROM_LOG, detail=detail))
    return found


def summarize(view: Any) -> Summary:
    """Every session the BGPPeers ask for (a BGPPeer peers from each speaker node its nodeSelectors match), with
    the state reported for it, and the reported sessions of no BGPPeer (another FRRConfiguration's)."""
    backend = view.install.backend if view.install else ""
    peers = [_peer(p) for p in view.local.get("bgppeers") or []]
    read = view.facts.objects.get(SPEAKER_LOGS)
    entries = read if isinstance(read, list) else []
    logs = {e["node"]: e["events"] for e in entries if "events" in e}
    problems = [f"{e['pod']} on {e['node']}: {e['error']}" for e in entries if "error" in e]
    if read is not None and not isinstance(read, list):  # Unreadable: the speaker Pods could not be listed
        problems.append(str(getattr(read, "reason", read)))
    reported = _reported(view, logs)
    first: Dict[Tuple[str, str, str], Session] = {}  # (node, vrf, peer) -> the first session reported for it
    for s in reported:
        first.setdefault((s.node, s.vrf, s.peer), s)
    sessions: List[Session] = []
    for node in _speaker_nodes(view):
        node_name = name(node)
        for peer in peers:
            if not peer.runs_on(node):
                continue
            found = [first.get((node_name, peer.vrf, p)) for p in (peer.address, peer_label(peer.address))]
            candidates = [s for s in found if s is not None]
            # reported lists sessions in the order they were read: the earlier of the two spellings wins
            match = min(candidates, key=reported.index) if len(candidates) > 1 else next(iter(candidates), None)
            if match is None:
                detail = _missing(backend, logs if read is not None else None, node_name)
                match = Session(node_name, peer.address, peer.vrf, detail=detail)
                reported.append(match)
                first[(node_name, peer.vrf, peer.address)] = match
            if not match.peers:
                sessions.append(match)
            match.peers.append(peer.name)
    # a session frr-k8s reports that no BGPPeer asks for belongs to another FRRConfiguration; one only a speaker's
    # log mentions is a peer MetalLB had before its configuration changed
    sessions += [s for s in reported if not s.peers and s.source == FROM_STATE]
    sessions.sort(key=lambda s: (s.node, s.vrf, s.peer))
    node_states = sorted(
        (
            NodeState(
                name(n),
                str(k8s.status(n).get("lastConversionResult") or ""),
                str(k8s.status(n).get("lastReloadResult") or ""),
            )
            for n in view.facts.listed("frrnodestates")
        ),
        key=lambda n: n.node,
    )
    advertised = sorted(
        Advertised(f"{namespace}/{service}", node, tuple(k8s.status(s).get("peers") or ()))
        for s in view.local.get("servicebgpstatuses") or []
        for namespace, service, node in [status_target(s)]
    )
    return Summary(backend, peers, sessions, node_states, advertised, read is not None, problems)


def _missing(backend: str, logs: Optional[Mapping[str, Any]], node: str) -> str:
    if backend == "frr-k8s":
        return "no BGPSessionState for it (frr-k8s writes one per neighbor FRR has)"
    if logs is None:
        return f"MetalLB's {backend or 'native'} BGP publishes no session state: status --bgp reads the speaker log"
    if node not in logs:
        return "the speaker's log on this node could not be read"
    return "no session event in the speaker's recent log"


def failing(summary: Summary, sessions: Optional[Sequence[Session]] = None) -> List[Session]:
    """MetalLB's sessions known to be down (or whose BFD is down)."""
    return [s for s in sessions or summary.sessions if s.peers and s.source and (not s.up or s.bfd_down)]
