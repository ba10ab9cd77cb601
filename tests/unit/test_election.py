"""The L2 and BGP election as MetalLB's speakers decide it, per release, and the drain simulation."""

import hashlib

import pytest

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import announcing, election, endpoints, releases, status
from metallb_plugin.core.view import View, locate
from unit.test_status import daemonset, endpoint_slice, healthy, l2, node, pod, service

EXCLUDE = election.EXCLUDE_LABEL
IP = "192.168.10.1"


def cluster(nodes=("n1", "n2", "n3"), version="v0.16.1", speaker_args=(), ready=None, memberlist="memberlist", **extra):
    """healthy() with these nodes, a ready speaker on each (or on `ready`), the Service web on every node."""
    facts = healthy(version=version)
    facts.objects["nodes"] = [n if isinstance(n, dict) else node(n) for n in nodes]
    names = [n["metadata"]["name"] if isinstance(n, dict) else n for n in nodes]
    facts.objects["daemonsets"] = [daemonset(version=version, args=speaker_args, memberlist=memberlist)]
    facts.objects["pods"] = [pod(f"speaker-{n}", n) for n in (names if ready is None else ready)]
    facts.objects["endpointslices"] = [endpoint_slice("web", names)]
    facts.objects.update(extra)
    return View(locate(facts))


def web(view):
    return next(s for s in view.services if s["metadata"]["name"] == "web")


def elect(view, protocol=adv.L2, drained=(), svc=None):
    return election.elect(view, svc or web(view), "prod", protocol, drained)


def by_hash(nodes, ip=IP):
    return sorted(nodes, key=lambda n: hashlib.sha256(f"{n}#{ip}".encode()).digest())


def test_candidates_ranked_by_sha256_of_node_and_first_address():
    result = elect(cluster())
    assert result.ranked == by_hash(["n1", "n2", "n3"]) and result.winner == result.ranked[0]
    assert election.rank(["node-a", "node-b"], "198.51.100.240") == by_hash(["node-a", "node-b"], "198.51.100.240")
    assert result.announcers == [result.winner] and result.blocked == ""
    assert all(reasons == [] for reasons in result.verdicts.values())


def test_the_address_is_hashed_as_go_writes_it():
    assert election.hash_address("2001:0db8:0000:0000:0000:0000:0000:0001") == "2001:db8::1"
    assert election.hash_address("::ffff:198.51.100.7") == "198.51.100.7"
    assert election.hash_address("198.51.100.7") == "198.51.100.7"


def test_nodes_excluded_and_why():
    nodes = [
        node("n1", labels={EXCLUDE: ""}),
        node("n2", conditions=[{"type": "NetworkUnavailable", "status": "True"}]),
        node("n3"),
        node("n4"),
    ]
    result = elect(cluster(nodes, ready=["n1", "n2", "n3"]))
    assert result.ranked == ["n3"] and result.winner == "n3"
    assert result.verdicts == {
        "n1": [f"labelled {EXCLUDE} (the speaker's --ignore-exclude-lb is off)"],
        "n2": ["NetworkUnavailable"],
        "n3": [],
        "n4": ["no ready speaker"],
    }


def test_ignore_exclude_lb_and_releases_before_it():
    nodes = [node("n1", labels={EXCLUDE: ""}), node("n2")]
    assert elect(cluster(nodes, speaker_args=["--ignore-exclude-lb"])).ranked == by_hash(["n1", "n2"])
    # v0.14.0-v0.14.3: the label counts, the flag does not exist yet
    assert elect(cluster(nodes, version="v0.14.3", speaker_args=["--ignore-exclude-lb"])).ranked == ["n2"]
    # v0.13.x: no exclusion label at all
    assert elect(cluster(nodes, version="v0.13.12")).ranked == by_hash(["n1", "n2"])


