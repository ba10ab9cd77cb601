"""What a command read from the cluster, as one data type: `Snapshot`, filled from a table of `Source`s.

A command describes its LISTs as `Source`s; `reading.read_snapshot` reads them in parallel into a Snapshot, where
each key holds a list of raw objects, None (the server does not serve that kind) or `Unreadable(reason)` (no
permission, or an error): the checks that need it are then skipped with that reason, never passed.
A Source's `fields` (core/projections.py) keep only what the commands read of each object, page by page as the
list is decoded: a cluster's Services then cost a fraction of their decoded size. A kind read in one way only is
reduced to a record of its own instead (`reduce`: EndpointSlices to core/endpoints.Slice).
"""

import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from metallb_plugin.core.checks import Skip

Obj = Dict[str, Any]
# the fields of an object to keep: name -> True (the whole value) or the Fields of that object's own fields
Fields = Mapping[str, Any]

# where a source is listed: the whole cluster (cluster-scoped kinds), every namespace, kube-system, or the
# MetalLB namespace
CLUSTER, ALL, SYSTEM, METALLB = "cluster", "all namespaces", "kube-system", "metallb"


@dataclass(frozen=True)
class Source:
    """One LIST: `key` in Snapshot.objects, what to list and where."""

    key: str
    api_version: str  # "" for a CRD-backed kind: the version is read from the CRD
    plural: str
    scope: str
    what: str  # for messages: "Pods", "IPAddressPools"
    field_selector: Optional[str] = None  # str.format()ed with the reader's params ({namespace}, ...)
    label_selector: Optional[str] = None  # the same; "" after formatting means none
    crd: Optional[str] = None  # listed only when this CRD exists (read after the "crds" source)
    after: Optional[str] = None  # key of the source it lives in (its namespace): read first; [] there means []
    optional: bool = False  # a server that does not serve the kind (404) means "not served", not an error
    required: bool = False  # any failure to read it is the command's failure
    fallback: Optional[str] = None  # api_version to try when api_version is not served
    fields: Optional[Fields] = None  # keep only these fields of each item, as each page is decoded
    reduce: Optional[Callable[[Obj], Any]] = None  # or reduce each item to this, as each page is decoded
    narrow: bool = False  # when listing all namespaces is forbidden, list MetalLB's namespace instead
    keep: Optional[Callable[[List[Obj]], List[Obj]]] = None  # reduce the items once all are read


def project(obj: Obj, fields: Fields) -> Obj:
    """A copy of obj with only the given fields. Absent fields stay absent; a value that is not an object where
    fields are listed is kept as it is, for the checks to judge.

    A string field is kept as one shared copy per distinct value (sys.intern): JSON decoding makes a new string for
    every "LoadBalancer", namespace and node name, and 20,000 Services repeat them."""
    out = {}
    for name, sub in fields.items():
        if name in obj:
            value = obj[name]
            if sub is not True:
                if isinstance(value, dict):
                    value = project(value, sub)
            elif value.__class__ is str:
                value = sys.intern(value)
            out[name] = value
    return out


class Unreadable:
    """A kind the command could not read; checks that need it are skipped with this reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unreadable({self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unreadable) and other.reason == self.reason


Read = Union[List[Any], None, Unreadable]  # a list of raw dicts, or of what the Source reduced them to


def unreadable_reason(source: Source, namespace: str, forbidden: bool) -> str:
    where = {CLUSTER: "", ALL: " in all namespaces", SYSTEM: " in kube-system", METALLB: f" in namespace {namespace}"}[
        source.scope
    ]
    if forbidden:
        return f"no permission to list {source.what}{where}"
    return f"could not list {source.what}{where}"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Snapshot:
    """The objects a command read: objects[key] is a list of raw dicts, None (not served) or Unreadable."""

    namespace: str = "metallb-system"  # MetalLB's namespace
    objects: Dict[str, Read] = field(default_factory=dict)
    server: Optional[Obj] = None  # the /version document
    narrowed: List[str] = field(default_factory=list)  # `what` of the narrow sources read in `namespace` only
    now: datetime = field(default_factory=_utcnow)

    def items(self, key: str) -> List[Obj]:
        """The objects of one source ([] when not served); Skip when they could not be read."""
        value = self.objects.get(key)
        if isinstance(value, Unreadable):
            raise Skip(value.reason)
        return list(value or [])

    def readable(self, key: str) -> bool:
        return not isinstance(self.objects.get(key), Unreadable)

    def served(self, key: str) -> bool:
        return self.objects.get(key) is not None and self.readable(key)

    def reason(self, key: str) -> str:
        """Why a key could not be read ("" when it could)."""
        value = self.objects.get(key)
        return value.reason if isinstance(value, Unreadable) else ""
