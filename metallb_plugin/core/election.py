"""Which node announces a Service: MetalLB's speaker election, predicted from the API (pure).

Layer 2 (speaker/layer2_controller.go ShouldAnnounce): a Service is announced only when one of its endpoints can
serve. The candidates are the nodes with an active speaker (a member of the speakers' memberlist) that an
L2Advertisement of the Service's pool selects (nodeSelectors; from v0.16.0 only advertisements whose
serviceSelectors select the Service), minus nodes whose NetworkUnavailable condition is True and nodes labelled
node.kubernetes.io/exclude-from-external-load-balancers (unless the speaker runs with --ignore-exclude-lb); with
externalTrafficPolicy Local, only candidates with an endpoint that can serve. They are sorted by
sha256(node name + "#" + the Service's first address), bytes ascending; the first one announces.
BGP (bgp_controller.go): every candidate announces, each speaker deciding alone (no memberlist).

Release differences handled here (read in each release's speaker):
- v0.13.x: no exclusion label; an endpoint counts when its ready condition is unset or true.
- v0.14.0-v0.14.4: exclusion label (honouring --ignore-exclude-lb from v0.14.4); an endpoint counts by its
  serving condition, else its ready condition.
- v0.14.5+: an endpoint counts when ready is unset or true, or serving is true.
- v0.14.9 only: cordoned (spec.unschedulable) nodes are no candidates either.
- memberlist disabled: from v0.15.0 every node counts as a speaker; before, no node does (nothing is announced).
- v0.16.0+: advertisements' serviceSelectors.

The plugin sees memberlist through the API: a node has an active speaker when its speaker Pod is Ready and not
terminating. `--simulate-drain` removes nodes: their speakers and the endpoints on them are gone.

    elect(view, service, pool, protocol, drained=(), before=None) -> Election
    active_speakers(view) -> set of node names, or None when speaker Pods cannot be seen
    electorate(view, protocol) -> Electorate      the nodes' own reasons, worked out once per View
    excluded_by_label(node, version, ignore_exclude_lb) -> bool
"""

import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import ipam, workloads
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.endpoints import Endpoint, Slice
from metallb_plugin.core.objects import Obj, meta, name
from metallb_plugin.core.view import View

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
Version = Optional[Tuple[int, int, int]]  # None: unknown, behave as the newest release

# reasons a node is no candidate, as shown to the user
DRAINED = "drained (--simulate-drain)"
NO_SPEAKER = "no ready speaker"
NETWORK_UNAVAILABLE = "NetworkUnavailable"
CORDONED = "cordoned (MetalLB v0.14.9 skips unschedulable nodes)"
NOT_SELECTED = "no advertisement's nodeSelectors select it"
NO_LOCAL_ENDPOINT = "no ready endpoint (externalTrafficPolicy Local)"


def _newer(version: Version, *than: int) -> bool:
    return version is None or version >= than


def excluded_by_label(node: Obj, version: Version, ignore_exclude_lb: bool) -> bool:
    """Whether the speaker skips this node for its exclusion label (v0.14.0+; --ignore-exclude-lb from v0.14.4)."""
    if EXCLUDE_LABEL not in k8s.labels(node) or not _newer(version, 0, 14, 0):
        return False
    return not (ignore_exclude_lb and _newer(version, 0, 14, 4))


def exclusion_reason(ignore_exclude_lb: bool) -> str:
    return f"labelled {EXCLUDE_LABEL}" + ("" if ignore_exclude_lb else " (the speaker's --ignore-exclude-lb is off)")


def endpoint_can_serve(endpoint: Endpoint, version: Version) -> bool:
    """Whether the speaker of this release counts this endpoint (by its conditions)."""
    ready, serving = endpoint.ready, endpoint.serving
    if not _newer(version, 0, 14, 0):
        return ready is not False
    if not _newer(version, 0, 14, 5):
        return serving is not False if serving is not None else ready is not False
    return ready is not False or serving is True


def serving_nodes(slices: Iterable[Slice], version: Version, gone: Set[str]) -> Tuple[bool, Set[str]]:
    """(any endpoint can serve, nodes holding one), leaving out endpoints on nodes in gone."""
    anywhere, nodes = False, set()
    for item in slices:
        for endpoint in item.endpoints:
            node = endpoint.node
            if node in gone or not endpoint_can_serve(endpoint, version):
                continue
            anywhere = True
            if node:
                nodes.add(node)
    return anywhere, nodes


