"""Which L2Advertisements / BGPAdvertisements announce which pools, from which nodes, for which Services (pure).

MetalLB's rules (api/v1beta1 l2advertisement_types.go, bgpadvertisement_types.go):
- `ipAddressPools` (names) and `ipAddressPoolSelectors` (label selectors on pools): a pool is announced when its
  name is listed or a selector matches its labels; when BOTH are empty the advertisement covers every pool.
- `nodeSelectors`: empty means every node; otherwise a node must match one of them.
- `serviceSelectors` (v0.16.0+): empty means every Service; otherwise the Service must match one of them.

API (stable; status and pools import it):
    L2, BGP                                    protocol names as MetalLB writes them in events ("layer2", "bgp")
    protocol(adv) -> "layer2" | "bgp"          from the object's kind
    selects_pool(adv, pool) -> bool            raw advertisement and IPAddressPool dicts
    covering(pool, advertisements) -> [adv]    the advertisements that announce this pool
    allows_node(adv, node) -> bool             raw Node dict
    selects_service(adv, service) -> bool      raw Service dict
    unannounced_pools(pools, advertisements) -> [pool name]   pools no advertisement covers, sorted
"""

from typing import Iterable, List, Optional

from metallb_plugin.core import objects as k8s
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.selectors import any_matches

L2, BGP = "layer2", "bgp"


def protocol(adv: Obj) -> str:
    return BGP if adv.get("kind") == "BGPAdvertisement" else L2


def selects_pool(adv: Obj, pool: Obj) -> bool:
    spec = k8s.spec(adv)
    names = spec.get("ipAddressPools") or []
    selectors = spec.get("ipAddressPoolSelectors") or []
    if not names and not selectors:
        return True
    return k8s.name(pool) in names or any_matches(selectors, k8s.labels(pool))


def covering(pool: Obj, advertisements: Optional[Iterable[Obj]]) -> List[Obj]:
    return [adv for adv in advertisements or [] if selects_pool(adv, pool)]


def allows_node(adv: Obj, node: Obj) -> bool:
    selectors = k8s.spec(adv).get("nodeSelectors") or []
    return not selectors or any_matches(selectors, k8s.labels(node))


def selects_service(adv: Obj, service: Obj) -> bool:
    selectors = k8s.spec(adv).get("serviceSelectors") or []
    return not selectors or any_matches(selectors, k8s.labels(service))


def unannounced_pools(pools: Optional[Iterable[Obj]], advertisements: Optional[Iterable[Obj]]) -> List[str]:
    return sorted(k8s.name(p) for p in pools or [] if not covering(p, advertisements))
