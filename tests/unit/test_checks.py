import json

from metallb_plugin.core.checks import (
    CATEGORIES,
    FAIL,
    OK,
    SKIP,
    WARN,
    Check,
    Result,
    Skip,
    check_ids,
    evaluate,
    register,
    succeeded,
    to_document,
)
from metallb_plugin.core.snapshot import Snapshot, Unreadable
from metallb_plugin.output import Style, render_checks


def _skip(facts):
    raise Skip("no Linux nodes to look at")


register("test-kubernetes", "Kubernetes", [Check("api", "test-kubernetes", "API reachable", lambda f: Result(OK))])
register(
    "test-kube-proxy",
    "kube-proxy",
    [
        Check(
            "arp",
            "test-kube-proxy",
            "strict ARP on",
            lambda f: Result(FAIL, "strictARP is false"),
            hint="kubectl metallb strict-arp --enable",
        )
    ],
)
register(
    "test-nodes",
    "Nodes",
    [
        Check(
            "excl",
            "test-nodes",
            "no excluded nodes",
            lambda f: Result(FAIL, "node-1 is excluded", ("node-1",)),
            severity="warning",
            hint="https://metallb.io/troubleshooting/",
        ),
        Check("nodes", "test-nodes", "Linux nodes present", _skip),
    ],
)
ALL = ["test-kubernetes", "test-kube-proxy", "test-nodes"]


def test_severity_skip_and_verdict():
    outcomes = evaluate(Snapshot(), ALL)
    assert [o.result.status for o in outcomes] == [OK, FAIL, WARN, SKIP]
    assert outcomes[3].result.message == "no Linux nodes to look at"
    assert not succeeded(outcomes)
    assert succeeded(evaluate(Snapshot(), ["test-kubernetes", "test-nodes"]))  # warnings and skips do not fail


def test_an_unreadable_need_skips_the_check_with_its_reason():
    ran = []
    register(
        "test-needs",
        "Needs",
        [Check("n", "test-needs", "nodes are Linux", lambda f: ran.append(1) or Result(OK), needs=("nodes", "pods"))],
    )
    snapshot = Snapshot(objects={"nodes": [], "pods": Unreadable("no permission to list Pods in kube-system")})
    (outcome,) = evaluate(snapshot, ["test-needs"])
    assert (outcome.result.status, outcome.result.message) == (SKIP, "no permission to list Pods in kube-system")
    assert ran == []  # never run, never passed


def test_a_fatal_failure_stops_the_evaluation():
    register(
        "test-fatal",
        "Fatal",
        [
            Check("reach", "test-fatal", "API reachable", lambda f: Result(FAIL, "connection refused"), fatal=True),
            Check("after", "test-fatal", "anything else", lambda f: Result(OK)),
        ],
    )
    outcomes = evaluate(Snapshot(), ["test-fatal", "test-kubernetes"])
    assert [o.check.id for o in outcomes] == ["reach"]


def test_skip_when_and_text_from_the_subject():
    register(
        "test-subject",
        "Subject",
        [
            Check(
                "a",
                "test-subject",
                lambda s: f"namespace {s.namespace} is fine",
                lambda f: Result(FAIL, "no"),
                hint=lambda s: f"kubectl get ns {s.namespace}",
            ),
            Check("b", "test-subject", "only with addresses", lambda f: Result(OK), when=lambda s: False),
            Check("c", "test-subject", "skipped by the user", lambda f: Result(FAIL)),
        ],
    )
    outcomes = evaluate(Snapshot(namespace="lb"), ["test-subject"], skip=["c"])
    assert [(o.check.id, o.result.status) for o in outcomes] == [("a", FAIL), ("c", SKIP)]
    assert outcomes[0].check.description == "namespace lb is fine" and outcomes[0].check.hint == "kubectl get ns lb"
    assert outcomes[1].result.message == "skipped (--skip-check)"
    assert check_ids(["test-subject"]) == ["a", "b", "c"]
    assert list(CATEGORIES).index("test-kubernetes") < list(CATEGORIES).index("test-nodes")  # registration order


def test_document_shape():
    doc = to_document(evaluate(Snapshot(), ALL))
    json.dumps(doc)
    assert doc["success"] is False
    assert [(c["id"], c["name"]) for c in doc["categories"]] == [
        ("test-kubernetes", "Kubernetes"),
        ("test-kube-proxy", "kube-proxy"),
        ("test-nodes", "Nodes"),
    ]
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
    text = render_checks(evaluate(Snapshot(), ALL), Style(False))
    assert text == (
        "Kubernetes\n----------\n√ API reachable\n\n"
        "kube-proxy\n----------\n× strict ARP on\n    strictARP is false\n    see kubectl metallb strict-arp --enable\n\n"
        "Nodes\n-----\n‼ no excluded nodes\n    node-1 is excluded\n      node-1\n"
        "    see https://metallb.io/troubleshooting/\n"
        "- Linux nodes present\n    no Linux nodes to look at\n\n"
        "Status check results are ×\n"
    )


def test_colour_only_when_enabled():
    outcomes = evaluate(Snapshot(), ["test-kubernetes"])
    assert "\033[" not in render_checks(outcomes, Style(False))
    assert "\033[32m√\033[0m API reachable" in render_checks(outcomes, Style(True))
