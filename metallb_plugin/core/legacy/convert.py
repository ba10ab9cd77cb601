"""The conversion of a legacy configuration into metallb.io custom resources, as MetalLB's configmaptocrs (pure)."""

from typing import Any, Dict, Iterator, List, Sequence, Set, Tuple

from metallb_plugin.core import ipam
from metallb_plugin.core.duration import format_duration
from metallb_plugin.core.legacy.read import (
    ADV_KEYS,
    BFD_INTERVALS,
    BFD_KEYS,
    DEFAULT_HOLD_TIME,
    OPERATORS,
    PEER_KEYS,
    POOL_KEYS,
    PROTOCOLS,
    TOP_KEYS,
    Conversion,
    LegacyConfigError,
    _address,
    _boolean,
    _each,
    _integer,
    _kind,
    _list,
    _mapping,
    _seconds,
    _string,
    _unknown,
    normalize_name,
    valid_community,
)
from metallb_plugin.defaults import NAMESPACE, V1BETA1, V1BETA2

# --------------------------------------------------------------------------------------------- conversion


def _meta(name: str, namespace: str) -> Dict[str, str]:
    return {"name": name, "namespace": namespace}


def _obj(api_version: str, kind: str, name: str, namespace: str, spec: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": _meta(name, namespace),
        "spec": dict(sorted(spec.items())),
    }


def convert(config: Any, namespace: str = NAMESPACE) -> Conversion:
    """Legacy config dict -> Conversion; LegacyConfigError (with the field path) when it is invalid."""
    config = _mapping(config, "config")
    warnings: List[str] = []
    renamed: List[Tuple[str, str, str]] = []
    _unknown(config, TOP_KEYS, "config", warnings)
    communities = _communities(config.get("bgp-communities"))
    profiles = _bfd_profiles(config.get("bfd-profiles"), namespace, renamed, warnings)
    profile_names = {p["metadata"]["name"] for p in profiles}
    peers = _peers(config.get("peers"), namespace, profile_names, renamed, warnings)
    pools, bgp_advs, l2_advs = _pools(config.get("address-pools"), namespace, communities, renamed, warnings)
    objects = peers + pools + bgp_advs + l2_advs + profiles
    if communities:
        objects.append(
            _obj(
                V1BETA1,
                "Community",
                "communities",
                namespace,
                {"communities": [{"name": n, "value": communities[n]} for n in sorted(communities)]},
            )
        )
    if not pools:
        warnings.append("config: no address-pools: MetalLB will not assign any address")
    return Conversion(objects, renamed, warnings)


def _communities(value: Any) -> Dict[str, str]:
    mapping = value if value is not None else {}
    if not isinstance(mapping, dict):
        raise LegacyConfigError(f"bgp-communities: expected a mapping of alias: value, got {_kind(mapping)}")
    result: Dict[str, str] = {}
    for alias, raw in mapping.items():
        path = f"bgp-communities.{alias}"
        text = _string(raw, path)
        if not valid_community(text):
            raise LegacyConfigError(f'{path}: invalid community value "{text}" (use 65535:65282 or large:1:2:3)')
        result[str(alias)] = text
    return result


def _renamed(name: str, kind: str, path: str, renamed: List[Tuple[str, str, str]]) -> str:
    try:
        new = normalize_name(name)
    except ValueError as exc:
        raise LegacyConfigError(f"{path}: {exc}") from None
    if new != name:
        renamed.append((kind, name, new))
    return new


def _named_items(
    value: Any,
    section: str,
    keys: Sequence[str],
    kind: str,
    what: str,
    renamed: List[Tuple[str, str, str]],
    warnings: List[str],
) -> Iterator[Tuple[str, Dict[str, Any], str]]:
    """(path, item, normalised name) for each entry of a list of named things (pools, BFD profiles)."""
    seen: Dict[str, str] = {}
    for i, raw in enumerate(_list(value, section)):
        path = f"{section}[{i}]"
        item = _mapping(raw, path)
        _unknown(item, keys, path, warnings)
        legacy_name = _string(item.get("name"), f"{path}.name")
        if not legacy_name:
            raise LegacyConfigError(f"{path}.name: missing")
        name = _renamed(legacy_name, kind, f"{path}.name", renamed)
        if name in seen:
            raise LegacyConfigError(f'{path}.name: duplicate {what} "{name}" (also {seen[name]})')
        seen[name] = path
        yield path, item, name


