"""The BGP view of `kubectl metallb status` (core/bgp.py, core/status/bgp.py) over fixture objects shaped as
frr-k8s (BGPSessionState, FRRNodeState) and MetalLB (BGPPeer, ServiceBGPStatus) write them."""

import json

from metallb_plugin import errors
from metallb_plugin.core import bgp, status
from metallb_plugin.core.checks import FAIL, OK, SKIP, WARN
from metallb_plugin.core.snapshot import Unreadable
from metallb_plugin.core.view import locate
from unit.inprocess import FakeCluster, run_cli
from unit.test_status import NS, bgp_adv, daemonset, deployment, healthy, l2_status, node, pod, result

ROUTER = "198.51.100.2"


def peer(name="tor", address=ROUTER, **spec):
    return {
        "kind": "BGPPeer",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": address, **spec},
    }


def session_state(node, peer_label=ROUTER, bgp_status="Established", bfd="N/A", vrf=""):
    """A BGPSessionState as frr-k8s' status controller writes it (generateName <node>-, three labels)."""
    return {
        "apiVersion": "frrk8s.metallb.io/v1beta1",
        "kind": "BGPSessionState",
        "metadata": {
            "name": f"{node}-x7k2p",
            "generateName": f"{node}-",
            "namespace": NS,
            "labels": {
                "frrk8s.metallb.io/node": node,
                "frrk8s.metallb.io/peer": peer_label,
                "frrk8s.metallb.io/vrf": vrf,
            },
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": f"frr-k8s-daemon-{node}"}],
        },
        "spec": {},
        "status": {"node": node, "peer": peer_label, "vrf": vrf, "bgpStatus": bgp_status, "bfdStatus": bfd},
    }


def node_state(node, conversion="success", reload="success"):
    return {
        "kind": "FRRNodeState",
        "metadata": {"name": node},
        "status": {"lastConversionResult": conversion, "lastReloadResult": reload, "runningConfig": "frr version"},
    }


def bgp_status(svc_name, node_name, peers=("tor",), ns="apps"):
    return {
        "kind": "ServiceBGPStatus",
        "metadata": {
            "name": f"bgp-{svc_name}-{node_name}",
            "namespace": NS,
            "labels": {"metallb.io/node": node_name, "metallb.io/service-name": svc_name},
        },
        "status": {"node": node_name, "serviceName": svc_name, "serviceNamespace": ns, "peers": list(peers)},
    }


def bgp_cluster(backend="frr-k8s", peers=None, states=(), nodes=(), services=()):
    """healthy(), announcing over BGP instead of L2: one pool, a BGPAdvertisement, BGPPeers."""
    facts = healthy()
    objects = facts.objects
    objects["l2advertisements"] = []
    objects["servicel2statuses"] = []
    objects["bgpadvertisements"] = [bgp_adv()]
    objects["bgppeers"] = [peer()] if peers is None else list(peers)
    objects["servicebgpstatuses"] = list(services)
    objects["bgpsessionstates"] = list(states)
    objects["frrnodestates"] = list(nodes)
    if backend == "frr-k8s":
        objects["daemonsets"] = [
            daemonset(env={"METALLB_BGP_TYPE": "frr-k8s"}),
            daemonset(
                "frr-k8s-daemon", labels={"app.kubernetes.io/name": "frr-k8s", "app.kubernetes.io/component": "frr-k8s"}
            ),
        ]
    return facts


def report_of(facts):
    return status.evaluate(locate(facts))


def ids(report):
    return [o.check.id for o in report.outcomes if o.check.category == "bgp"]


# --------------------------------------------------------------------------------------------- FRR-K8s


def test_every_session_established():
    report = report_of(
        bgp_cluster(states=[session_state("n1"), session_state("n2")], nodes=[node_state("n1"), node_state("n2")])
    )
    assert ids(report) == ["bgp.sessions", "bgp.frr", "bgp.services"]
    sessions = result(report, "bgp.sessions")
    assert sessions.status == OK
    assert sessions.message == "2 BGP sessions established (from BGPSessionState)"
    assert sessions.details == (f"n1: tor ({ROUTER})", f"n2: tor ({ROUTER})")
    assert result(report, "bgp.frr").message == "FRR runs its configuration on 2 nodes (conversion and reload: success)"
    doc = report.to_document()["bgp"]
    assert doc["backend"] == "frr-k8s" and doc["sessionSource"] == "BGPSessionState"
    assert [(s["node"], s["peer"], s["bgpPeers"], s["state"], s["bfd"]) for s in doc["sessions"]] == [
        ("n1", ROUTER, ["tor"], "Established", "N/A"),
        ("n2", ROUTER, ["tor"], "Established", "N/A"),
    ]


