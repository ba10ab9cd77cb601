"""Convert the legacy MetalLB ConfigMap configuration (<= v0.12) into metallb.io custom resources (no I/O).

Mirrors MetalLB's own converter (`configmaptocrs`): the same object names (`peer<N>`, `bgpadvertisement<N>`,
`l2advertisement<N>`, one `communities` Community), the same defaults (hold time 90s, durations rounded down to
whole seconds) and the same name normalisation (pools, BFD profiles and the peers' references to them). Where
the upstream tool would write something MetalLB then misreads, this module says so instead:
- a pool whose `protocol` is neither `layer2` nor `bgp` is an error (upstream silently drops its advertisement);
- an unset `keepalive-time` stays unset (upstream writes `keepaliveTime: 0s`, i.e. keepalives off), so MetalLB
  uses a third of the hold time as v0.12 did.
Everything is checked before anything is produced, and an error names the path of the bad field, e.g.
`address-pools[1].addresses[0]: invalid CIDR "10.0.0.0/33": ...`.

API:
- `load(text) -> (config dict, namespace or None)`: the YAML of a ConfigMap (data key `config`) or of the bare
  `config` data. YAML is read without YAML 1.1's base-60 numbers, as MetalLB did (`64512:1` stays a string).
- `convert(config, namespace) -> Conversion(objects, renamed, warnings)`: objects in the upstream order
  (BGPPeers, IPAddressPools, BGPAdvertisements, L2Advertisements, BFDProfiles, Community).
- `normalize_name(name)`; `LegacyConfigError` (ValueError) for anything invalid.
"""

import re
from dataclasses import dataclass, field
from typing import List, Tuple

from metallb_plugin.core import ipam
from metallb_plugin.core.duration import format_duration, parse_duration
from metallb_plugin.defaults import NAMESPACE, V1BETA1, V1BETA2

VALID_NAME = re.compile(r"^[a-z][-a-z0-9]{0,61}[a-z0-9]$")
PROTOCOLS = ("layer2", "bgp")
DEFAULT_HOLD_TIME = 90

TOP_KEYS = ("peers", "bgp-communities", "address-pools", "bfd-profiles")
PEER_KEYS = (
    "my-asn",
    "peer-asn",
    "peer-address",
    "source-address",
    "peer-port",
    "hold-time",
    "keepalive-time",
    "router-id",
    "node-selectors",
    "password",
    "bfd-profile",
    "ebgp-multihop",
)
POOL_KEYS = ("name", "protocol", "addresses", "auto-assign", "avoid-buggy-ips", "bgp-advertisements")
ADV_KEYS = ("aggregation-length", "aggregation-length-v6", "localpref", "communities")
BFD_KEYS = (
    "name",
    "receive-interval",
    "transmit-interval",
    "detect-multiplier",
    "echo-interval",
    "echo-mode",
    "passive-mode",
    "minimum-ttl",
)
# (legacy key, CR field, lowest, highest) as MetalLB validates BFD profiles
BFD_INTERVALS = (
    ("receive-interval", "receiveInterval", 10, 60000),
    ("transmit-interval", "transmitInterval", 10, 60000),
    ("detect-multiplier", "detectMultiplier", 2, 255),
    ("echo-interval", "echoInterval", 10, 60000),
    ("minimum-ttl", "minimumTtl", 1, 254),
)
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
UINT32 = 2**32 - 1


class LegacyConfigError(ValueError):
    """Invalid legacy configuration; the message starts with the path of the bad field."""

    def __init__(self, message):
        super().__init__(ipam.printable(message))  # values are quoted as written: keep the message one line