def memberlist_enabled(speaker: Optional[Obj]) -> bool:
    """Whether the speaker DaemonSet joins memberlist (a bind address from its environment or --ml-bindaddr)."""
    if speaker is None:
        return True
    container = k8s.main_container(speaker, "speaker")
    env_names = {e.get("name") for e in container.get("env") or []}
    return "METALLB_ML_BIND_ADDR" in env_names or bool(k8s.flag_value(k8s.argv(container), "--ml-bindaddr"))


def active_speakers(view: View) -> Optional[Set[str]]:
    """Nodes with a Ready, not terminating speaker Pod; None when no speaker Pod is visible at all."""
    if not view.speaker:
        return set() if view.install else None
    pods = workloads.pods_of(view.speaker, view.pods)
    if not pods:
        return None
    return {
        str(k8s.spec(p).get("nodeName"))
        for p in pods
        if workloads.pod_ready(p) and not meta(p).get("deletionTimestamp") and k8s.spec(p).get("nodeName")
    }


@dataclass
class Electorate:
    """What the election reads from the cluster that does not depend on the Service, for one protocol."""

    caveats: List[str]
    speakers: Optional[Set[str]]  # None: every node counts as running an active speaker
    reasons: Dict[str, List[str]]  # node -> why it is no candidate whatever the Service (speakers aside)


def electorate(view: View, protocol: str) -> Electorate:
    """The nodes as every Service's election sees them, worked out once per View and protocol."""
    return view.once(("electorate", protocol), lambda: _electorate(view, protocol))


def _electorate(view: View, protocol: str) -> Electorate:
    version, caveats = view.version, []
    speakers = active_speakers(view)
    if speakers is None:
        caveats.append("speaker Pods are not visible: every node is assumed to run an active speaker")
    if protocol == adv.L2 and not memberlist_enabled(view.speaker):
        if _newer(version, 0, 15, 0):
            speakers = None
            caveats.append("memberlist is disabled: every node counts as a speaker")
        else:
            speakers = set()
            caveats.append("memberlist is disabled: this release then counts no speaker at all")
    reasons = {}
    for node in view.nodes:
        found = []
        if k8s.condition(node, "NetworkUnavailable").get("status") == "True":
            found.append(NETWORK_UNAVAILABLE)
        if version == (0, 14, 9) and k8s.spec(node).get("unschedulable"):
            found.append(CORDONED)
        if excluded_by_label(node, version, view.ignore_exclude_lb):
            found.append(exclusion_reason(view.ignore_exclude_lb))
        reasons[name(node)] = found
    return Electorate(caveats, speakers, reasons)


def selected_nodes(view: View, ads: List[Obj]) -> Set[str]:
    """Nodes that one of these advertisements' nodeSelectors select, worked out once per View and set of them."""
    return view.once(
        ("selected", tuple(id(a) for a in ads)),
        lambda: {name(n) for n in view.nodes if any(adv.allows_node(a, n) for a in ads)},
    )


def _eligible(view: View, protocol: str, ads: List[Obj]) -> List[str]:
    """The candidates before the Service's endpoints and the drain are considered, once per View and set of
    advertisements."""

    def make() -> List[str]:
        voters, selected = electorate(view, protocol), selected_nodes(view, ads)
        speakers = voters.speakers
        return [
            node
            for node, fixed in voters.reasons.items()
            if not fixed and node in selected and (speakers is None or node in speakers)
        ]

    return view.once(("eligible", protocol, tuple(id(a) for a in ads)), make)


def hash_address(ip: str) -> str:
    """The address as Go's net.IP.String() writes it (an IPv4-mapped IPv6 address in dotted form)."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def rank(nodes: Iterable[str], ip: str) -> List[str]:
    """Nodes in the speakers' order for this address: sha256(node + "#" + ip), bytes ascending."""
    suffix = f"#{hash_address(ip)}".encode()
    return sorted(nodes, key=lambda node: hashlib.sha256(node.encode() + suffix).digest())


