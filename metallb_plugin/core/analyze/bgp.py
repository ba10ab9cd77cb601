"""BGP: aggregation lengths and local preferences as MetalLB's own config validation judges them, and peers defined
twice."""

from typing import List, Optional, Set, Tuple

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.analyze.finding import ERROR, WARNING, Finding, Ref, finding, rule
from metallb_plugin.core.analyze.model import Model
from metallb_plugin.core.checks import register
from metallb_plugin.core.objects import Obj, name

MAX_LENGTH = {4: 32, 6: 128}


def _int(value: object, default: int) -> int:
    """A numeric field (its default when unset or not a number: the API server's schema refuses those)."""
    try:
        return default if value is None or isinstance(value, bool) else int(str(value))
    except ValueError:
        return default


def _lengths(ad: Obj) -> Tuple[int, int]:
    spec = k8s.spec(ad)
    return _int(spec.get("aggregationLength"), 32), _int(spec.get("aggregationLengthV6"), 128)


def _pools_of(model: Model, ad: Obj) -> List[Obj]:
    return [p for p in model.pools if adv.selects_pool(ad, p)]


def aggregation(model: Model) -> List[Finding]:
    found = []
    for ad in model.local["bgpadvertisements"]:
        lengths = dict(zip((4, 6), _lengths(ad)))
        bad = [f for f in (4, 6) if lengths[f] > MAX_LENGTH[f]]
        for family in bad:
            field = "aggregationLength" if family == 4 else "aggregationLengthV6"
            found.append(
                finding(
                    "MLB0501",
                    f"BGPAdvertisement {name(ad)}: {field} {lengths[family]} is no IPv{family} prefix length "
                    f"(at most {MAX_LENGTH[family]}): MetalLB refuses it",
                    f"set spec.{field} between the pools' prefix length and {MAX_LENGTH[family]}",
                    Ref.of(ad, f"spec.{field}"),
                )
            )
        for pool in _pools_of(model, ad):
            for entry in model.entries(pool):
                if entry.range is None or entry.range.version in bad:
                    continue
                lowest = min(c.prefixlen for c in entry.range.cidrs)
                family = entry.range.version
                if lengths[family] >= lowest:
                    continue
                field = "aggregationLength" if family == 4 else "aggregationLengthV6"
                found.append(
                    finding(
                        "MLB0501",
                        f"BGPAdvertisement {name(ad)}: {field} {lengths[family]} is less specific than /{lowest} of "
                        f"pool {name(pool)} ({entry.text}): MetalLB refuses it, as it would announce addresses "
                        "outside the pool",
                        f"set spec.{field} to {lowest} or more (or make the pool's range larger)",
                        Ref.of(ad, f"spec.{field}"),
                        Ref.of(pool, entry.path, kind="IPAddressPool"),
                    )
                )
    return found


def _node_names(model: Model, obj: Obj) -> Optional[Set[str]]:
    """The nodes an object's nodeSelectors select; None when the nodes are not known."""
    if not model.facts.readable("nodes") or model.facts.objects.get("nodes") is None:
        return None
    return {name(n) for n in model.selected_nodes(obj)}


def _share_nodes(model: Model, a: Obj, b: Obj) -> bool:
    """Whether two objects' nodeSelectors select a common node (without the nodes: when their selectors are equal)."""
    nodes_a, nodes_b = _node_names(model, a), _node_names(model, b)
    if nodes_a is None or nodes_b is None:
        return (k8s.spec(a).get("nodeSelectors") or []) == (k8s.spec(b).get("nodeSelectors") or [])
    return bool(nodes_a & nodes_b)


def _aggregation_differs(a: Obj, b: Obj, families: Set[int]) -> bool:
    """MetalLB's isAggrLengthDifferent: the two announce different prefixes for every family of the pool."""
    (a4, a6), (b4, b6) = _lengths(a), _lengths(b)
    if not families:
        return True
    if a4 != b4 and 6 not in families:
        return True
    if a6 != b6 and 4 not in families:
        return True
    return a4 != b4 and a6 != b6


def _peers_differ(a: Obj, b: Obj) -> bool:
    peers_a, peers_b = k8s.spec(a).get("peers") or [], k8s.spec(b).get("peers") or []
    return bool(peers_a) and bool(peers_b) and not set(peers_a) & set(peers_b)


def local_preference(model: Model) -> List[Finding]:
    ads = [a for a in model.local["bgpadvertisements"] if not k8s.spec(a).get("serviceSelectors")]
    found, seen = [], set()
    for pool in model.pools:
        families = {e.range.version for e in model.entries(pool) if e.range is not None}
        mine = [a for a in ads if adv.selects_pool(a, pool)]
        for i, first in enumerate(mine):
            for second in mine[i + 1 :]:
                pair = (name(first), name(second))
                pref_a, pref_b = _int(k8s.spec(first).get("localPref"), 0), _int(k8s.spec(second).get("localPref"), 0)
                if pair in seen or pref_a == pref_b or _aggregation_differs(first, second, families):
                    continue
                if _peers_differ(first, second) or not _share_nodes(model, first, second):
                    continue
                seen.add(pair)
                found.append(
                    finding(
                        "MLB0502",
                        f"BGPAdvertisements {pair[0]} (localPref {pref_a}) and {pair[1]} (localPref {pref_b}) announce "
                        f"the same prefixes of pool {name(pool)} to the same peers from the same nodes: MetalLB "
                        "refuses the conflicting local preferences",
                        "give them the same localPref, or separate them by peers, nodeSelectors or aggregation length",
                        Ref.of(first, "spec.localPref"),
                        Ref.of(second, "spec.localPref"),
                    )
                )
    return found


def peer_identity(peer: Obj) -> str:
    """MetalLB's PeerIdentifier: the address (or interface), with the VRF when there is one."""
    spec = k8s.spec(peer)
    ident = str(spec.get("peerAddress") or spec.get("interface") or "")
    return f"{ident}-{spec['vrf']}" if spec.get("vrf") else ident


def duplicate_peers(model: Model) -> List[Finding]:
    peers = model.local["bgppeers"]
    found = []
    for i, first in enumerate(peers):
        for second in peers[i + 1 :]:
            ident = peer_identity(first)
            if not ident or ident != peer_identity(second) or not _share_nodes(model, first, second):
                continue
            found.append(
                finding(
                    "MLB0503",
                    f"BGPPeers {name(first)} and {name(second)} both peer with {ident} from the same nodes: each "
                    "node opens two sessions to one router (the FRR backends refuse this outright)",
                    "keep one of them, or give them nodeSelectors that select different nodes",
                    Ref.of(first, "spec.peerAddress" if k8s.spec(first).get("peerAddress") else "spec.interface"),
                    Ref.of(second, "spec.peerAddress" if k8s.spec(second).get("peerAddress") else "spec.interface"),
                )
            )
    return found


register(
    "analyze.bgp",
    "BGP",
    (
        rule(
            "MLB0501",
            ERROR,
            "aggregation lengths fit the pools",
            aggregation,
            needs=("ipaddresspools", "bgpadvertisements"),
        ),
        rule(
            "MLB0502",
            ERROR,
            "local preferences do not conflict",
            local_preference,
            needs=("ipaddresspools", "bgpadvertisements"),
        ),
        rule("MLB0503", WARNING, "each BGP peer is defined once", duplicate_peers, needs=("bgppeers",)),
    ),
)