def test_cordoned_nodes_only_in_v0_14_9():
    cordoned = node("n1")
    cordoned["spec"]["unschedulable"] = True
    nodes = [cordoned, node("n2")]
    assert elect(cluster(nodes, version="v0.14.9")).verdicts["n1"] == [election.CORDONED]
    assert elect(cluster(nodes, version="v0.15.0")).ranked == by_hash(["n1", "n2"])
    assert elect(cluster(nodes, version="v0.14.8")).ranked == by_hash(["n1", "n2"])


def test_node_selectors_and_service_selectors_by_release():
    view = cluster(l2advertisements=[l2(nodeSelectors=[{"matchLabels": {"kubernetes.io/hostname": "n2"}}])])
    assert elect(view).ranked == []  # the test nodes carry no hostname label
    labelled = cluster(
        [node("n1"), node("n2", labels={"edge": "true"})],
        l2advertisements=[l2(nodeSelectors=[{"matchLabels": {"edge": "true"}}])],
    )
    result = elect(labelled)
    assert result.ranked == ["n2"] and result.verdicts["n1"] == [election.NOT_SELECTED]
    picky = [l2(serviceSelectors=[{"matchLabels": {"tier": "gold"}}])]
    assert (
        elect(cluster(l2advertisements=picky)).blocked == "no L2Advertisement covers pool prod and selects this Service"
    )
    assert elect(cluster(version="v0.15.3", l2advertisements=picky)).ranked == by_hash(["n1", "n2", "n3"])


def test_local_traffic_policy_counts_nodes_with_an_endpoint():
    view = cluster(endpointslices=[endpoint_slice("web", ["n2"])])
    local = service("web", ip=IP, pool="prod", externalTrafficPolicy="Local")
    result = elect(view, svc=local)
    assert result.ranked == ["n2"] and result.verdicts["n1"] == [election.NO_LOCAL_ENDPOINT]
    assert elect(view).ranked == by_hash(["n1", "n2", "n3"])  # Cluster: every node


@pytest.mark.parametrize(
    "version, conditions, counts",
    [
        ("v0.16.1", {"ready": False, "serving": True}, True),  # terminating but serving
        ("v0.16.1", {"ready": False}, False),
        ("v0.16.1", {}, True),
        ("v0.14.4", {"ready": True, "serving": False}, False),  # serving decides when set
        ("v0.14.4", {"ready": False}, False),
        ("v0.13.12", {"ready": False, "serving": True}, False),  # only ready
        ("v0.13.12", {}, True),
    ],
)
def test_which_endpoints_count_per_release(version, conditions, counts):
    (endpoint,) = endpoints.reduce({"endpoints": [{"addresses": ["10.244.0.5"], "conditions": conditions}]}).endpoints
    assert election.endpoint_can_serve(endpoint, releases.parse_version(version)) is counts


def test_no_endpoint_that_can_serve_means_no_announcement():
    result = elect(cluster(endpointslices=[endpoint_slice("web", ["n1"], ready=False)]))
    assert result.ranked and result.announcers == [] and result.blocked == "none of its endpoints can serve"


def test_memberlist_disabled_by_release():
    assert elect(cluster(memberlist=None, ready=["n1"])).ranked == by_hash(["n1", "n2", "n3"])
    old = elect(cluster(memberlist=None, ready=["n1"], version="v0.14.9"))
    assert old.ranked == [] and "this release then counts no speaker at all" in old.caveats[0]


def test_speaker_pods_not_visible_are_assumed_everywhere():
    view = cluster(ready=[])
    view.pods = []
    result = elect(view)
    assert result.ranked == by_hash(["n1", "n2", "n3"]) and result.caveats


def test_terminating_speaker_is_not_active():
    view = cluster()
    view.pods[0]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert elect(view).verdicts["n1"] == ["no ready speaker"]


def test_bgp_every_candidate_announces():
    result = elect(cluster(bgpadvertisements=[{"kind": "BGPAdvertisement", "metadata": {"name": "b", "namespace":
                   "metallb-system"}, "spec": {}}]), protocol=adv.BGP)  # fmt: skip
    assert sorted(result.announcers) == ["n1", "n2", "n3"] and result.winner is None


