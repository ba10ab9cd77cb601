"""BGP for real: MetalLB v0.16.1's native speakers peer with FRR (Debian's frr: zebra + bgpd) running as the
top-of-rack router in the LAN namespace (tools/controlplane/frr.py). What FRR says (vtysh, JSON) is the truth the
tests compare with; `kubectl metallb status --bgp` must tell the same story from the speakers' real logs.

Every negative test ends by fixing the one thing it broke and seeing the session come up: the broken part, and
nothing else, kept it down.
"""

import json
import os
import sys
import time

import pytest

from helpers import REPO, run_plugin

from .support import NS, service_ip, unavailable, until

sys.path.insert(0, os.path.join(REPO, "tools", "controlplane"))
import frr  # noqa: E402

APPS = "e2e-bgp"
ROUTER, ROUTER_ASN, METALLB_ASN = "198.51.100.2", 64500, 64512
POOL = "192.0.2.16/28"  # routed, never on the LAN: only BGP makes it reachable
NODES = {"node-a": "198.51.100.11", "node-b": "198.51.100.12"}
FROM_POOL = {"metallb.io/address-pool": "bgp"}  # not from another module's pool that happens to exist


@pytest.fixture(scope="module")
def router(full_cluster, metallb, kubectl):
    metallb("v0.16.1")
    try:
        tor = frr.Router(full_cluster.dir, full_cluster.lan_netns, ROUTER)
        tor.start(ROUTER_ASN, {ip: {"remote-as": METALLB_ASN} for ip in NODES.values()})
    except frr.Unavailable as exc:
        unavailable(str(exc))
    kubectl("create", "namespace", APPS)
    yield tor
    kubectl("delete", "namespace", APPS, "--wait=true", timeout=180)
    tor.stop()


@pytest.fixture
def bgp(kubectl, router):
    """apply(peer=..., advertisement=...): the test's pool, BGPPeer and BGPAdvertisement (deleted afterwards)."""

    def apply(peer=None, advertisement=None):
        peer = {"myASN": METALLB_ASN, "peerASN": ROUTER_ASN, "peerAddress": ROUTER, **(peer or {})}
        items = [
            {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "bgp", "namespace": NS},
             "spec": {"addresses": [POOL], "avoidBuggyIPs": True}},
            {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "tor", "namespace": NS},
             "spec": peer},
            {"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement", "metadata": {"name": "bgp", "namespace": NS},
             "spec": {"ipAddressPools": ["bgp"], **(advertisement or {})}},
        ]  # fmt: skip
        kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    yield apply
    kubectl("delete", "-n", NS, "bgpadvertisement/bgp", "bgppeer/tor", "ipaddresspool/bgp", "--ignore-not-found")


def established(router):
    return sorted(ip for ip, peer in router.peers().items() if peer["state"] == "Established")


def stays_down(router, seconds=15):
    """The router saw no session come up for this long (the speakers retry every few seconds meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert established(router) == [], router.peers()
        time.sleep(1)


def bgp_status(admin):
    result = run_plugin("status", "--bgp", "-o", "json", env=admin)
    return result.returncode, json.loads(result.stdout)


def healthy(admin):
    code, doc = bgp_status(admin)
    return code == 0 and doc


def test_sessions_established_and_the_address_routed_to_the_nodes(router, bgp, web, kubectl, admin):
    bgp(advertisement={"communities": ["64512:100", "65535:65281"]})
    web(APPS, "web", replicas=2, annotations=FROM_POOL)
    ip = service_ip(kubectl, APPS, "web")
    until(lambda: established(router) == sorted(NODES.values()), timeout=60, what="both sessions Established")
    paths = until(lambda: len(router.route(f"{ip}/32")) == 2 and router.route(f"{ip}/32"), timeout=30,
                  what=f"two paths to {ip}/32 in FRR")  # fmt: skip
    assert sorted(p["nexthops"][0]["ip"] for p in paths) == sorted(NODES.values())
    assert all(p["aspath"]["string"] == str(METALLB_ASN) for p in paths)
    assert all(p["community"]["list"] == ["64512:100", "noExport"] for p in paths)
    doc = until(lambda: healthy(admin), timeout=30, what="status --bgp to see both sessions")
    assert [(s["node"], s["peer"], s["bgpPeers"], s["state"], s["source"]) for s in doc["sessions"]] == [
        (node, ROUTER, ["tor"], "Established", "speaker log") for node in NODES
    ]
    assert sorted((a["service"], a["node"], a["bgpPeers"]) for a in doc["services"]) == [
        (f"{APPS}/web", node, ["tor"]) for node in NODES
    ]
    text = run_plugin("status", "--bgp", env=admin).stdout
    assert "node-a  198.51.100.2  tor        Established  -      speaker log" in text
    assert text.endswith("MetalLB's BGP is healthy\n")


def test_local_preference_arrives_over_ibgp(router, bgp, web, kubectl):
    router.start(ROUTER_ASN, {ip: {"remote-as": "internal"} for ip in NODES.values()})
    bgp(peer={"myASN": ROUTER_ASN}, advertisement={"localPref": 250, "communities": ["64500:7"]})
    web(APPS, "ibgp", annotations=FROM_POOL)
    ip = service_ip(kubectl, APPS, "ibgp")
    paths = until(lambda: router.route(f"{ip}/32"), timeout=60, what=f"a path to {ip}/32 over iBGP")
    assert {p["peer"]["type"] for p in paths} == {"internal"}
    assert {p["locPrf"] for p in paths} == {250}
    assert {tuple(p["community"]["list"]) for p in paths} == {("64500:7",)}
    router.start(ROUTER_ASN, {ip: {"remote-as": METALLB_ASN} for ip in NODES.values()})


def test_a_wrong_peer_asn_keeps_the_session_down(router, bgp, kubectl, admin):
    bgp(peer={"peerASN": ROUTER_ASN + 1})
    stays_down(router)
    code, doc = bgp_status(admin)
    assert code == 1
    assert {s["state"] for s in doc["sessions"]} != {"Established"}
    assert all(f"unexpected peer ASN {ROUTER_ASN}, want {ROUTER_ASN + 1}" in s["detail"] for s in doc["sessions"])
    kubectl("patch", "-n", NS, "bgppeer/tor", "--type=merge", "-p", json.dumps({"spec": {"peerASN": ROUTER_ASN}}))
    until(lambda: established(router) == sorted(NODES.values()), timeout=60, what="the sessions with the right ASN")


def test_a_wrong_password_keeps_the_session_down(router, bgp, admin):
    router.start(ROUTER_ASN, {ip: {"remote-as": METALLB_ASN, "password": "tor-secret"} for ip in NODES.values()})
    bgp(peer={"password": "not-the-secret"})
    stays_down(router)
    code, doc = bgp_status(admin)
    assert code == 1 and all(s["state"] != "Established" for s in doc["sessions"])
    router.configure(f"router bgp {ROUTER_ASN}", *(f"neighbor {ip} password not-the-secret" for ip in NODES.values()))
    until(lambda: established(router) == sorted(NODES.values()), timeout=60, what="the sessions with one password")
    router.start(ROUTER_ASN, {ip: {"remote-as": METALLB_ASN} for ip in NODES.values()})