def _bfd_profiles(
    value: Any, namespace: str, renamed: List[Tuple[str, str, str]], warnings: List[str]
) -> List[Dict[str, Any]]:
    profiles: List[Dict[str, Any]] = []
    for path, item, name in _named_items(
        value, "bfd-profiles", BFD_KEYS, "BFDProfile", "BFD profile", renamed, warnings
    ):
        spec: Dict[str, Any] = {}
        for key, field_name, low, high in BFD_INTERVALS:
            number = _integer(item.get(key), f"{path}.{key}")
            if number is not None:
                if not low <= number <= high:
                    raise LegacyConfigError(f"{path}.{key}: {number} is out of range ({low}-{high})")
                spec[field_name] = number
        # upstream always writes both flags
        spec["echoMode"] = bool(_boolean(item.get("echo-mode"), f"{path}.echo-mode"))
        spec["passiveMode"] = bool(_boolean(item.get("passive-mode"), f"{path}.passive-mode"))
        profiles.append(_obj(V1BETA1, "BFDProfile", name, namespace, spec))
    return profiles


def _selector(raw: Any, path: str) -> Dict[str, Any]:
    item = _mapping(raw, path)
    for key in item:
        if key not in ("match-labels", "match-expressions"):
            raise LegacyConfigError(f"{path}.{key}: unknown field (use match-labels and match-expressions)")
    selector: Dict[str, Any] = {}
    labels = item.get("match-labels")
    if labels is not None:
        if not isinstance(labels, dict):
            raise LegacyConfigError(f"{path}.match-labels: expected a mapping, got {_kind(labels)}")
        selector["matchLabels"] = {str(k): _string(v, f"{path}.match-labels.{k}") for k, v in labels.items()}
    expressions: List[Dict[str, Any]] = []
    for j, raw_expr in enumerate(_list(item.get("match-expressions"), f"{path}.match-expressions")):
        epath = f"{path}.match-expressions[{j}]"
        expr = _mapping(raw_expr, epath)
        key = _string(expr.get("key"), f"{epath}.key")
        operator = _string(expr.get("operator"), f"{epath}.operator")
        values = _each(expr, "values", epath, _string)
        if not key:
            raise LegacyConfigError(f"{epath}.key: missing")
        if operator not in OPERATORS:
            raise LegacyConfigError(f'{epath}.operator: "{operator}" is not one of ' + ", ".join(OPERATORS))
        if operator in ("In", "NotIn") and not values:
            raise LegacyConfigError(f"{epath}.values: {operator} needs at least one value")
        if operator in ("Exists", "DoesNotExist") and values:
            raise LegacyConfigError(f"{epath}.values: {operator} takes no values")
        expressions.append({"key": key, "operator": operator, "values": values})
    if expressions:
        selector["matchExpressions"] = expressions
    return dict(sorted(selector.items()))


