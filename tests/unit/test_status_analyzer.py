"""status with the analyzer and the election: the Configuration section's analysis, deprecated fields, fixes that
help, and --simulate-drain (in process)."""

import json

from metallb_plugin.core import election, explain
from metallb_plugin.core.checks import FAIL, OK, WARN
from metallb_plugin.core.view import View, locate
from unit.inprocess import FakeCluster, run_cli
from unit.test_status import (
    daemonset,
    deployment,
    endpoint_slice_object,
    evaluate,
    event,
    healthy,
    l2,
    l2_status,
    node,
    pod,
    pool,
    result,
    service,
)

EDGE = [{"matchLabels": {"edge": "true"}}]


def test_configuration_shows_the_analyzers_errors_and_warnings():
    facts = healthy()
    facts.objects["l2advertisements"].append(l2("edge", nodeSelectors=EDGE))
    check = result(evaluate(facts), "config.analyzer")
    assert check.status == FAIL and check.message == "the analyzer finds 1 error"
    assert check.details == (
        "MLB0302 L2Advertisement edge: its nodeSelectors (edge=true) select none of the 2 nodes, so it announces nothing",
    )
    facts = healthy()
    facts.objects["nodes"][0]["status"]["addresses"] = [{"type": "InternalIP", "address": "192.168.10.3"}]
    check = result(evaluate(facts), "config.analyzer")
    assert check.status == WARN and check.message == "the analyzer finds 1 warning" and "MLB0405" in check.details[0]


def test_what_other_checks_report_is_not_repeated():
    facts = healthy()
    facts.objects["l2advertisements"] = [l2(ipAddressPools=["prod"])]
    facts.objects["ipaddresspools"].append(pool("dark", ["10.9.0.0/24"]))  # MLB0301: config.announced-pools says it
    report = evaluate(facts)
    assert result(report, "config.announced-pools").status == WARN
    assert result(report, "config.analyzer").status == OK
    assert result(report, "config.analyzer").message == "the analyzer finds no problem"


def test_load_balancer_ip_is_flagged_as_deprecated():
    facts = healthy()
    facts.objects["services"].append(service("pinned", loadBalancerIP="192.168.10.5"))
    check = result(evaluate(facts), "services.annotations")
    assert check.status == WARN
    assert check.message == "deprecated: 1 Service spec.loadBalancerIP (use metallb.io/loadBalancerIPs)"
    assert check.details == ("apps/pinned: spec.loadBalancerIP",)
    row = next(s for s in evaluate(facts).to_document()["services"] if s["name"] == "pinned")
    assert row["deprecatedFields"] == ["spec.loadBalancerIP"]


def _explain(facts, namespace, name):
    view = View(locate(facts))
    found = next(s for s in view.services if (s["metadata"]["namespace"], s["metadata"]["name"]) == (namespace, name))
    return explain.explain(view, found)


def test_a_clusterip_system_service_is_never_turned_into_a_load_balancer():
    facts = healthy()
    dns = service("kube-dns", ns="kube-system", type="ClusterIP")
    api = service("kubernetes", ns="default", type="ClusterIP")
    mine = service("shop", type="ClusterIP")
    facts.objects["services"] += [dns, api, mine]
    for namespace, name in (("kube-system", "kube-dns"), ("default", "kubernetes"), ("metallb-system",
                            "metallb-webhook-service")):  # fmt: skip
        explained = _explain(facts, namespace, name)
        assert "system Service" in explained.cause and "patch" not in explained.fix, name
        assert explained.fix.startswith("to reach its Pods from outside, create a Service of your own")
    assert _explain(facts, "apps", "shop").fix.startswith("kubectl -n apps patch service shop")


def test_service_explanation_ends_with_the_analyzers_finding():
    facts = healthy()
    facts.objects["services"][0]["spec"]["loadBalancerIP"] = "192.168.10.1"
    explained = _explain(facts, "apps", "web")
    assert explained.ok  # a warning does not make the Service fail
    assert explained.steps[-1].title == "configuration analysis: 1 finding about it (kubectl metallb analyze)"
    assert explained.steps[-1].status == WARN and explained.steps[-1].lines[0].startswith("MLB0605 Service apps/web")


def test_an_interface_the_elected_node_lacks():
    """The speaker records announceFailed and then nodeAssigned, but writes no ServiceL2Status: not announced."""
    facts = healthy()
    facts.objects["servicel2statuses"] = []
    facts.objects["l2advertisements"] = [l2(interfaces=["eth9"])]
    message = (
        'the interfaces specified by LB IP "192.168.10.1" doesn\'t exist in assigned node "n1" with protocol "layer2"'
    )
    facts.objects["serviceEvents"] += [
        event("Service", "apps", "web", "announceFailed", message, "Warning", minutes_ago=1),
        event(
            "Service", "apps", "web", "nodeAssigned", 'announcing from node "n1" with protocol "layer2"', minutes_ago=1
        ),
    ]
    explained = _explain(facts, "apps", "web")
    assert not explained.ok and explained.announced_by == []
    assert explained.cause == (
        "MLB0304 Service apps/web is not announced: node n1 has none of the interfaces its L2Advertisements name "
        "(eth9; MetalLB's announceFailed event)"
    )
    facts.objects["servicel2statuses"] = [l2_status("web", "n1")]  # fixed since: the speaker announces
    assert _explain(facts, "apps", "web").ok


