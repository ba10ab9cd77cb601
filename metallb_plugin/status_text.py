"""status as text: the overview (installation headline, check list, LoadBalancer Services table, BGP sessions),
the BGP view (--bgp) and the step by step explanation of one Service."""

import dataclasses

from metallb_plugin import defaults, output
from metallb_plugin.core import explain as explainer
from metallb_plugin.core import selectors, status
from metallb_plugin.core.checks import FAIL

_INFO = "-"


def _headline(report):
    install = report.install.to_dict() if report.install else None
    if not install and report.verdict == "unknown":
        return f"MetalLB: cannot tell whether it is installed (namespace {report.ns})"
    if not install:
        return f"MetalLB: not found (namespace {report.ns})"
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
    checks = output.render_checks([_shown(o) for o in report.outcomes], style).rstrip("\n").split("\n")
    lines = [_headline(report), ""] + checks[:-1]  # render_checks' own verdict line: ours below says more
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
    summary = report.bgp
    if summary and any(s.source for s in summary.sessions):  # native mode: only status --bgp knows them
        lines += _block("BGP sessions", _session_rows(summary), SESSION_HEADERS)
    if report.drained:
        lines += _drain_lines(report, style)
    colour = style.green if report.healthy else style.red
    lines += [colour(report.summary()), ""]
    return "\n".join(lines)  # one copy of a text that holds every Service


NODES_SHOWN = 3  # a drain table cell names this many nodes at most (over BGP every node may announce)


def _nodes(names):
    return ", ".join(names) if len(names) <= NODES_SHOWN else f"{', '.join(names[:2])} and {len(names) - 2} more"


def _after(move):
    """The nodes announcing after the drain; beside many announcing now, as those minus the ones that stop."""
    after = set(move.after)
    stopped = [n for n in move.now if n not in after]
    if len(after) > NODES_SHOWN and after <= set(move.now) and len(stopped) <= NODES_SHOWN:
        return f"the same except {', '.join(stopped)}" if stopped else "the same"
    return _nodes(move.after)


def _drain_lines(report, style):
    title = f"If {', '.join(report.drained)} {'were' if len(report.drained) > 1 else 'was'} gone (--simulate-drain)"
    lines = [title, "-" * len(title)]
    rows = [
        [
            m.service,
            ",".join(m.ips),
            m.protocol,
            _nodes(m.now) + ("*" if m.now and not m.observed else "") or "-",
            _after(m) or "-",
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


SESSION_HEADERS = ["node", "peer", "bgppeer", "state", "bfd", "source", "detail"]


def _session_rows(summary):
    return [
        [s.node, s.peer + (f" (vrf {s.vrf})" if s.vrf else ""), ",".join(s.peers) or "-", s.state, s.bfd or "-",
         s.source or "-", s.detail or "-"]
        for s in summary.sessions
    ]  # fmt: skip


def _block(title, rows, headers):
    return [title, "-" * len(title), output.table(rows, headers) if rows else "none", ""]


def bgp_text(report, style):
    """status --bgp: peers, sessions per node, FRR per node, Services advertised over BGP, the BGP checks."""
    summary, ns = report.bgp, report.ns
    if not summary or not summary.configured:
        return f"No BGP: no BGPPeer in {ns}, no BGP session reported, no Service advertised over BGP.\n"
    if summary.backend == "frr-k8s":
        source = "sessions from frr-k8s' BGPSessionState"
    elif summary.logs_read:
        source = f"sessions from the last {defaults.BGP_LOG_LINES} lines of each speaker's log"
    else:
        source = "MetalLB publishes no session state with this backend"
    peers = [
        [p.name, p.address, str(p.my_asn or "-"), str(p.peer_asn or "-"), p.vrf or "-", p.bfd_profile or "-",
         " or ".join(selectors.describe(s) for s in p.node_selectors) or "all"]
        for p in summary.peers
    ]  # fmt: skip
    lines = [f"BGP in {ns}: {summary.backend or 'unknown'} backend; {source}", ""]
    lines += _block("BGP peers", peers, ["name", "address", "my asn", "peer asn", "vrf", "bfd profile", "nodes"])
    lines += _block("Sessions", _session_rows(summary), SESSION_HEADERS)
    if summary.node_states:
        rows = [[n.node, n.conversion or "-", n.reload or "-"] for n in summary.node_states]
        lines += _block("FRR on the nodes (FRRNodeState)", rows, ["node", "conversion", "reload"])
    rows = [[a.service, a.node, ",".join(a.peers) or "-"] for a in summary.advertised]
    lines += _block("Services advertised over BGP (ServiceBGPStatus)", rows, ["service", "node", "bgppeers"])
    outcomes = [_shown(o) for o in report.bgp_outcomes]
    lines += output.render_checks(outcomes, style).rstrip("\n").split("\n")[:-1]
    failed = sum(1 for o in outcomes if o.result.status == FAIL)
    verdict = f"MetalLB's BGP: {failed} problem{'' if failed == 1 else 's'}" if failed else "MetalLB's BGP is healthy"
    lines.append((style.red if failed else style.green)(verdict))
    return "\n".join(lines) + "\n"


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