def _peers(
    value: Any, namespace: str, profile_names: Set[str], renamed: List[Tuple[str, str, str]], warnings: List[str]
) -> List[Dict[str, Any]]:
    peers: List[Dict[str, Any]] = []
    for i, raw in enumerate(_list(value, "peers")):
        path = f"peers[{i}]"
        item = _mapping(raw, path)
        _unknown(item, PEER_KEYS, path, warnings)
        my_asn = _integer(item.get("my-asn"), f"{path}.my-asn")
        peer_asn = _integer(item.get("peer-asn"), f"{path}.peer-asn")
        if not my_asn:
            raise LegacyConfigError(f"{path}.my-asn: missing (the local AS number)")
        if not peer_asn:
            raise LegacyConfigError(f"{path}.peer-asn: missing (the peer's AS number)")
        spec = {
            "myASN": my_asn,
            "peerASN": peer_asn,
            "peerAddress": _address(item.get("peer-address"), f"{path}.peer-address", required=True),
        }
        source = _address(item.get("source-address"), f"{path}.source-address")
        if source:
            spec["sourceAddress"] = source
        port = _integer(item.get("peer-port"), f"{path}.peer-port", 0, 65535)
        if port:
            spec["peerPort"] = port
        hold = _seconds(item.get("hold-time"), f"{path}.hold-time")
        hold = DEFAULT_HOLD_TIME if hold is None else hold
        if hold != 0 and hold < 3:
            raise LegacyConfigError(f'{path}.hold-time: invalid hold time "{item.get("hold-time")}": must be 0 or >=3s')
        spec["holdTime"] = format_duration(hold)
        keepalive = _seconds(item.get("keepalive-time"), f"{path}.keepalive-time")
        if keepalive is not None:
            if keepalive < 0:
                raise LegacyConfigError(f"{path}.keepalive-time: must not be negative")
            if keepalive > hold:
                raise LegacyConfigError(
                    f"{path}.keepalive-time: {format_duration(keepalive)} must not be more "
                    f"than the hold time {format_duration(hold)}"
                )
            spec["keepaliveTime"] = format_duration(keepalive)
        router_id = _address(item.get("router-id"), f"{path}.router-id")
        if router_id:
            spec["routerID"] = router_id
        selectors = _each(item, "node-selectors", path, _selector)
        if selectors:
            spec["nodeSelectors"] = selectors
        password = _string(item.get("password"), f"{path}.password")
        if password:
            if any(c in password for c in "\r\n"):
                raise LegacyConfigError(f"{path}.password: contains a line break")
            spec["password"] = password
        profile = _string(item.get("bfd-profile"), f"{path}.bfd-profile")
        if profile:
            profile = _renamed(profile, "BFDProfile", f"{path}.bfd-profile", [])
            if profile not in profile_names:
                raise LegacyConfigError(f'{path}.bfd-profile: no BFD profile named "{profile}" in bfd-profiles')
            spec["bfdProfile"] = profile
        multihop = _boolean(item.get("ebgp-multihop"), f"{path}.ebgp-multihop")
        if multihop:
            if my_asn == peer_asn:
                raise LegacyConfigError(f"{path}.ebgp-multihop: set for an iBGP peer (my-asn = peer-asn)")
            spec["ebgpMultiHop"] = True
        peers.append(_obj(V1BETA2, "BGPPeer", f"peer{i + 1}", namespace, spec))
    seen: Dict[str, int] = {}
    for i, peer in enumerate(peers):
        key = repr(peer["spec"])
        if key in seen:
            warnings.append(f"peers[{i}]: the same session as peers[{seen[key]}]")
        seen.setdefault(key, i)
    return peers