def test_drain_moves_the_winner_and_loses_services_without_candidates():
    view = cluster()
    winner = elect(view).winner
    after = elect(view, drained=[winner])
    assert after.winner == by_hash(["n1", "n2", "n3"])[1]
    assert after.verdicts[winner] == [election.DRAINED]
    assert elect(view, drained=["n1", "n2", "n3"]).announcers == []


def test_a_drain_reusing_the_order_before_it_elects_as_one_from_scratch():
    view = cluster([node("n1"), node("n2"), node("n3"), node("n4")])
    before = elect(view)
    for drained in (
        [before.winner],
        [n for n in ("n1", "n2", "n3", "n4") if n != before.winner],
        ["n1", "n2", "n3", "n4"],
    ):
        reused = election.elect(view, web(view), "prod", adv.L2, drained, before=before)
        fresh = elect(view, drained=drained)
        assert (reused.ranked, reused.announcers, reused.blocked) == (fresh.ranked, fresh.announcers, fresh.blocked)
        assert reused.verdicts == fresh.verdicts and all(reused.verdicts[n] == [election.DRAINED] for n in drained)


def test_bgp_candidates_are_listed_by_name():
    ads = [{"kind": "BGPAdvertisement", "metadata": {"name": "b", "namespace": "metallb-system"}, "spec": {}}]
    assert elect(cluster(["n3", "n1", "n2"], bgpadvertisements=ads), protocol=adv.BGP).ranked == ["n1", "n2", "n3"]


def test_drain_table():
    view = cluster()
    report = status.evaluate(view.facts, drained=["n1", "n2", "n3"])
    moved = report.moves
    assert len(moved) == 1 and moved[0].service == "apps/web"
    assert moved[0].now == moved[0].observed == ("n1",)  # the ServiceL2Status says n1
    assert list(moved[0].predicted) == by_hash(["n1", "n2", "n3"])[:1]
    assert moved[0].after == () and moved[0].change == "loses its announcement"
    assert report.to_document()["drain"]["services"][0]["change"] == "loses its announcement"
    other = next(n for n in ("n2", "n3") if n != elect(view).winner)
    kept = status.evaluate(view.facts, drained=[other]).moves[0]
    assert list(kept.after) == by_hash([n for n in ("n1", "n2", "n3") if n != other])[:1]
    assert kept.change == ("stays" if kept.after == ("n1",) else "moves")


def test_the_drain_keeps_one_copy_of_the_nodes_bgp_services_share():
    """In BGP every candidate announces: in a large cluster thousands of nodes for each Service, often the same."""
    ads = [{"kind": "BGPAdvertisement", "metadata": {"name": "b", "namespace": "metallb-system"}, "spec": {}}]
    facts = cluster(bgpadvertisements=ads).facts
    facts.objects["services"].append(service("api", ip="192.168.10.2", pool="prod"))
    facts.objects["endpointslices"].append(endpoint_slice("api", ["n1", "n2", "n3"]))
    moves = {m.service: m for m in status.evaluate(facts, drained=["n1"]).moves if m.protocol == adv.BGP}
    web, api = moves["apps/web"], moves["apps/api"]
    assert web.predicted == ("n1", "n2", "n3") and web.predicted is api.predicted
    assert web.after == ("n2", "n3") and web.after is api.after and web.change == "moves"


def test_lines_mark_the_winner_in_order():
    result = elect(cluster([node("n1", labels={EXCLUDE: ""}), node("n2"), node("n3")]))
    shown = announcing.lines(result)
    assert shown[0] == f"√ {result.ranked[0]} (1st in MetalLB's layer2 order: announces)"
    assert shown[1] == f"√ {result.ranked[1]} (2nd in MetalLB's layer2 order)"
    assert shown[2] == f"× n1: labelled {EXCLUDE} (the speaker's --ignore-exclude-lb is off)"
