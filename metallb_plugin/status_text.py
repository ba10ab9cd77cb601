"""status as text: the overview (installation headline, check list, LoadBalancer Services table) and the step by
step explanation of one Service."""

import dataclasses

from metallb_plugin import output
from metallb_plugin.core import explain as explainer
from metallb_plugin.core import status
from metallb_plugin.core.checks import FAIL

_INFO = "-"


def _headline(doc):
    install = doc["installation"]
    if not install and doc["verdict"] == "unknown":
        return f"MetalLB: cannot tell whether it is installed (namespace {doc['namespace']})"
    if not install:
        return f"MetalLB: not found (namespace {doc['namespace']})"
    how = {"helm": f"Helm release {install.get('helm_release') or '?'}", "operator": "metallb-operator"}.get(
        install["managed_by"], "manifest"
    )
    return (
        f"MetalLB {install['version'] or '(untagged)'} in {install['namespace']} ({how}, "
        f"{install['backend']} BGP backend)"
    )


def _shown(outcome):
    """A passed check reads better as what was found ("controller Deployment controller: 1/1 available")."""
    if outcome.result.status in ("ok", "skip") and outcome.result.message:
        check = dataclasses.replace(outcome.check, description=outcome.result.message)
        if outcome.result.status == "ok":
            return dataclasses.replace(outcome, check=check)
    return outcome


def overview_text(report, style):
    doc = report.to_document()
    checks = output.render_checks([_shown(o) for o in report.outcomes], style).rstrip("\n").split("\n")
    lines = [_headline(doc), ""] + checks[:-1]  # render_checks' own verdict line: ours below says more
    rows = []
    for state in report.services:
        announced = ", ".join(f"{a.node} ({a.protocol})" for a in state.announced_by)
        detail = announced or state.reason
        if announced and state.reason:
            detail += f"; {state.reason}"
        pool = (state.pool or "-") + ("*" if state.pool_inferred else "")
        rows.append([state.namespace, state.name, state.state, ",".join(state.ips) or "-", pool, detail or "-"])
    title = "LoadBalancer Services"
    lines += [title, "-" * len(title)]
    if rows:
        lines.append(output.table(rows, ["namespace", "name", "state", "addresses", "pool", "announced by / reason"]))
        if any(s.pool_inferred for s in report.services):
            lines.append("* pool found from the address (no metallb.io/ip-allocated-from-pool annotation)")
    else:
        lines.append("none")
    lines.append("")
    if report.drained:
        lines += _drain_lines(report, style)
    colour = style.green if report.healthy else style.red
    lines.append(colour(report.summary()))
    return "\n".join(lines) + "\n"


def _drain_lines(report, style):
    title = f"If {', '.join(report.drained)} {'were' if len(report.drained) > 1 else 'was'} gone (--simulate-drain)"
    lines = [title, "-" * len(title)]
    rows = [
        [
            m.service,
            ",".join(m.ips),
            m.protocol,
            ", ".join(m.now) + ("*" if m.now and not m.observed else "") or "-",
            ", ".join(m.after) or "-",
            m.change + (f" ({m.blocked})" if not m.after and m.blocked else ""),
        ]
        for m in report.moves
    ]
    if not rows:
        return lines + ["no announced Service", ""]
    lines.append(output.table(rows, ["service", "addresses", "protocol", "announced by", "after", "change"]))
    if any(m.now and not m.observed for m in report.moves):
        lines.append("* predicted (no ServiceL2Status, ServiceBGPStatus or nodeAssigned event tells)")
    lost = [m.service for m in report.moves if not m.after]
    if lost:
        verb = "Service would lose its" if len(lost) == 1 else "Services would lose their"
        lines.append(style.red(f"{len(lost)} {verb} announcement"))
    return lines + [""]


def explain_text(explanation, style):
    symbols = {**output.SYMBOLS, explainer.INFO: _INFO}
    colours = {"ok": style.green, "warn": style.yellow, "fail": style.red, "skip": style.dim, explainer.INFO: style.dim}
    lines = [f"Service {explanation.service}", ""]
    for number, step in enumerate(explanation.steps, 1):
        lines.append(f"{number:>2}. {colours[step.status](symbols[step.status])} {step.title}")
        lines += [f"      {line}" for line in step.lines]
    lines += ["", f"Most likely cause: {explanation.cause}", f"Fix: {explanation.fix}"]
    return "\n".join(lines) + "\n"


def progress_line(result, what, waited_seconds, live):
    """What --wait is waiting for; the elapsed time only on a terminal, so a log gets a line per change."""
    if isinstance(result, status.Report):
        left = "; ".join(o.result.message for o in result.outcomes if o.result.status == FAIL)
    else:
        left = result.cause
    waited = f" ({int(waited_seconds)}s)" if live else ""
    return f"waiting for {what}{waited}: {left}"