def test_a_session_down_fails_status():
    report = report_of(bgp_cluster(states=[session_state("n1"), session_state("n2", bgp_status="Active")]))
    sessions = result(report, "bgp.sessions")
    assert sessions.status == FAIL and not report.healthy
    assert sessions.message == "1 of 2 BGP sessions down (from BGPSessionState)"
    assert sessions.details == (f"n2 -> {ROUTER} (tor): Active",)
    assert "bgp.sessions" in [p["id"] for p in report.to_document()["problems"]]


def test_bfd_down_fails_even_with_bgp_established():
    states = [session_state("n1", bfd="up"), session_state("n2", bfd="down")]
    sessions = result(report_of(bgp_cluster(peers=[peer(bfdProfile="fast")], states=states)), "bgp.sessions")
    assert sessions.status == FAIL and sessions.message == "BFD down on 1 of 2 BGP sessions (from BGPSessionState)"
    assert sessions.details == (f"n2 -> {ROUTER} (tor): Established, BFD down",)
    states = [session_state("n1", bgp_status="Active", bfd="down"), session_state("n2", bfd="down")]
    sessions = result(report_of(bgp_cluster(peers=[peer(bfdProfile="fast")], states=states)), "bgp.sessions")
    assert sessions.message == "1 of 2 BGP sessions down, BFD down on 1 (from BGPSessionState)"


def test_no_state_for_a_session_is_a_warning():
    sessions = result(report_of(bgp_cluster(states=[session_state("n1")])), "bgp.sessions")
    assert sessions.status == WARN and sessions.message == "no state for 1 session"
    assert sessions.details == (
        f"n2 -> {ROUTER} (tor): unknown (no BGPSessionState for it (frr-k8s writes one per neighbor FRR has))",
    )


def test_ipv6_peers_vrfs_and_node_selectors_match_as_frr_k8s_names_them():
    v6 = peer("v6", "2001:db8::1", nodeSelectors=[{"matchLabels": {"kubernetes.io/hostname": "n1"}}])
    red = peer("red", "192.0.2.1", vrf="red")
    states = [
        session_state("n1", "2001-0db8-0000-0000-0000-0000-0000-0001"),
        session_state("n1", "192.0.2.1", vrf="red"),
        session_state("n2", "192.0.2.1", bgp_status="Idle"),  # the default VRF: not the red peer's session
        session_state("n2", "192.0.2.1", vrf="red"),
    ]
    facts = bgp_cluster(peers=[v6, red], states=states)
    facts.objects["nodes"][0]["metadata"]["labels"]["kubernetes.io/hostname"] = "n1"
    report = report_of(facts)
    summary = report.bgp
    assert [(s.node, s.peer, s.vrf, s.peers, s.state) for s in summary.sessions] == [
        ("n1", "2001-0db8-0000-0000-0000-0000-0000-0001", "", ["v6"], "Established"),
        ("n1", "192.0.2.1", "red", ["red"], "Established"),
        ("n2", "192.0.2.1", "", [], "Idle"),
        ("n2", "192.0.2.1", "red", ["red"], "Established"),
    ]
    sessions = result(report, "bgp.sessions")
    assert sessions.status == WARN  # only a session of another FRRConfiguration is down
    assert sessions.message == "1 session(s) of other FRR configurations down"
    assert sessions.details == ("n2 -> 192.0.2.1 (not a MetalLB BGPPeer): Idle",)


def test_peer_label_is_frr_k8s_format():
    assert bgp.peer_label("198.51.100.2") == "198.51.100.2"
    assert bgp.peer_label("2001:db8::1") == "2001-0db8-0000-0000-0000-0000-0000-0001"
    assert bgp.peer_label("eth0") == "eth0"


def test_frr_reload_and_conversion_errors():
    nodes = [
        node_state("n1"),
        node_state("n2", conversion="failed to render: neighbor 198.51.100.2 password <retracted>", reload=""),
    ]
    check = result(report_of(bgp_cluster(states=[session_state("n1"), session_state("n2")], nodes=nodes)), "bgp.frr")
    assert check.status == FAIL and check.message == "FRR did not take its configuration on 1 node"
    assert check.details == (
        "n2: configuration not converted: failed to render: neighbor 198.51.100.2 password <retracted>",
        "n2: FRR reload failed: (no result yet)",
    )


