"""Kubernetes object semantics, in one place: accessors of raw JSON objects, taints and tolerations, CRD versions,
the server version, Go-style container flags and the addresses of an IPAddressPool.

Objects are the raw dicts the API server returns (no client models); every accessor tolerates missing or null
fields, since objects come from clusters in any state.
"""

import json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from metallb_plugin.core import ipam

Obj = Mapping[str, Any]

# ------------------------------------------------------------------------------------------- accessors


def meta(obj: Obj) -> Dict[str, Any]:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace(obj: Obj) -> str:
    return str(meta(obj).get("namespace", "") or "")


def key(obj: Obj) -> str:
    """namespace/name (a leading "/" for cluster-scoped objects): a stable sort and lookup key."""
    return f"{namespace(obj)}/{name(obj)}"


def qualified(obj: Obj) -> str:
    """namespace/name for namespaced objects, name alone for cluster-scoped ones: how messages name them."""
    return f"{namespace(obj)}/{name(obj)}" if namespace(obj) else name(obj)


def labels(obj: Obj) -> Dict[str, str]:
    return meta(obj).get("labels") or {}


def annotations(obj: Obj) -> Dict[str, str]:
    return meta(obj).get("annotations") or {}


def spec(obj: Obj) -> Dict[str, Any]:
    return obj.get("spec") or {}


def status(obj: Obj) -> Dict[str, Any]:
    return obj.get("status") or {}


def pod_spec(obj: Obj) -> Dict[str, Any]:
    """The pod spec of a Pod, or of a workload's pod template."""
    found = spec(obj)
    return (found.get("template") or {}).get("spec") or {} if "template" in found else found


def containers(obj: Obj, init: bool = False) -> List[Dict[str, Any]]:
    """The containers of a Pod or a workload's template (with init=True, its init containers too)."""
    found = pod_spec(obj)
    return list(found.get("containers") or []) + (list(found.get("initContainers") or []) if init else [])


def main_container(obj: Obj, container: str) -> Dict[str, Any]:
    """The container with this name, else the first one ({} without containers)."""
    found = containers(obj)
    return next((c for c in found if c.get("name") == container), found[0] if found else {})


def env(container: Obj) -> Dict[str, Any]:
    """The container's literal environment values (valueFrom entries are not known from the API)."""
    return {e.get("name"): e.get("value") for e in container.get("env") or [] if "value" in e}


def argv(container: Obj) -> List[str]:
    """command + args, as the container runs them."""
    return [str(a) for a in list(container.get("command") or []) + list(container.get("args") or [])]


def condition(obj: Obj, kind: str) -> Dict[str, Any]:
    """The status condition of this type ({} when absent)."""
    return next((c for c in status(obj).get("conditions") or [] if c.get("type") == kind), {})


def node_addresses(node: Obj) -> List[Tuple[str, str]]:
    """[(type, address)] of a node's InternalIP / ExternalIP addresses."""
    return [
        (str(a.get("type")), str(a.get("address")))
        for a in status(node).get("addresses") or []
        if a.get("type") in ("InternalIP", "ExternalIP") and a.get("address")
    ]


def pod_cidrs(node: Obj) -> List[str]:
    """A node's pod CIDRs (spec.podCIDRs, or the older single spec.podCIDR)."""
    found = spec(node)
    return list(found.get("podCIDRs") or ([found["podCIDR"]] if found.get("podCIDR") else []))


def is_load_balancer(service: Obj) -> bool:
    return spec(service).get("type") == "LoadBalancer"


def ingress_addresses(service: Obj) -> List[str]:
    """The load balancer addresses in a Service's status: IPs, or the hostnames some implementations write."""
    ingress = (status(service).get("loadBalancer") or {}).get("ingress") or []
    return [
        str(i.get("ip") or i.get("hostname"))
        for i in ingress
        if isinstance(i, dict) and (i.get("ip") or i.get("hostname"))
    ]


def listing(names: Iterable[str], limit: int = 5) -> str:
    """ "a, b, c and 4 more": a list for a one-line message."""
    shown = list(names)
    text = ", ".join(shown[:limit])
    return f"{text} and {len(shown) - limit} more" if len(shown) > limit else text


# ------------------------------------------------------------------------------------------- Go flags
# MetalLB, kube-proxy and k3s parse their flags with Go's flag/pflag: `-f v`, `--f v`, `--f=v`; the last one wins.


def _flag_name(arg: str) -> Tuple[str, bool, str]:
    name_, eq, value = arg.lstrip("-").partition("=")
    return name_, bool(eq), value


def flag_values(args: Sequence[Any], flag: str, split: Optional[str] = None) -> List[str]:
    """Every value given to a flag, in order (`--flag v` and `--flag=v`); split: also split each value on it."""
    wanted = flag.lstrip("-")
    items = [str(a) for a in args]
    found: List[str] = []
    i = 0
    while i < len(items):
        arg = items[i]
        if arg.startswith("-"):
            flag_name, eq, value = _flag_name(arg)
            if flag_name == wanted and (eq or i + 1 < len(items)):
                if not eq:
                    i, value = i + 1, items[i + 1]
                found += value.split(split) if split else [value]
        i += 1
    return found


def flag_value(args: Sequence[Any], flag: str) -> Optional[str]:
    """The value of a flag (the last one given, as Go's flag package keeps it), or None."""
    values = flag_values(args, flag)
    return values[-1] if values else None


