"""Checks as data: what is checked, how bad a problem is, how to fix it, and the function that decides.

A check function takes the facts gathered from the cluster and returns a Result; it raises Skip when it cannot
decide (missing permission, missing input), which is reported as skipped, never as a pass.
"""

from dataclasses import dataclass, replace
from typing import Callable

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


class Skip(Exception):
    """The check cannot run; the message says why."""


@dataclass(frozen=True)
class Result:
    status: str
    message: str = ""
    details: tuple = ()


@dataclass(frozen=True)
class Check:
    id: str
    category: str
    description: str
    run: Callable
    severity: str = "error"  # "error": a problem fails the run; "warning": it is reported but does not fail
    hint: str = ""


@dataclass(frozen=True)
class Outcome:
    check: Check
    result: Result


def run_checks(checks, facts):
    outcomes = []
    for check in checks:
        try:
            result = check.run(facts)
        except Skip as why:
            result = Result(SKIP, str(why))
        if result.status == FAIL and check.severity == "warning":
            result = replace(result, status=WARN)
        outcomes.append(Outcome(check, result))
    return outcomes


def succeeded(outcomes):
    return all(o.result.status != FAIL for o in outcomes)


def categories(outcomes):
    """[(category, [outcomes])] in first-seen order."""
    grouped = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.check.category, []).append(outcome)
    return list(grouped.items())


def to_document(outcomes):
    """The stable JSON shape of a check run."""
    return {
        "success": succeeded(outcomes),
        "categories": [
            {
                "name": name,
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
            for name, group in categories(outcomes)
        ],
    }
