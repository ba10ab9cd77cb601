"""Services: every LoadBalancer Service has an address that is announced, and nothing else took it."""

from typing import Any, Sequence, Tuple

from metallb_plugin.core import service_status as svc
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.status.common import (
    _plural,
)
from metallb_plugin.core.view import View

SHOWN = 20  # Services a check lists by name: all of them, with their reasons, are in the Services list below


def _listed(lines: Sequence[str], total: int) -> Tuple[str, ...]:
    more = total - len(lines)
    return tuple(lines) + ((f"and {more} more (all, with their reasons, under LoadBalancer Services)",) if more else ())


def _service_lines(states: Sequence[Any]) -> Tuple[str, ...]:
    shown = [f"{s.key}: {s.reason}" + (f" -> {s.hint}" if s.hint else "") for s in states[:SHOWN]]
    return _listed(shown, len(states))


def check_pending(view: View) -> Result:
    states = view.states
    view.facts.get("services")
    handled = [s for s in states if s.state not in (svc.IGNORED, svc.OTHER)]
    pending = [s for s in states if s.state == svc.PENDING]
    if pending:
        return Result(FAIL, f"{_plural(len(pending), 'Service')} pending", _service_lines(pending))
    if not states:
        return Result(OK, "no LoadBalancer Services")
    return Result(OK, f"{_plural(len(handled), 'LoadBalancer Service')} assigned by MetalLB")


def check_announced(view: View) -> Result:
    states = view.states
    view.facts.get("services")
    problems = [s for s in states if s.state == svc.ASSIGNED and s.severity]
    if not [s for s in states if s.state == svc.ASSIGNED]:
        raise Skip("no assigned Services")
    failing = [s for s in problems if s.severity == "fail"]
    if problems:
        return Result(
            FAIL if failing else WARN,
            f"{_plural(len(problems), 'assigned Service')} not announced as expected",
            _service_lines(problems),
        )
    announced = sum(1 for s in states if s.announced_by)
    return Result(
        OK,
        f"{announced} of {_plural(sum(1 for s in states if s.state == svc.ASSIGNED), 'assigned Service')}"
        " announced by a node",
    )


def check_foreign(view: View) -> Result:
    states = view.states
    view.facts.get("services")
    ignored = [s for s in states if s.state in (svc.IGNORED, svc.OTHER) and not s.severity]
    others = [s for s in states if s.state == svc.OTHER and s.severity]
    if others:
        return Result(
            WARN,
            f"{_plural(len(others), 'Service')} served by another load balancer implementation",
            _service_lines(others),
        )
    if ignored:
        return Result(
            OK,
            f"{_plural(len(ignored), 'Service')} left to other implementations (loadBalancerClass)",
            _service_lines(ignored),
        )
    return Result(OK, "no Service belongs to another load balancer")


def check_annotations(view: View) -> Result:
    states = view.states
    view.facts.get("services")
    old = [s for s in states if s.deprecated_annotations or s.deprecated_fields]
    if old:
        annotated = sum(1 for s in old if s.deprecated_annotations)
        fields = sum(1 for s in old if s.deprecated_fields)
        what = [
            text
            for text in (
                f"{_plural(annotated, 'Service')} metallb.universe.tf/ annotations (use metallb.io/)"
                if annotated
                else "",
                f"{_plural(fields, 'Service')} spec.loadBalancerIP (use metallb.io/loadBalancerIPs)" if fields else "",
            )
            if text
        ]
        return Result(
            WARN,
            f"deprecated: {'; '.join(what)}",
            _listed(
                [f"{s.key}: {', '.join(s.deprecated_annotations + s.deprecated_fields)}" for s in old[:SHOWN]], len(old)
            ),
        )
    return Result(OK, "no deprecated annotations or fields")


register(
    "services",
    "Services",
    (
        Check(
            "services.pending",
            "services",
            "every LoadBalancer Service has an address",
            check_pending,
            hint="kubectl metallb status --service NAMESPACE/NAME",
            needs=("services",),
        ),
        Check(
            "services.announced",
            "services",
            "assigned addresses are announced",
            check_announced,
            hint="kubectl metallb status --service NAMESPACE/NAME",
            needs=("services",),
        ),
        Check(
            "services.foreign",
            "services",
            "no Service taken by another load balancer",
            check_foreign,
            severity="warning",
            hint="https://metallb.io/faq/",
            needs=("services",),
        ),
        Check(
            "services.annotations",
            "services",
            "no deprecated annotations or fields",
            check_annotations,
            severity="warning",
            hint="https://metallb.io/usage/",
            needs=("services",),
        ),
    ),
)
