"""The one model of a write (pure): what a command will create, change, delete or leave alone, and why.

A command describes its writes as a Plan of Steps, one per object, each with the request that makes it (Write).
The shell (metallb_plugin/writes.py) dry-runs every step on the API server, which fills in `result` and `diff`,
checks the permissions the plan needs, shows it, asks, and applies the steps in order.

    Step.foreign     why the object is not this operation's to change (set by the command); a step that would
                     change or delete such an object is refused unless the user said --overwrite
    Step.refused     why the server or the plugin will not let this step happen: nothing is written then
    Plan.document()  the plan as -o json|yaml shows it;  render(plan) as text
"""

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from metallb_plugin.defaults import FIELD_MANAGER, MANAGED_BY, PURPOSE

Obj = Dict[str, Any]

CREATED, CHANGED, DELETED, UNCHANGED, LEFT_ALONE = "created", "changed", "deleted", "unchanged", "left alone"
WRITES = (CREATED, CHANGED, DELETED)
VERBS = {"apply": "patch", "create": "create", "replace": "update", "patch": "patch", "delete": "delete"}
# what the server sets on every write: never part of a diff
SERVER_FIELDS = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")
DIFF_LINES = 8  # a changed object shows at most this many lines of its diff
VALUE_WIDTH = 60


@dataclass(frozen=True)
class Access:
    """One permission a write needs, as a SelfSubjectAccessReview asks it."""

    verb: str
    group: str
    resource: str
    namespace: Optional[str] = None
    subresource: str = ""

    def __str__(self) -> str:
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        if self.subresource:
            resource += f"/{self.subresource}"
        where = f"in namespace {self.namespace}" if self.namespace else "(cluster-wide)"
        return f"{self.verb} {resource} {where}"


@dataclass
class Write:
    """One request: apply (server-side apply), create (POST to the collection), replace (PUT), patch, delete."""

    method: str
    path: str  # the object's path (create: the collection's)
    body: Any = None
    patch_type: str = "merge"
    force: bool = False  # server-side apply: take fields other managers own


@dataclass
class Step:
    api_version: str
    kind: str
    name: str
    namespace: Optional[str] = None
    write: Optional[Write] = None  # None: the object is left alone (note says why)
    before: Optional[Obj] = None  # the live object, None when it does not exist
    foreign: str = ""  # why it is not ours to change (see the module docstring)
    note: str = ""  # shown next to the result: why left alone, what the dry run could not check
    result: str = ""  # what the dry run says happens: created / changed / unchanged / deleted / left alone
    diff: List[str] = field(default_factory=list)
    refused: str = ""
    overridable: bool = False  # refused for a reason --overwrite / --force-conflicts overrides (ownership, conflict)
    denied: str = ""  # the server's 403 to the dry run (RBAC, or a grant the user does not hold)
    checked: bool = True  # False: the server could not dry-run it (its namespace does not exist yet)
    execute: Optional[Callable[..., Any]] = None  # a custom way to make the write (gets the step, dry_run)

    @classmethod
    def of(cls, obj: Obj, write: Optional[Write] = None, **kwargs: Any) -> "Step":
        meta = obj.get("metadata") or {}
        return cls(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace") or None, write, **kwargs)

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0] if "/" in self.api_version else ""

    def describe(self) -> str:
        """kind.group/name as kubectl prints it."""
        kind = self.kind.lower() + (f".{self.group}" if self.group else "")
        return f"{kind}/{self.name}"

    def where(self) -> str:
        return f"{self.describe()}" + (f" in {self.namespace}" if self.namespace else "")

    @property
    def writes(self) -> bool:
        return self.result in WRITES

    def ref(self) -> Dict[str, str]:
        found = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            found["namespace"] = self.namespace
        return found

    def document(self) -> Obj:
        doc: Obj = {**self.ref(), "result": self.result or LEFT_ALONE}
        if self.diff:
            doc["diff"] = list(self.diff)
        if self.refused:
            doc["refused"] = self.refused
        if self.note:
            doc["note"] = self.note
        if not self.checked:
            doc["checked"] = False
        return doc