@dataclass
class Conversion:
    objects: List[dict]
    renamed: List[Tuple[str, str, str]] = field(default_factory=list)  # (kind, legacy name, new name)
    warnings: List[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- reading


def _loader():
    """A safe YAML loader without YAML 1.1 base-60 numbers: `64512:1` is a community, not 3870721."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [
            (tag, regexp)
            for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:int",
        re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
        list("-+0123456789"),
    )
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )
    return Loader


def parse_yaml(text, what="the legacy configuration"):
    import yaml

    try:
        return yaml.load(text, Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]  # a ReaderError has no .problem
        raise LegacyConfigError(f"{what} is not valid YAML: {problem}{where}") from None


def load(text):
    """(config dict, namespace or None) from a ConfigMap's YAML or from the bare `config` data."""
    doc = parse_yaml(text)
    return from_document(doc)


def from_document(doc):
    """(config dict, namespace or None) from a parsed ConfigMap (or bare config) document."""
    if isinstance(doc, dict) and doc.get("kind") == "ConfigMap":
        meta, data = doc.get("metadata") or {}, doc.get("data") or {}
        for key, value in (("metadata", meta), ("data", data)):
            if not isinstance(value, dict):
                raise LegacyConfigError(f"ConfigMap {key}: expected a mapping, got {_kind(value)}")
        data = data.get("config")
        name = _string(meta.get("name"), "metadata.name")
        if not data:
            raise LegacyConfigError(
                f'ConfigMap {name}: it has no "config" data key, so it is not a legacy MetalLB configuration'
            )
        if not isinstance(data, str):
            raise LegacyConfigError(f'data.config of ConfigMap "{name}": expected text, got {_kind(data)}')
        config = parse_yaml(data, f'data.config of ConfigMap "{name}"')
        return _mapping(config, "data.config"), _string(meta.get("namespace"), "metadata.namespace") or None
    if doc is None:
        raise LegacyConfigError("the legacy configuration is empty")
    config = _mapping(doc, "the legacy configuration")
    if config and not any(k.lower() in TOP_KEYS for k in config):
        raise LegacyConfigError(
            "neither a ConfigMap nor a legacy MetalLB configuration (expected keys: " + ", ".join(TOP_KEYS) + ")"
        )
    return config, None


# --------------------------------------------------------------------------------------------- field helpers


def _mapping(value, path):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LegacyConfigError(f"{path}: expected a mapping, got {_kind(value)}")
    # Go's JSON decoding matches field names case-insensitively; so does this
    return {str(k).lower(): v for k, v in value.items()}


def _list(value, path):
    if value is None:
        return []
    if not isinstance(value, list):
        raise LegacyConfigError(f"{path}: expected a list, got {_kind(value)}")
    return value


def _kind(value):
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def _scalar(value):
    """' and its repr' for a scalar; nothing for a list or mapping (through YAML aliases it may be gigantic)."""
    return "" if isinstance(value, (dict, list)) else f" {value!r}"


def _string(value, path):
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise LegacyConfigError(f"{path}: expected text, got {_kind(value)}")
    return str(value)


def _integer(value, path, low=0, high=UINT32):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise LegacyConfigError(f"{path}: expected a whole number, got {_kind(value)}{_scalar(value)}")
    if not low <= value <= high:
        raise LegacyConfigError(f"{path}: {value} is out of range ({low}-{high})")
    return value


def _boolean(value, path):
    if value is None:
        return None
    if not isinstance(value, bool):
        raise LegacyConfigError(f"{path}: expected true or false, got {_kind(value)}{_scalar(value)}")
    return value


def _unknown(mapping, known, path, warnings):
    for key in mapping:
        if key not in known:
            warnings.append(f"{path}.{key}: unknown field, ignored")


def _address(value, path, required=False):
    import ipaddress

    text = _string(value, path)
    if not text:
        if required:
            raise LegacyConfigError(f"{path}: missing")
        return ""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise LegacyConfigError(f'{path}: "{text}" is not an IP address') from None
    return text


# --------------------------------------------------------------------------------------------- names & durations


def normalize_name(name):
    """The name MetalLB's converter gives: as is when valid, else cut to 63, lower-cased, `_` -> `-`, and
    everything before the first letter dropped. ValueError when no letter is left."""
    if VALID_NAME.match(name):
        return name
    fixed = name[:63].lower().replace("_", "-")
    first = re.search(r"[a-z]", fixed)
    if not first:
        raise ValueError(f'cannot turn "{name}" into a Kubernetes name: it has no letter')
    return fixed[first.start() :]


def _seconds(value, path):
    text = _string(value, path)
    if not text:
        return None
    try:
        return int(parse_duration(text, go=True))  # Go: time.Duration(int(d.Seconds())) * time.Second truncates
    except ValueError as exc:
        raise LegacyConfigError(f"{path}: {exc} (use a duration like 90s or 1m30s)") from None


# --------------------------------------------------------------------------------------------- communities


def valid_community(value):
    """`a:b` (two 16-bit numbers) or `large:a:b:c` (three 32-bit numbers), as MetalLB accepts them."""
    parts = value.split(":")
    if len(parts) == 2:
        return all(p.isdigit() and p.isascii() and int(p) <= 0xFFFF for p in parts)
    if len(parts) == 4 and parts[0] == "large":
        return all(p.isdigit() and p.isascii() and int(p) <= UINT32 for p in parts[1:])
    return False


# --------------------------------------------------------------------------------------------- conversion


def _meta(name, namespace):
    return {"name": name, "namespace": namespace}


def _obj(api_version, kind, name, namespace, spec):
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": _meta(name, namespace),
        "spec": dict(sorted(spec.items())),
    }


