"""Objects from local files (-f) as the analyzer's snapshot: alone (offline) or overlaid on the cluster's (pure).

Offline, the files are the whole MetalLB configuration: a metallb.io kind they do not contain has no objects. Any
other kind they do not contain (Nodes, Services, Secrets, ServiceCIDRs, ...) is unknown, so the rules that need
it are skipped with the reason instead of passing. Overlaid, an object of the files replaces the cluster's object
of the same kind, namespace and name, or is added.

An object without metadata.namespace lands where `kubectl apply -n NAMESPACE -f` would put it for MetalLB's own
kinds (MetalLB's namespace, -n) and where `kubectl apply -f` would for the others (default).
"""

import copy
from typing import Any, Dict, Iterable, List, Tuple

from metallb_plugin.core import endpoints
from metallb_plugin.core.objects import meta
from metallb_plugin.core.snapshot import Obj, Unreadable
from metallb_plugin.core.view import METALLB_KINDS, Facts, locate, secret_keys

# kind -> (snapshot key, namespaced)
KINDS: Dict[str, Tuple[str, bool]] = {
    "IPAddressPool": ("ipaddresspools", True),
    "L2Advertisement": ("l2advertisements", True),
    "BGPAdvertisement": ("bgpadvertisements", True),
    "BGPPeer": ("bgppeers", True),
    "BFDProfile": ("bfdprofiles", True),
    "Community": ("communities", True),
    "Node": ("nodes", False),
    "Namespace": ("namespaces", False),
    "ServiceCIDR": ("servicecidrs", False),
    "Service": ("services", True),
    "Secret": ("secrets", True),
    "ConfigMap": ("configmaps", True),
    "Deployment": ("deployments", True),
    "DaemonSet": ("daemonsets", True),
    "Pod": ("pods", True),
    "EndpointSlice": ("endpointslices", True),
}
METALLB_GROUP = "metallb.io"
CONFIG_KEYS = ("ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers", "bfdprofiles", "communities")
EMPTY_WHEN_ABSENT = CONFIG_KEYS + ("configmaps", "deployments", "daemonsets", "pods", "endpointslices")
WHAT = {"nodes": "Node", "services": "Service", "secrets": "Secret", "servicecidrs": "ServiceCIDR"}


def expand(objects: Iterable[Obj]) -> List[Obj]:
    """Objects with every `kind: List` replaced by its items (what `kubectl get -o yaml` writes)."""
    found: List[Obj] = []
    for obj in objects:
        if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
            found += expand(i for i in obj["items"] if isinstance(i, dict))
        else:
            found.append(obj)
    return found


def _group(obj: Obj) -> str:
    api_version = str(obj.get("apiVersion") or "")
    return api_version.split("/")[0] if "/" in api_version else ""


def sort_out(objects: Iterable[Obj], namespace: str) -> Tuple[Dict[str, List[Any]], List[str]]:
    """({snapshot key: [objects]}, ["Kind namespace/name" of objects the analyzer does not read])."""
    found: Dict[str, List[Any]] = {}
    ignored: List[str] = []
    for obj in expand(objects):
        kind = str(obj.get("kind") or "")
        known = KINDS.get(kind)
        metallb = known is not None and known[0] in CONFIG_KEYS
        if known is None or (metallb and _group(obj) != METALLB_GROUP):
            ignored.append(f"{kind} {meta(obj).get('namespace') or ''}/{meta(obj).get('name', '')}".replace(" /", " "))
            continue
        key, namespaced = known
        obj = copy.deepcopy(obj)
        if namespaced and not meta(obj).get("namespace"):
            obj.setdefault("metadata", {})["namespace"] = namespace if metallb else "default"
        found.setdefault(key, []).append(obj)
    if "secrets" in found:
        found["secrets"] = secret_keys(found["secrets"])
    if "endpointslices" in found:
        found["endpointslices"] = [endpoints.reduce(s) for s in found["endpointslices"]]
    return found, ignored


def _identity(obj: Any) -> Tuple[str, str]:
    if isinstance(obj, endpoints.Slice):
        return obj.namespace, obj.name
    return str(meta(obj).get("namespace") or obj.get("namespace") or ""), str(meta(obj).get("name") or obj.get("name"))


def offline_facts(objects: Iterable[Obj], namespace: str, namespace_given: bool) -> Tuple[Facts, List[str]]:
    """The snapshot of the files alone, and the objects ignored."""
    found, ignored = sort_out(objects, namespace)
    facts = Facts(namespace=namespace, namespace_given=namespace_given)
    facts.metallb_served = frozenset(METALLB_KINDS)
    for key in {k for k, _ in KINDS.values()} | {"serviceEvents"}:
        if key in found:
            facts.objects[key] = found[key]
        elif key in EMPTY_WHEN_ABSENT:
            facts.objects[key] = []
        else:
            what = WHAT.get(key, key)
            facts.objects[key] = Unreadable(
                f"no {what} in the files (-f): analyze with the cluster (--overlay) to check"
            )
    return locate(facts), ignored


def overlay(facts: Facts, objects: Iterable[Obj]) -> List[str]:
    """Put the files' objects over the cluster's snapshot (in place); the objects ignored."""
    found, ignored = sort_out(objects, facts.namespace)
    for key, items in found.items():
        current = facts.objects.get(key)
        if isinstance(current, Unreadable):
            continue  # what the cluster holds is unknown: the files alone would make it look complete
        replaced = {_identity(o) for o in items}
        facts.objects[key] = [o for o in current or [] if _identity(o) not in replaced] + items
    locate(facts)
    return ignored