@dataclass
class Plan:
    operation: str  # the command, e.g. "pools migrate"
    question: str  # "Install MetalLB v0.16.1 (native) in metallb-system?"
    steps: List[Step] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)  # shown with the plan (backups, what a namespace takes along)
    needs_yes: str = ""  # non-empty: why --yes is needed even on a terminal
    resume: str = ""  # after a failure midway: how to finish (usually: run the same command again)
    atomic: bool = False  # after a failure midway: delete again what this run created
    extra_access: List[Access] = field(default_factory=list)  # writes that are not steps (install's record)
    absent_namespaces: Tuple[str, ...] = ()  # namespaces the plan creates: their objects cannot be dry-run

    def pending(self) -> List[Step]:
        return [s for s in self.steps if s.writes]

    def refusals(self) -> List[Step]:
        return [s for s in self.steps if s.refused]

    def counts(self) -> Dict[str, int]:
        found = dict.fromkeys((CREATED, CHANGED, UNCHANGED, DELETED), 0)
        for step in self.steps:
            key = step.result or LEFT_ALONE
            found[key] = found.get(key, 0) + 1
        if self.refusals():
            found["refused"] = len(self.refusals())
        return found

    def summary(self) -> str:
        return ", ".join(f"{n} {k}" for k, n in self.counts().items() if n or k in (CREATED, CHANGED, UNCHANGED))

    def unchecked(self) -> int:
        return sum(1 for s in self.steps if not s.checked)

    def document(self, dry_run: bool) -> Obj:
        return {
            "operation": self.operation,
            "dryRun": dry_run,
            "objects": [s.document() for s in self.steps],
            "summary": self.counts(),
            "notes": list(self.notes),
        }


# ------------------------------------------------------------------------------------------- ownership


def managed_by_us(live: Optional[Obj]) -> bool:
    """Whether kubectl-metallb wrote the object: its field manager in managedFields, or the label it sets."""
    meta = (live or {}).get("metadata") or {}
    if any(m.get("manager") == FIELD_MANAGER for m in meta.get("managedFields") or []):
        return True
    labels = meta.get("labels") or {}
    return all(labels.get(k) == v for k, v in MANAGED_BY.items())


def foreign(live: Optional[Obj], purpose: Optional[str] = None) -> str:
    """Why an existing object is not ours to change ("" when it is, or does not exist). purpose: the value of the
    PURPOSE annotation the operation sets; an object that kubectl-metallb wrote for another purpose is not ours."""
    if live is None:
        return ""
    if not managed_by_us(live):
        return "it exists and was not created by kubectl metallb"
    found = ((live.get("metadata") or {}).get("annotations") or {}).get(PURPOSE)
    if purpose is not None and found != purpose:
        return f"kubectl metallb created it for another purpose ({found or 'unrecorded'})"
    return ""


# ------------------------------------------------------------------------------------------- permissions


def resource_of(path: str) -> Tuple[str, str, Optional[str], str]:
    """(group, resource, namespace, subresource) of a REST path (object or collection)."""
    parts = path.split("?")[0].strip("/").split("/")
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    group = "" if parts[0] == "api" else parts[1]
    namespace = None
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    return group, rest[0], namespace, (rest[2] if len(rest) > 2 else "")


def access_of(step: Step) -> List[Access]:
    """The permissions one step's write needs: server-side apply of a new object needs create as well as patch."""
    if step.write is None or not step.writes:
        return []
    group, resource, namespace, subresource = resource_of(step.write.path)
    verbs = [VERBS[step.write.method]]
    if step.write.method == "apply" and step.before is None:
        verbs.append("create")
    return [Access(verb, group, resource, namespace, subresource) for verb in verbs]


def needed_access(plan: Plan) -> List[Access]:
    """Every distinct permission the plan's writes need, in plan order."""
    found: Dict[Access, None] = {}
    for step in plan.pending():
        for access in access_of(step):
            found.setdefault(access)
    for access in plan.extra_access if plan.pending() else []:
        found.setdefault(access)
    return list(found)


# ------------------------------------------------------------------------------------------- results and diffs


def comparable(obj: Optional[Obj]) -> Obj:
    """An object without what the server changes on every write and without its status."""
    found: Obj = json.loads(json.dumps(obj or {}))
    meta = found.get("metadata") or {}
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    found.pop("status", None)
    return found


def outcome(step: Step, after: Optional[Obj]) -> str:
    """created / changed / unchanged / deleted for a step, from the server's (dry-run) answer."""
    assert step.write is not None
    if step.write.method == "delete":
        return DELETED
    if step.before is None:
        return CREATED
    if step.write.method == "apply" and not managed_by_us(step.before):
        return CHANGED  # the same content, but kubectl-metallb becomes an owner of its fields
    return UNCHANGED if comparable(step.before) == comparable(after) else CHANGED