# --------------------------------------------------------------------------------------------- commands


def cluster():
    """MetalLB v0.16.1 serving apps/web from pool prod in layer 2, a ready speaker on n1 and n2, endpoints on both."""
    objects = [
        {"kind": "Namespace", "metadata": {"name": "metallb-system"}},
        deployment(),
        daemonset(),
        pod("speaker-1", "n1"),
        pod("speaker-2", "n2"),
        node("n1"),
        node("n2"),
        pool(),
        l2(),
        service("web", ip="192.168.10.1", pool="prod", ports=[{"port": 80}]),
        {"kind": "EndpointSlice", **endpoint_slice_object("web", ["n1", "n2"])},
    ]
    return FakeCluster(objects)


def test_simulate_drain_of_an_unknown_node_is_bad_input():
    found = run_cli("status", "--simulate-drain", "n9", cluster=cluster())
    assert found.code == 2 and found.stderr == "error: --simulate-drain n9: no such node (nodes: n1, n2)\n"


def test_simulate_drain_for_one_service_and_the_overview():
    fake = cluster()
    winner, other = election.rank(["n1", "n2"], "192.168.10.1")
    one = run_cli("status", "--service", "apps/web", "--simulate-drain", winner, "-o", "json", cluster=fake)
    document = json.loads(one.stdout)
    assert document["election"][0]["candidates"] == [winner, other]
    assert document["election"][0]["announcers"] == [winner]
    assert document["afterDrain"][0]["announcers"] == [other]
    assert document["afterDrain"][0]["excluded"] == {winner: ["drained (--simulate-drain)"]}
    text = run_cli("status", "--service", "apps/web", "--simulate-drain", winner, cluster=fake).stdout
    assert (
        f"      √ {winner} (1st in MetalLB's layer2 order: announces)\n      √ {other} (2nd in MetalLB's layer2 order)"
        in text
    )
    assert f"- after draining {winner}: {other} would announce it" in text
    overview = json.loads(run_cli("status", "--simulate-drain", "n1", "--simulate-drain", "n2", "-o", "json",
                                  cluster=fake).stdout)  # fmt: skip
    assert overview["drain"]["nodes"] == ["n1", "n2"]
    assert overview["drain"]["services"] == [
        {
            "service": "apps/web",
            "ips": ["192.168.10.1"],
            "protocol": "layer2",
            "announcedBy": [],
            "predictedNow": [winner],
            "after": [],
            "change": "loses its announcement",
            "reason": "none of its endpoints can serve once those nodes are gone",
        }
    ]
    text = run_cli("status", "--simulate-drain", "n1", "--simulate-drain", "n2", cluster=fake).stdout
    assert "If n1, n2 were gone (--simulate-drain)" in text and "1 Service would lose its announcement" in text


def test_the_drain_table_counts_the_nodes_of_a_service_announced_by_many():
    names = [f"n{i}" for i in range(1, 7)]
    objects = [o for o in cluster().store.values() if o["kind"] not in ("Node", "Pod", "L2Advertisement")]
    objects += [node(n) for n in names] + [pod(f"speaker-{n}", n) for n in names]
    objects += [{"kind": "BGPAdvertisement", "apiVersion": "metallb.io/v1beta1",
                 "metadata": {"name": "bgp", "namespace": "metallb-system"}, "spec": {"ipAddressPools": ["prod"]}}]  # fmt: skip
    fake = FakeCluster(objects)
    text = run_cli("status", "--simulate-drain", "n1", cluster=fake).stdout
    row = next(line for line in text.splitlines() if line.startswith("apps/web"))
    assert " ".join(row.split()[2:]) == "bgp n1, n2 and 4 more* the same except n1 moves", row
    document = json.loads(run_cli("status", "--simulate-drain", "n1", "-o", "json", cluster=fake).stdout)
    assert document["drain"]["services"][0]["after"] == names[1:]  # the document names every node


def test_a_winner_other_than_predicted_is_noted_under_the_announcer():
    facts = healthy()
    facts.objects["pods"] = [pod("speaker-1", "n1"), pod("speaker-2", "n2")]
    winner, other = election.rank(["n1", "n2"], "192.168.10.1")
    facts.objects["servicel2statuses"][0]["status"]["node"] = other
    explained = _explain(facts, "apps", "web")
    step = next(s for s in explained.steps if s.title.startswith("announced by"))
    assert step.lines[-1].startswith(f"MetalLB's order predicts {winner}: the speakers' memberlist may not see")
    facts.objects["servicel2statuses"][0]["status"]["node"] = winner
    step = next(s for s in _explain(facts, "apps", "web").steps if s.title.startswith("announced by"))
    assert step.lines == ["from ServiceL2Status"]
