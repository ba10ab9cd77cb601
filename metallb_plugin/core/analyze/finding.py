"""What the analyzer reports: findings with a stable code, and the rules that make them, as checks of the engine.

A rule is a function of the Model returning [Finding]; `rule(...)` makes it a Check whose id is its code, so
`needs` (snapshot keys it reads) skip it with the reason when a kind could not be read or was not given. Each code
has one level and a section in docs/analyzers.md (its anchor is the code in lower case).
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Sequence, Tuple

from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result
from metallb_plugin.core.objects import Obj
from metallb_plugin.defaults import HOMEPAGE

if TYPE_CHECKING:
    from metallb_plugin.core.analyze.model import Model

ERROR, WARNING, INFO = "error", "warning", "info"
LEVELS = (ERROR, WARNING, INFO)  # most severe first
DOCS = f"{HOMEPAGE}/blob/main/docs/analyzers.md"


def doc_url(code: str) -> str:
    return f"{DOCS}#{code.lower()}"


@dataclass(frozen=True)
class Ref:
    """An object a finding is about, and the field in it (a path like spec.ipAddressPools[1]; "" for the whole)."""

    kind: str
    name: str
    namespace: str = ""
    field: str = ""

    @classmethod
    def of(cls, obj: Obj, path: str = "", kind: str = "") -> "Ref":
        meta = obj.get("metadata") or {}
        return cls(
            kind or str(obj.get("kind") or ""), str(meta.get("name", "")), str(meta.get("namespace") or ""), path
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}" + (f" {self.field}" if self.field else "")

    def to_dict(self) -> Dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "field": self.field}


@dataclass(frozen=True)
class Finding:
    code: str
    level: str
    message: str
    fix: str
    objects: Tuple[Ref, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        return {
            "code": self.code,
            "level": self.level,
            "message": self.message,
            "fix": self.fix,
            "objects": [r.to_dict() for r in self.objects],
            "documentation": doc_url(self.code),
        }

    def line(self) -> str:
        return f"{self.code} {self.message}"


@dataclass(frozen=True)
class Rule:
    code: str
    level: str
    title: str  # what the rule checks, one line
    shown_by: str = ""  # the status check that already reports it (status's analyzer summary leaves it out)
    needs: Tuple[str, ...] = field(default=())


RULES: Dict[str, Rule] = {}  # code -> Rule, in registration order


def _result(rule: Rule, findings: Sequence[Finding]) -> Result:
    if not findings:
        return Result(OK)
    status = {ERROR: FAIL, WARNING: WARN, INFO: OK}[rule.level]
    count = f"{len(findings)} finding{'' if len(findings) == 1 else 's'}"
    return Result(status, count, tuple(f.line() for f in findings), items=tuple(findings))


def rule(
    code: str,
    level: str,
    title: str,
    fn: Callable[["Model"], List[Finding]],
    needs: Tuple[str, ...] = (),
    shown_by: str = "",
) -> Check:
    """The Check of one analyzer rule; registered in RULES by code. fn makes its findings (a function shared by
    related codes may make findings of several: each code keeps its own)."""
    if code in RULES:
        raise ValueError(f"analyzer code {code} is used twice")
    spec = Rule(code, level, title, shown_by=shown_by, needs=needs)
    RULES[code] = spec
    return Check(
        code,
        "",
        title,
        lambda model: _result(spec, [f for f in model.findings_of(fn) if f.code == code]),
        needs=needs,
        hint=doc_url(code),
        severity="warning" if level != ERROR else "error",
    )


def finding(code: str, message: str, fix: str, *objects: Ref) -> Finding:
    """A finding of a registered code (its level comes from the rule)."""
    return Finding(code, RULES[code].level, message, fix, tuple(objects))
