import json

from metallb_plugin.core.checks import FAIL, OK, SKIP, WARN, Check, Result, Skip, run_checks, succeeded, to_document
from metallb_plugin.output import Style, render_checks


def _skip(facts):
    raise Skip("cannot list nodes: forbidden")


CHECKS = [
    Check("api", "Kubernetes", "API reachable", lambda f: Result(OK)),
    Check(
        "arp",
        "kube-proxy",
        "strict ARP on",
        lambda f: Result(FAIL, "strictARP is false"),
        hint="kubectl metallb strict-arp --enable",
    ),
    Check(
        "excl",
        "Nodes",
        "no excluded nodes",
        lambda f: Result(FAIL, "node-1 is excluded", ("node-1",)),
        severity="warning",
        hint="https://metallb.io/troubleshooting/",
    ),
    Check("nodes", "Nodes", "Linux nodes present", _skip),
]


def test_severity_skip_and_verdict():
    outcomes = run_checks(CHECKS, {})
    assert [o.result.status for o in outcomes] == [OK, FAIL, WARN, SKIP]
    assert outcomes[3].result.message == "cannot list nodes: forbidden"
    assert not succeeded(outcomes)
    assert succeeded(run_checks([CHECKS[0], CHECKS[2], CHECKS[3]], {}))  # warnings and skips do not fail


def test_document_shape():
    doc = to_document(run_checks(CHECKS, {}))
    json.dumps(doc)
    assert doc["success"] is False
    assert [c["name"] for c in doc["categories"]] == ["Kubernetes", "kube-proxy", "Nodes"]
    arp = doc["categories"][1]["checks"][0]
    assert arp == {
        "id": "arp",
        "description": "strict ARP on",
        "result": "fail",
        "message": "strictARP is false",
        "details": [],
        "hint": "kubectl metallb strict-arp --enable",
    }
    assert doc["categories"][0]["checks"][0]["hint"] == ""


def test_text_rendering():
    text = render_checks(run_checks(CHECKS, {}), Style(False))
    assert text == (
        "Kubernetes\n----------\n√ API reachable\n\n"
        "kube-proxy\n----------\n× strict ARP on\n    strictARP is false\n    see kubectl metallb strict-arp --enable\n\n"
        "Nodes\n-----\n‼ no excluded nodes\n    node-1 is excluded\n      node-1\n"
        "    see https://metallb.io/troubleshooting/\n"
        "- Linux nodes present\n    cannot list nodes: forbidden\n\n"
        "Status check results are ×\n"
    )


def test_colour_only_when_enabled():
    outcomes = run_checks(CHECKS[:1], {})
    assert "\033[" not in render_checks(outcomes, Style(False))
    assert "\033[32m√\033[0m API reachable" in render_checks(outcomes, Style(True))