def convert(config, namespace=NAMESPACE):
    """Legacy config dict -> Conversion; LegacyConfigError (with the field path) when it is invalid."""
    config = _mapping(config, "config")
    warnings, renamed = [], []
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


def _communities(value):
    mapping = value if value is not None else {}
    if not isinstance(mapping, dict):
        raise LegacyConfigError(f"bgp-communities: expected a mapping of alias: value, got {_kind(mapping)}")
    result = {}
    for alias, raw in mapping.items():
        path = f"bgp-communities.{alias}"
        text = _string(raw, path)
        if not valid_community(text):
            raise LegacyConfigError(f'{path}: invalid community value "{text}" (use 65535:65282 or large:1:2:3)')
        result[str(alias)] = text
    return result


def _renamed(name, kind, path, renamed):
    try:
        new = normalize_name(name)
    except ValueError as exc:
        raise LegacyConfigError(f"{path}: {exc}") from None
    if new != name:
        renamed.append((kind, name, new))
    return new


def _named_items(value, section, keys, kind, what, renamed, warnings):
    """(path, item, normalised name) for each entry of a list of named things (pools, BFD profiles)."""
    seen = {}
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


def _bfd_profiles(value, namespace, renamed, warnings):
    profiles = []
    for path, item, name in _named_items(
        value, "bfd-profiles", BFD_KEYS, "BFDProfile", "BFD profile", renamed, warnings
    ):
        spec = {}
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


def _selector(raw, path):
    item = _mapping(raw, path)
    for key in item:
        if key not in ("match-labels", "match-expressions"):
            raise LegacyConfigError(f"{path}.{key}: unknown field (use match-labels and match-expressions)")
    selector = {}
    labels = item.get("match-labels")
    if labels is not None:
        if not isinstance(labels, dict):
            raise LegacyConfigError(f"{path}.match-labels: expected a mapping, got {_kind(labels)}")
        selector["matchLabels"] = {str(k): _string(v, f"{path}.match-labels.{k}") for k, v in labels.items()}
    expressions = []
    for j, raw_expr in enumerate(_list(item.get("match-expressions"), f"{path}.match-expressions")):
        epath = f"{path}.match-expressions[{j}]"
        expr = _mapping(raw_expr, epath)
        key = _string(expr.get("key"), f"{epath}.key")
        operator = _string(expr.get("operator"), f"{epath}.operator")
        values = [
            _string(v, f"{epath}.values[{k}]") for k, v in enumerate(_list(expr.get("values"), f"{epath}.values"))
        ]
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


def _peers(value, namespace, profile_names, renamed, warnings):
    peers = []
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
        selectors = [
            _selector(s, f"{path}.node-selectors[{j}]")
            for j, s in enumerate(_list(item.get("node-selectors"), f"{path}.node-selectors"))
        ]
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
    seen = {}
    for i, peer in enumerate(peers):
        key = repr(peer["spec"])
        if key in seen:
            warnings.append(f"peers[{i}]: the same session as peers[{seen[key]}]")
        seen.setdefault(key, i)
    return peers


def _pools(value, namespace, communities, renamed, warnings):
    pools, bgp_advs, l2_advs = [], [], []
    all_ranges = {}
    for path, item, name in _named_items(value, "address-pools", POOL_KEYS, "IPAddressPool", "pool", renamed, warnings):
        protocol = _string(item.get("protocol"), f"{path}.protocol")
        if protocol not in PROTOCOLS:
            raise LegacyConfigError(
                f"{path}.protocol: {'missing' if not protocol else repr(protocol)}; use layer2 or bgp"
            )
        addresses = [
            _string(a, f"{path}.addresses[{j}]")
            for j, a in enumerate(_list(item.get("addresses"), f"{path}.addresses"))
        ]
        if not addresses:
            raise LegacyConfigError(f"{path}.addresses: the pool has no addresses")
        ranges = []
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
        spec = {"addresses": list(addresses)}
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


def _bgp_advertisement(raw, path, ranges, communities, warnings):
    item = _mapping(raw, path)
    _unknown(item, ADV_KEYS, path, warnings)
    spec = {}
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
    values = [
        _string(c, f"{path}.communities[{j}]")
        for j, c in enumerate(_list(item.get("communities"), f"{path}.communities"))
    ]
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