def test_services_over_bgp():
    services = [bgp_status("web", "n1"), bgp_status("web", "n2")]
    good = report_of(
        bgp_cluster(states=[session_state("n1"), session_state("n2", bgp_status="Connect")], services=services)
    )
    check = result(good, "bgp.services")
    assert check.status == OK and check.message == "1 Service advertised over BGP"
    assert check.details == ("apps/web: n1 -> tor, n2 -> tor",)
    assert good.services[0].to_dict()["announcedBy"] == [
        {"node": "n1", "protocol": "bgp", "source": "ServiceBGPStatus"},
        {"node": "n2", "protocol": "bgp", "source": "ServiceBGPStatus"},
    ]
    stranded = report_of(
        bgp_cluster(
            states=[session_state("n1", bgp_status="Active"), session_state("n2", bgp_status="Connect")],
            services=services,
        )
    )
    check = result(stranded, "bgp.services")
    assert check.status == FAIL
    assert check.message == "1 Service advertised over BGP with every session down"
    assert check.details == ("apps/web: n1 -> tor, n2 -> tor (no session that carries it is up)",)


# --------------------------------------------------------------------------------------------- native


def speaker_log(*entries):
    lines = ["W1130 12:00:00.000000 1 client_config.go:667] a klog line, not JSON"]
    for ts, msg, extra in entries:
        lines.append(
            json.dumps(
                {
                    "caller": "native.go:123",
                    "level": "info",
                    "localASN": 64512,
                    "msg": msg,
                    "peer": ROUTER,
                    "peerASN": 64500,
                    "ts": ts,
                    **extra,
                }
            )
        )
    return "\n".join(lines) + "\n"


def test_native_mode_without_logs_says_where_to_look():
    report = report_of(bgp_cluster(backend="native", services=[bgp_status("web", "n1")]))
    sessions = result(report, "bgp.sessions")
    assert sessions.status == SKIP and report.healthy
    assert sessions.message.startswith("session state unknown: MetalLB's native BGP publishes no session state")
    hint = next(o.check.hint for o in report.outcomes if o.check.id == "bgp.sessions")
    assert "kubectl metallb status --bgp" in hint and "metallb_bgp_session_up" in hint
    assert ids(report) == ["bgp.sessions", "bgp.services"]  # no FRRNodeState without frr-k8s


def test_native_speaker_log_parsing_keeps_the_latest_event_per_peer():
    text = speaker_log(
        ("2026-11-30T12:00:01Z", "BGP session established", {"event": "sessionUp"}),
        ("2026-11-30T12:00:09Z", "BGP session down", {"event": "sessionDown"}),
        ("2026-11-30T12:00:10Z", "failed to connect to peer", {"op": "connect", "error": "dial tcp: i/o timeout"}),
    )
    assert bgp.parse_speaker_log(text) == {
        ROUTER: bgp.LogEvent("Connect", "2026-11-30T12:00:10Z", "dial tcp: i/o timeout")
    }
    assert bgp.parse_speaker_log("{not json\n[]\n") == {}


def test_native_mode_with_speaker_logs():
    up = bgp.parse_speaker_log(speaker_log(("2026-11-30T12:00:01Z", "BGP session established", {})))
    down = bgp.parse_speaker_log(speaker_log(("2026-11-30T12:00:02Z", "failed to connect to peer", {"error": "EOF"})))
    up["198.51.100.99"] = bgp.LogEvent("Idle", "2026-11-30T11:00:00Z", "peer deconfigured, closing BGP session")
    facts = bgp_cluster(backend="native")
    facts.objects[bgp.SPEAKER_LOGS] = [
        {"node": "n1", "pod": "speaker-a", "events": up},
        {"node": "n2", "pod": "speaker-b", "events": down},
    ]
    report = report_of(facts)
    sessions = result(report, "bgp.sessions")
    assert sessions.status == FAIL and sessions.message == "1 of 2 BGP sessions down (from speaker log)"
    assert sessions.details == (f"n2 -> {ROUTER} (tor): Connect (2026-11-30T12:00:02Z: EOF)",)
    assert [s.peer for s in report.bgp.sessions] == [ROUTER, ROUTER]  # not the peer configured before
    facts.objects[bgp.SPEAKER_LOGS] = [
        {"node": "n1", "pod": "speaker-a", "events": up},
        {"node": "n2", "pod": "speaker-b", "error": "no permission to read logs"},
    ]
    sessions = result(report_of(facts), "bgp.sessions")
    assert sessions.status == WARN and sessions.message == "no state for 1 session"
    assert sessions.details == (
        f"n2 -> {ROUTER} (tor): unknown (the speaker's log on this node could not be read)",
        "could not read the speaker log: speaker-b on n2: no permission to read logs",
    )


# --------------------------------------------------------------------------------------------- when it applies


def test_no_bgp_no_bgp_checks():
    report = report_of(healthy())
    assert ids(report) == [] and report.to_document()["bgp"] is None


def test_unreadable_peers_skip_with_the_reason():
    facts = bgp_cluster(states=[session_state("n1")])
    facts.objects["bgppeers"] = Unreadable("no permission to list bgppeers.metallb.io in all namespaces")
    outcome = result(report_of(facts), "bgp.sessions")
    assert (outcome.status, outcome.message) == (SKIP, "no permission to list bgppeers.metallb.io in all namespaces")