def _pools(
    value: Any,
    namespace: str,
    communities: Dict[str, str],
    renamed: List[Tuple[str, str, str]],
    warnings: List[str],
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], List[Dict[str, Any]]]:
    pools: List[Dict[str, Any]] = []
    bgp_advs: List[Dict[str, Any]] = []
    l2_advs: List[Dict[str, Any]] = []
    all_ranges: Dict[Tuple[str, int], Tuple[str, ipam.AddressRange]] = {}
    for path, item, name in _named_items(value, "address-pools", POOL_KEYS, "IPAddressPool", "pool", renamed, warnings):
        protocol = _string(item.get("protocol"), f"{path}.protocol")
        if protocol not in PROTOCOLS:
            raise LegacyConfigError(
                f"{path}.protocol: {'missing' if not protocol else repr(protocol)}; use layer2 or bgp"
            )
        addresses = _each(item, "addresses", path, _string)
        if not addresses:
            raise LegacyConfigError(f"{path}.addresses: the pool has no addresses")
        ranges: List[Tuple[str, ipam.AddressRange]] = []
        for j, text in enumerate(addresses):
            try:
                entry = ipam.parse_entry(text, strict=False)  # what MetalLB accepted then
            except ipam.AddressError as exc:
                raise LegacyConfigError(f"{path}.addresses[{j}]: {exc}") from None
            ranges.append((f"{path}.addresses[{j}]", entry))
            for other_path, other in all_ranges.values():
                if entry.overlaps(other):
                    raise LegacyConfigError(f"{path}.addresses[{j}]: {entry} overlaps {other} ({other_path})")
            all_ranges[(name, j)] = (f"{path}.addresses[{j}]", entry)
        spec: Dict[str, Any] = {"addresses": list(addresses)}
        auto_assign = _boolean(item.get("auto-assign"), f"{path}.auto-assign")
        if auto_assign is not None:
            spec["autoAssign"] = auto_assign
        if _boolean(item.get("avoid-buggy-ips"), f"{path}.avoid-buggy-ips"):
            spec["avoidBuggyIPs"] = True
        pools.append(_obj(V1BETA1, "IPAddressPool", name, namespace, spec))
        advertisements = _list(item.get("bgp-advertisements"), f"{path}.bgp-advertisements")
        if advertisements and protocol != "bgp":
            raise LegacyConfigError(
                f"{path}.bgp-advertisements: only a bgp pool can have them (protocol is {protocol})"
            )
        for k, raw_adv in enumerate(advertisements):
            spec = _bgp_advertisement(raw_adv, f"{path}.bgp-advertisements[{k}]", ranges, communities, warnings)
            spec["ipAddressPools"] = [name]
            bgp_advs.append(_obj(V1BETA1, "BGPAdvertisement", f"bgpadvertisement{len(bgp_advs) + 1}", namespace, spec))
        if protocol == "bgp" and not advertisements:
            bgp_advs.append(
                _obj(
                    V1BETA1,
                    "BGPAdvertisement",
                    f"bgpadvertisement{len(bgp_advs) + 1}",
                    namespace,
                    {"ipAddressPools": [name]},
                )
            )
        if protocol == "layer2":
            l2_advs.append(
                _obj(
                    V1BETA1,
                    "L2Advertisement",
                    f"l2advertisement{len(l2_advs) + 1}",
                    namespace,
                    {"ipAddressPools": [name]},
                )
            )
    return pools, bgp_advs, l2_advs


def _bgp_advertisement(
    raw: Any, path: str, ranges: List[Tuple[str, ipam.AddressRange]], communities: Dict[str, str], warnings: List[str]
) -> Dict[str, Any]:
    item = _mapping(raw, path)
    _unknown(item, ADV_KEYS, path, warnings)
    spec: Dict[str, Any] = {}
    length = _integer(item.get("aggregation-length"), f"{path}.aggregation-length", 1, 32)
    length_v6 = _integer(item.get("aggregation-length-v6"), f"{path}.aggregation-length-v6", 1, 128)
    for entry_path, entry in ranges:
        limit = (32 if length is None else length) if entry.version == 4 else (128 if length_v6 is None else length_v6)
        lowest = min(c.prefixlen for c in entry.cidrs)
        if limit < lowest:
            key = "aggregation-length" if entry.version == 4 else "aggregation-length-v6"
            raise LegacyConfigError(
                f"{path}.{key}: {limit} is less specific than /{lowest} of {entry} "
                f"({entry_path}); use at least {lowest}"
            )
    if length is not None:
        spec["aggregationLength"] = length
    if length_v6 is not None:
        spec["aggregationLengthV6"] = length_v6
    local_pref = _integer(item.get("localpref"), f"{path}.localpref")
    if local_pref:
        spec["localPref"] = local_pref
    values = _each(item, "communities", path, _string)
    for j, value in enumerate(values):
        if value not in communities and not valid_community(value):
            raise LegacyConfigError(
                f'{path}.communities[{j}]: "{value}" is neither an alias from bgp-communities '
                "nor a community value like 65535:65282"
            )
        if values.index(value) != j:
            raise LegacyConfigError(f'{path}.communities[{j}]: "{value}" is listed twice')
    if values:
        spec["communities"] = values
    return spec
