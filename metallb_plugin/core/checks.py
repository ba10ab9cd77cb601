"""The check engine: checks as data, an ordered registry of categories, and evaluate().

A `Check` names the snapshot keys it `needs`; when one of them could not be read, evaluate() reports the check as
skipped with that reason instead of running it. A check function returns a Result, or raises Skip when it cannot
decide for another reason; it never passes by default. A `fatal` check that fails stops the evaluation (nothing
after it can be trusted, e.g. the API server does not answer). `severity="warning"` turns a failure into a warning.

Ids are stable (JSON keys, --skip-check arguments, docs anchors): category ids like `kube-proxy`, check ids like
`strict-arp` (preflight) or `components.speaker` (status).
"""

from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"

Text = Union[str, Callable[[Any], str]]  # fixed, or made from the subject (a name the hint should show)


class Skip(Exception):
    """The check cannot run; the message says why."""


@dataclass(frozen=True)
class Result:
    status: str
    message: str = ""
    details: Tuple[str, ...] = ()
    items: Tuple[Any, ...] = ()  # structured details for the command's own document (the analyzer's findings)


@dataclass(frozen=True)
class Check:
    id: str
    category: str  # category id
    description: Text
    fn: Callable[[Any], Result]
    needs: Tuple[str, ...] = ()  # snapshot keys read: unreadable -> skipped with the reason
    fatal: bool = False  # a failure stops the evaluation
    hint: Text = ""  # a command to run or a doc URL, shown under a warning or failure
    severity: str = "error"  # "warning": a failure is reported as a warning and does not fail the run
    when: Optional[Callable[[Any], bool]] = None  # only when this holds for the subject (else left out)


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    checks: Tuple[Check, ...]


@dataclass(frozen=True)
class Outcome:
    check: Check  # description and hint resolved to text
    result: Result
    category: Optional[Category] = None


CATEGORIES: Dict[str, Category] = {}  # id -> Category, in registration (display) order


def register(category_id: str, title: str, checks: Iterable[Check]) -> Category:
    """Add a category of checks to the registry; its checks get its id as their category."""
    found = tuple(replace(c, category=category_id) for c in checks)
    category = Category(category_id, title, found)
    CATEGORIES[category_id] = category
    return category


def check_ids(category_ids: Sequence[str]) -> List[str]:
    return [c.id for cid in category_ids for c in CATEGORIES[cid].checks]


def _text(value: Text, subject: Any) -> str:
    return value(subject) if callable(value) else value


def _run(check: Check, snapshot: Any, subject: Any) -> Result:
    for key in check.needs:
        if not snapshot.readable(key):
            return Result(SKIP, snapshot.reason(key))
    try:
        result = check.fn(subject)
    except Skip as why:
        return Result(SKIP, str(why))
    if result.status == FAIL and check.severity == "warning":
        result = replace(result, status=WARN)
    return result


def evaluate(snapshot: Any, categories: Sequence[str], skip: Iterable[str] = (), subject: Any = None) -> List[Outcome]:
    """Run the checks of these categories (ids, in this order) over a snapshot.

    subject: what the check functions receive (default: the snapshot; status passes a view derived from it).
    skip: check ids reported as skipped without running them (--skip-check).
    """
    subject = snapshot if subject is None else subject
    skipped = set(skip)
    outcomes: List[Outcome] = []
    for category_id in categories:
        category = CATEGORIES[category_id]
        for check in category.checks:
            if check.when is not None and not check.when(subject):
                continue
            shown = replace(check, description=_text(check.description, subject), hint=_text(check.hint, subject))
            if check.id in skipped:
                result = Result(SKIP, "skipped (--skip-check)")
            else:
                result = _run(check, snapshot, subject)
            outcomes.append(Outcome(shown, result, category))
            if check.fatal and result.status == FAIL:
                return outcomes
    return outcomes


def succeeded(outcomes: Iterable[Outcome]) -> bool:
    return all(o.result.status != FAIL for o in outcomes)


def grouped(outcomes: Iterable[Outcome]) -> List[Tuple[Category, List[Outcome]]]:
    """[(category, [outcomes])] in first-seen order."""
    found: Dict[str, Tuple[Category, List[Outcome]]] = {}
    for outcome in outcomes:
        category = outcome.category or Category(outcome.check.category, outcome.check.category, ())
        found.setdefault(category.id, (category, []))[1].append(outcome)
    return list(found.values())


def to_document(outcomes: Iterable[Outcome]) -> Dict[str, Any]:
    """The stable JSON shape of a check run."""
    outcomes = list(outcomes)
    return {
        "success": succeeded(outcomes),
        "categories": [
            {
                "id": category.id,
                "name": category.title,
                "checks": [
                    {
                        "id": o.check.id,
                        "description": o.check.description,
                        "result": o.result.status,
                        "message": o.result.message,
                        "details": list(o.result.details),
                        "hint": o.check.hint if o.result.status in (WARN, FAIL) else "",
                    }
                    for o in group
                ],
            }
            for category, group in grouped(outcomes)
        ],
    }