_MISSING = object()


def _short(value: Any) -> str:
    if value is _MISSING:
        return "(none)"
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if any(c in key for c in "./") or not key:
        return f'{path}["{key}"]'
    return f"{path}.{key}" if path else key


def _named(items: Sequence[Any]) -> bool:
    names = [i.get("name") for i in items if isinstance(i, dict)]
    return len(names) == len(items) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names)


def changes(old: Any, new: Any, path: str = "") -> Iterator[Tuple[str, Any, Any]]:
    """(path, old, new) of every leaf that differs; lists of named items (containers, env) are matched by name."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from changes(old.get(key, _MISSING), new.get(key, _MISSING), _join(path, key))
    elif isinstance(old, list) and isinstance(new, list) and old and new and _named(old) and _named(new):
        before = {i["name"]: i for i in old}
        after = {i["name"]: i for i in new}
        for name in list(before) + [n for n in after if n not in before]:
            yield from changes(before.get(name, _MISSING), after.get(name, _MISSING), f"{path}[name={name}]")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new)):
            yield from changes(a, b, _join(path, index))
    elif old != new:
        yield path, old, new


def _text_lines(path: str, old: str, new: str) -> List[str]:
    """A multi-line text value (a configuration file in a ConfigMap): its changed lines."""
    lines = [f"~ {path}:"]
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
            lines.append(f"    {line[0]} {_short(line[1:])}")
    return lines


def short_diff(before: Optional[Obj], after: Optional[Obj], limit: int = DIFF_LINES) -> List[str]:
    """A few lines saying what changes: "~ path: old -> new", "+ path: new", "- path: old"."""
    lines: List[str] = []
    if before is not None and not managed_by_us(before):
        lines.append(f"~ metadata.managedFields: {FIELD_MANAGER} becomes an owner of the fields it sets")
    for path, old, new in changes(comparable(before), comparable(after)):
        if old is _MISSING:
            lines.append(f"+ {path}: {_short(new)}")
        elif new is _MISSING:
            lines.append(f"- {path}: {_short(old)}")
        elif isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new):
            lines += _text_lines(path, old, new)
        else:
            lines.append(f"~ {path}: {_short(old)} -> {_short(new)}")
    if len(lines) > limit:
        lines = lines[: limit - 1] + [f"... and {len(lines) - limit + 1} more lines"]
    return lines


# ------------------------------------------------------------------------------------------- text


MARKS = {CREATED: "+", CHANGED: "~", DELETED: "-", UNCHANGED: "=", LEFT_ALONE: " "}


def step_line(step: Step, dry_run: bool = False) -> str:
    """ "kind.group/name result" as each object is reported (the dry run says so)."""
    result = step.result or LEFT_ALONE
    text = f"{step.describe()} {result}"
    if step.refused:
        text = f"{step.describe()} refused: {step.refused}"
    elif dry_run and step.writes:
        text += " (server dry run)" if step.checked else " (dry run; not checked by the server: " + step.note + ")"
    elif step.note:
        text += f" ({step.note})"
    return text


def render(plan: Plan, dry_run: bool = False, unchanged: bool = True) -> str:
    """The plan as text: a line per object, diffs indented under changed objects, then the notes."""
    lines = []
    for step in plan.steps:
        if step.result == UNCHANGED and not unchanged:
            continue
        lines.append(step_line(step, dry_run))
        lines += [f"    {d}" for d in step.diff]
    if not unchanged and plan.counts()[UNCHANGED]:
        lines.append(f"({plan.counts()[UNCHANGED]} unchanged)")
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)


def failure(plan: Plan, done: Sequence[Step], failed: Step, error: str, undone: str = "") -> str:
    """What a failure midway leaves: what was applied, what was not, and how to finish or undo."""
    pending = plan.pending()
    rest = [s for s in pending if s is not failed and s not in done]
    text = f"{failed.describe()} failed: {error}. "
    if done:
        text += f"Applied before it ({len(done)} of {len(pending)}): " + ", ".join(
            f"{s.describe()} {s.result}" for s in done
        )
        text += ". "
    else:
        text += "Nothing was applied. "
    if undone:
        text += undone + " "
    elif rest or done:
        text += f"Not applied: {', '.join(s.describe() for s in [failed, *rest])}. "
    return (text + (plan.resume if done and not undone else "")).strip()