def test_l2_only_status_is_unchanged_by_service_bgp_statuses_of_other_services():
    facts = healthy()
    facts.objects["servicel2statuses"] = [l2_status("web", "n1")]
    assert result(report_of(facts), "services.announced").status == OK


# --------------------------------------------------------------------------------------------- status --bgp


def bgp_objects(backend="native"):
    env = {"METALLB_BGP_TYPE": "frr-k8s"} if backend == "frr-k8s" else None
    return [
        deployment(),
        daemonset(env=env),
        pod("speaker-a", "n1"),
        pod("speaker-b", "n2"),
        node("n1"),
        node("n2"),
        peer(),
        {**bgp_adv(), "apiVersion": "metallb.io/v1beta1"},
    ]


def test_status_bgp_native_reads_each_speakers_log():
    fake = FakeCluster(bgp_objects())
    fake.logs[(NS, "speaker-a", "speaker", False)] = speaker_log(
        ("2026-11-30T12:00:01Z", "BGP session established", {})
    )
    fake.logs[(NS, "speaker-b", "speaker", False)] = speaker_log(
        ("2026-11-30T12:00:02Z", "failed to connect to peer", {"error": "dial tcp 198.51.100.2:179: i/o timeout"})
    )
    result = run_cli("status", "--bgp", cluster=fake)
    assert result.code == 1, result.stderr
    out = result.stdout
    assert out.startswith("BGP in metallb-system: native backend; sessions from the last 5000 lines of each speaker's")
    assert "tor     198.51.100.2  64512     64500       -      -              all" in out
    assert "n1      198.51.100.2  tor        Established  -      speaker log  2026-11-30T12:00:01Z: BGP session" in out
    assert "n2      198.51.100.2  tor        Connect      -      speaker log  2026-11-30T12:00:02Z: dial tcp" in out
    assert "× BGP sessions are established\n    1 of 2 BGP sessions down (from speaker log)" in out
    assert out.endswith("MetalLB's BGP: 1 problem\n")
    logs = [p for m, p in fake.calls if p.endswith("/log")]
    assert logs == [f"/api/v1/namespaces/{NS}/pods/speaker-a/log", f"/api/v1/namespaces/{NS}/pods/speaker-b/log"]
    doc = json.loads(run_cli("status", "--bgp", "-o", "json", cluster=fake).stdout)
    assert doc["configured"] and doc["sessionSource"] == "speaker log"
    assert [(s["node"], s["state"]) for s in doc["sessions"]] == [("n1", "Established"), ("n2", "Connect")]
    assert doc["checks"]["success"] is False


def test_status_bgp_without_log_permission_lists_what_it_could_not_read():
    fake = FakeCluster(bgp_objects())
    for name in ("speaker-a", "speaker-b"):
        path = f"/api/v1/namespaces/{NS}/pods/{name}/log"
        fake.logs[(NS, name, "speaker", False)] = errors.Forbidden(
            403, "Forbidden", f'pods "{name}" is forbidden: User "reader" cannot get resource "pods/log"', "GET", path
        )
    result = run_cli("status", "--bgp", cluster=fake)
    assert result.code == 0, result.stdout
    assert "- BGP sessions are established\n    session state unknown: the speaker's log on this node could not" in (
        result.stdout
    )
    assert (
        "could not read: speaker-a on n1: no permission to read Pod logs in metallb-system (pods/log)" in result.stdout
    )


def test_status_bgp_frr_k8s_reads_no_log_and_overview_shows_the_sessions():
    fake = FakeCluster(bgp_objects("frr-k8s") + [session_state("n1"), session_state("n2", bgp_status="OpenSent")])
    result = run_cli("status", "--bgp", cluster=fake)
    assert result.code == 1
    assert "sessions from frr-k8s' BGPSessionState" in result.stdout
    assert "n2      198.51.100.2  tor        OpenSent     N/A    BGPSessionState  -" in result.stdout
    assert not [p for _, p in fake.calls if p.endswith("/log")]
    overview = run_cli("status", cluster=fake)
    assert "BGP sessions\n------------\nNODE" in overview.stdout and overview.code == 1


def test_status_bgp_without_bgp_and_with_service():
    fake = FakeCluster([deployment(), daemonset(), node("n1")])
    result = run_cli("status", "--bgp", cluster=fake)
    assert (result.code, result.stdout) == (
        0,
        "No BGP: no BGPPeer in metallb-system, no BGP session reported, no Service advertised over BGP.\n",
    )
    both = run_cli("status", "--bgp", "--service", "a/b", cluster=fake)
    assert both.code == 2 and "--bgp and --service show different views" in both.stderr