def parse_bool(value: Any) -> Optional[bool]:
    """A Go boolean flag value ("true", "1", "F", ...); None when it is not one."""
    text = str(value).strip().lower()
    if text in ("true", "t", "1"):
        return True
    if text in ("false", "f", "0"):
        return False
    return None


def flag_switch(args: Sequence[Any], flag: str) -> Optional[bool]:
    """A boolean flag: `--flag` alone is true, `--flag=false` false; None when it is not given (or unreadable)."""
    wanted = flag.lstrip("-")
    found: Optional[bool] = None
    for arg in (str(a) for a in args):
        if arg.startswith("-"):
            flag_name, eq, value = _flag_name(arg)
            if flag_name == wanted:
                found = parse_bool(value) if eq else True
    return found


def json_argv(text: Optional[str]) -> Optional[List[str]]:
    """An argv stored as a JSON list (k3s/RKE2 node-args annotations); None when it is not one."""
    try:
        found = json.loads(text or "null")
    except ValueError:
        return None
    return [str(a) for a in found] if isinstance(found, list) else None


# ------------------------------------------------------------------------------------------- taints

# Tolerations the DaemonSet controller adds to every daemon Pod (pkg/controller/daemon/util), so a node under
# memory pressure or cordoned still runs its speaker; network-unavailable only for hostNetwork Pods.
DAEMON_TOLERATIONS = tuple(
    {"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": e}
    for k, e in (
        ("not-ready", "NoExecute"),
        ("unreachable", "NoExecute"),
        ("disk-pressure", "NoSchedule"),
        ("memory-pressure", "NoSchedule"),
        ("pid-pressure", "NoSchedule"),
        ("unschedulable", "NoSchedule"),
    )
)
HOST_NETWORK_TOLERATION = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}
# Taints the node lifecycle and cloud controllers set for a while: they keep a pod off a node now, not for good.
TRANSIENT_TAINTS = frozenset(
    {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/unschedulable",
        "node.kubernetes.io/network-unavailable",
        "node.cloudprovider.kubernetes.io/uninitialized",
    }
)


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Whether one toleration tolerates one taint (the scheduler's rule)."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    operator = toleration.get("operator") or "Equal"
    if not toleration.get("key"):
        return operator == "Exists"  # an empty key with Exists tolerates everything
    if toleration.get("key") != taint.get("key"):
        return False
    return operator == "Exists" or toleration.get("value", "") == taint.get("value", "")


def daemon_tolerations(template_spec: Obj) -> List[Obj]:
    """A DaemonSet pod's tolerations as its controller schedules it: its own plus DAEMON_TOLERATIONS."""
    found: List[Obj] = list(template_spec.get("tolerations") or []) + list(DAEMON_TOLERATIONS)
    if template_spec.get("hostNetwork"):
        found.append(HOST_NETWORK_TOLERATION)
    return found


def blocking_taints(node: Obj, tolerations: Iterable[Obj], ignore: Iterable[str] = ()) -> List[Dict[str, Any]]:
    """The NoSchedule/NoExecute taints of a node that keep a pod with these tolerations off it (taints whose key
    is in ignore left out)."""
    tolerations = list(tolerations)
    ignored = set(ignore)
    return [
        t
        for t in spec(node).get("taints") or []
        if t.get("effect") in ("NoSchedule", "NoExecute")
        and t.get("key") not in ignored
        and not any(tolerates(tol, t) for tol in tolerations)
    ]


def taint_text(taint: Obj) -> str:
    """key=value:Effect, as kubectl shows a taint."""
    value = f"={taint['value']}" if taint.get("value") else ""
    return f"{taint.get('key')}{value}:{taint.get('effect')}"


# ------------------------------------------------------------------------------------------- versions


def crd_version(crd: Obj) -> Optional[str]:
    """The version to read a CRD's objects with: its storage version when served, else the first served one."""
    served = [v for v in spec(crd).get("versions") or [] if v.get("served")]
    storage = next((v for v in served if v.get("storage")), None)
    chosen = storage or (served[0] if served else None)
    return chosen.get("name") if chosen else None


def kubernetes_version(server: Optional[Obj]) -> Optional[Tuple[int, int]]:
    """(major, minor) from a /version document ("1", "27+"; else gitVersion "v1.27.3-eks-..."), or None."""
    if not server:
        return None
    try:
        return int(server["major"]), int(str(server["minor"]).rstrip("+"))
    except (KeyError, TypeError, ValueError):
        pass
    text = str(server.get("gitVersion", "")).lstrip("v").split("-")[0].split("+")[0]
    try:
        major, minor = text.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------- pools


def pool_ranges(pool: Obj, lenient: bool = False) -> Tuple[List["ipam.AddressRange"], Optional[str]]:
    """An IPAddressPool's addresses as AddressRanges, each entry read as MetalLB reads it (a CIDR may have host
    bits), and the first entry's error (None when all parse).

    Strict (default): a pool with a bad entry is unusable, as MetalLB rejects it: no ranges. Lenient: every entry
    that parses, for the checks that must not miss an address a broken pool may still hold (overlaps, addresses
    in use).
    """
    ranges, error = [], None
    for text in spec(pool).get("addresses") or []:
        try:
            ranges.append(ipam.parse_entry(text, strict=False))
        except ipam.AddressError as exc:
            error = error or str(exc)
    return (ranges if lenient or error is None else []), error