@dataclass
class Election:
    service: str  # namespace/name
    protocol: str  # advertisements.L2 | advertisements.BGP
    ip: Optional[str]  # the address the ranking hashes (the first one in the Service's status)
    ranked: List[str] = field(default_factory=list)  # candidates (L2: in MetalLB's order; BGP: by name)
    judge: Callable[[], Dict[str, List[str]]] = field(default=dict, repr=False, compare=False)
    blocked: str = ""  # why no node announces whatever the candidates (no endpoint can serve, ...)
    drained: Tuple[str, ...] = ()
    caveats: List[str] = field(default_factory=list)  # what the prediction could not see

    @functools.cached_property
    def verdicts(self) -> Dict[str, List[str]]:
        """Every node -> why it is no candidate ([]: it is); worked out only when shown, for it is one entry per
        node for every Service."""
        return self.judge()

    @property
    def announcers(self) -> List[str]:
        """The node announcing in layer 2, every candidate in BGP; [] when nothing is announced."""
        if self.blocked or not self.ranked:
            return []
        return self.ranked[:1] if self.protocol == adv.L2 else list(self.ranked)

    @property
    def winner(self) -> Optional[str]:
        found = self.announcers
        return found[0] if found and self.protocol == adv.L2 else None

    def to_dict(self) -> Dict[str, object]:
        return {
            "protocol": self.protocol,
            "address": self.ip,
            "candidates": list(self.ranked),
            "announcers": self.announcers,
            "excluded": {node: reasons for node, reasons in self.verdicts.items() if reasons},
            "blocked": self.blocked,
            "drained": list(self.drained),
            "caveats": list(self.caveats),
        }


def advertisements_for(view: View, pool: str, service: Obj, protocol: str) -> List[Obj]:
    """The advertisements of this protocol covering the pool, and (v0.16.0+) selecting the Service."""
    found = [a for a in view.covering.get(pool, []) if adv.protocol(a) == protocol]
    if _newer(view.version, 0, 16, 0):
        found = [a for a in found if adv.selects_service(a, service)]
    return found


def elect(
    view: View,
    service: Obj,
    pool: str,
    protocol: str = adv.L2,
    drained: Iterable[str] = (),
    before: Optional[Election] = None,
) -> Election:
    """Who announces this Service's address with this protocol (the Service's pool given), as its speakers would
    decide with the nodes in drained gone. before: its election without the drain, whose order is reused (draining
    only takes candidates away)."""
    version = view.version
    gone = set(drained)
    ips = [i for i in k8s.ingress_addresses(service) if ipam.is_address(i)]
    election = Election(k8s.key(service), protocol, ips[0] if ips else None, drained=tuple(sorted(gone)))
    ads = advertisements_for(view, pool, service, protocol)
    voters = electorate(view, protocol)
    election.caveats = list(voters.caveats)
    selected = selected_nodes(view, ads)
    can_serve, endpoint_nodes = serving_nodes(view.slices_of(service), version, gone)
    local = k8s.spec(service).get("externalTrafficPolicy") == "Local"
    speakers = voters.speakers

    def reasons(node: str) -> List[str]:
        found = []
        if node in gone:
            found.append(DRAINED)
        elif speakers is not None and node not in speakers:
            found.append(NO_SPEAKER)
        found += voters.reasons[node]
        if node not in selected:
            found.append(NOT_SELECTED)
        if local and node not in endpoint_nodes:
            found.append(NO_LOCAL_ENDPOINT)
        return found

    election.judge = lambda: {node: reasons(node) for node in voters.reasons}
    candidates = [
        node for node in _eligible(view, protocol, ads) if node not in gone and (not local or node in endpoint_nodes)
    ]
    if before is not None and before.ip == election.ip:
        chosen = set(candidates)
        election.ranked = [node for node in before.ranked if node in chosen]
    elif protocol == adv.L2 and election.ip:
        election.ranked = rank(candidates, election.ip)
    else:  # in BGP every candidate announces: no order
        election.ranked = sorted(candidates)
    if not ads:
        kind = "L2Advertisement" if protocol == adv.L2 else "BGPAdvertisement"
        election.blocked = f"no {kind} covers pool {pool}" + (
            " and selects this Service" if _newer(version, 0, 16, 0) else ""
        )
    elif not election.ip:
        election.blocked = "it has no address yet"
    elif not can_serve:
        election.blocked = "none of its endpoints can serve" + (" once those nodes are gone" if gone else "")
    elif not candidates:
        election.blocked = "no node may announce it"
    return election
