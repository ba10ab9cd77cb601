"""Reading a legacy (MetalLB <= v0.12) configuration: safe YAML loading and typed field readers that name the
path of what is wrong (pure)."""

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from metallb_plugin.core.duration import parse_duration
from metallb_plugin.core.text import printable

T = TypeVar("T")

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

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))  # values are quoted as written: keep the message one line


@dataclass
class Conversion:
    objects: List[Dict[str, Any]]
    renamed: List[Tuple[str, str, str]] = field(default_factory=list)  # (kind, legacy name, new name)
    warnings: List[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- reading


def _loader() -> Any:
    """A safe YAML loader without YAML 1.1 base-60 numbers: `64512:1` is a community, not 3870721. A float needs
    a digit (PyYAML's own pattern takes `._` for one, then fails to convert it)."""
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
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )
    return Loader


def parse_yaml(text: str, what: str = "the legacy configuration") -> Any:
    import yaml

    from metallb_plugin.core import yamlsafe

    try:
        yamlsafe.check(text, fast=False)  # bounded depth before the recursive composer runs
        return yaml.load(text, Loader=_loader())
    except yamlsafe.TooDeep as exc:
        raise LegacyConfigError(f"{what} is {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]  # a ReaderError has no .problem
        raise LegacyConfigError(f"{what} is not valid YAML: {problem}{where}") from None


def load(text: str) -> Tuple[Any, Optional[str]]:
    """(config dict, namespace or None) from a ConfigMap's YAML or from the bare `config` data."""
    doc = parse_yaml(text)
    return from_document(doc)


def from_document(doc: Any) -> Tuple[Any, Optional[str]]:
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


def _mapping(value: Any, path: str) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LegacyConfigError(f"{path}: expected a mapping, got {_kind(value)}")
    # Go's JSON decoding matches field names case-insensitively; so does this
    return {str(k).lower(): v for k, v in value.items()}


def _list(value: Any, path: str) -> List[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise LegacyConfigError(f"{path}: expected a list, got {_kind(value)}")
    return value


def _each(mapping: Dict[str, Any], key: str, path: str, read: Callable[[Any, str], T]) -> List[T]:
    """read(item, its path) for every item of the list field mapping[key] (path: the mapping's)."""
    return [read(v, f"{path}.{key}[{j}]") for j, v in enumerate(_list(mapping.get(key), f"{path}.{key}"))]


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def _scalar(value: Any) -> str:
    """' and its repr' for a scalar; nothing for a list or mapping (through YAML aliases it may be gigantic)."""
    return "" if isinstance(value, (dict, list)) else f" {value!r}"


def _string(value: Any, path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise LegacyConfigError(f"{path}: expected text, got {_kind(value)}")
    return str(value)


def _integer(value: Any, path: str, low: int = 0, high: int = UINT32) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise LegacyConfigError(f"{path}: expected a whole number, got {_kind(value)}{_scalar(value)}")
    if not low <= value <= high:
        raise LegacyConfigError(f"{path}: {value} is out of range ({low}-{high})")
    return value


def _boolean(value: Any, path: str) -> Optional[bool]:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise LegacyConfigError(f"{path}: expected true or false, got {_kind(value)}{_scalar(value)}")
    return value


def _unknown(mapping: Dict[str, Any], known: Sequence[str], path: str, warnings: List[str]) -> None:
    for key in mapping:
        if key not in known:
            warnings.append(f"{path}.{key}: unknown field, ignored")


def _address(value: Any, path: str, required: bool = False) -> str:
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


def normalize_name(name: str) -> str:
    """The name MetalLB's converter gives: as is when valid, else cut to 63, lower-cased, `_` -> `-`, and
    everything before the first letter dropped. ValueError when no letter is left."""
    if VALID_NAME.match(name):
        return name
    fixed = name[:63].lower().replace("_", "-")
    first = re.search(r"[a-z]", fixed)
    if not first:
        raise ValueError(f'cannot turn "{name}" into a Kubernetes name: it has no letter')
    return fixed[first.start() :]


def _seconds(value: Any, path: str) -> Optional[int]:
    text = _string(value, path)
    if not text:
        return None
    try:
        return int(parse_duration(text, go=True))  # Go: time.Duration(int(d.Seconds())) * time.Second truncates
    except ValueError as exc:
        raise LegacyConfigError(f"{path}: {exc} (use a duration like 90s or 1m30s)") from None


# --------------------------------------------------------------------------------------------- communities


def valid_community(value: str) -> bool:
    """`a:b` (two 16-bit numbers) or `large:a:b:c` (three 32-bit numbers), as MetalLB accepts them."""
    parts = value.split(":")
    if len(parts) == 2:
        return all(p.isdigit() and p.isascii() and int(p) <= 0xFFFF for p in parts)
    if len(parts) == 4 and parts[0] == "large":
        return all(p.isdigit() and p.isascii() and int(p) <= UINT32 for p in parts[1:])
    return False
    return False
