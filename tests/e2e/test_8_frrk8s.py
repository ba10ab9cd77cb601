"""MetalLB v0.16.1 in FRR-K8s mode, for real: the release's unmodified metallb-frr-k8s.yaml, frr-k8s v0.0.25 built
from the Go module proxy (tools/controlplane/frrk8s/build.sh) and FRR from Debian's packages in each node's
namespace, run by the kubelet stand-in like any Pod (init containers, shared volumes, real probes). The BGP
sessions FRR opens with the LAN's router (tools/controlplane/frr.py) are the ones frr-k8s publishes as
BGPSessionState, and that status --bgp reads. Nothing here writes what frr-k8s or MetalLB would write.

The module switches the cluster to FRR-K8s mode with the plugin and back to native mode when it is done.
"""

import json
import os
import re
import sys
import tarfile

import pytest

from helpers import REPO, run_plugin

from .support import MANIFESTS, NS, service_ip, unavailable, until

sys.path.insert(0, os.path.join(REPO, "tools", "controlplane"))
import frr  # noqa: E402

APPS = "e2e-frrk8s"
ROUTER, ROUTER_ASN, METALLB_ASN = "198.51.100.2", 64500, 64512
NODES = {"node-a": "198.51.100.11", "node-b": "198.51.100.12"}
FRR_K8S = ("metallb-frr-k8s.yaml", "19313e5031714cc1489b3b0ed0ae6e58be0e92538b4a5ed9c529c847ef2bac62")
NATIVE = ("metallb-native.yaml", "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b")
PASSWORD = "frr-k8s-shared-6Rv"
POLL = 200  # frr-k8s' status exporter reads FRR's sessions every 2 minutes (and on each reload)


def install(admin, manifest):
    name, digest = manifest
    result = run_plugin("install", "--manifest", os.path.join(MANIFESTS, "v0.16.1", name), "--sha256", digest,
                        "--yes", "--force", env=admin, timeout=400)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def router(full_cluster, metallb, admin, kubectl):
    metallb("v0.16.1")
    try:
        tor = frr.Router(full_cluster.dir, full_cluster.lan_netns, ROUTER)
        tor.start(ROUTER_ASN, {ip: {"remote-as": METALLB_ASN} for ip in NODES.values()})
    except frr.Unavailable as exc:
        unavailable(str(exc))
    install(admin, FRR_K8S)
    kubectl("create", "namespace", APPS)
    items = [
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "frrk8s", "namespace": NS},
         "spec": {"addresses": ["192.0.2.32/28"], "avoidBuggyIPs": True}},
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "tor", "namespace": NS},
         "spec": {"myASN": METALLB_ASN, "peerASN": ROUTER_ASN, "peerAddress": ROUTER}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement", "metadata": {"name": "frrk8s", "namespace": NS},
         "spec": {"ipAddressPools": ["frrk8s"], "communities": ["64512:200"]}},
    ]  # fmt: skip
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    yield tor
    kubectl("delete", "namespace", APPS, "--wait=true", timeout=180)
    kubectl("delete", "-n", NS, "bgpadvertisement/frrk8s", "bgppeer/tor", "ipaddresspool/frrk8s", "--ignore-not-found")
    install(admin, NATIVE)
    tor.stop()


def sessions(kubectl):
    """{(node, peer): bgpStatus} of the BGPSessionStates frr-k8s wrote, checking their labels as it writes them."""
    found = {}
    for state in json.loads(kubectl("get", "bgpsessionstates", "-n", NS, "-o", "json"))["items"]:
        status, labels = state["status"], state["metadata"]["labels"]
        assert labels == {"frrk8s.metallb.io/node": status["node"], "frrk8s.metallb.io/peer": status["peer"],
                          "frrk8s.metallb.io/vrf": status.get("vrf", "")}  # fmt: skip
        assert state["metadata"]["ownerReferences"][0]["kind"] == "Pod"  # the frr-k8s daemon Pod of its node
        found[(status["node"], status["peer"])] = status["bgpStatus"]
    return found


def reload_results(kubectl):
    """{node: the lastReloadResult of its FRRNodeState}."""
    return {n: json.loads(kubectl("get", "frrnodestate", n, "-o", "json")).get("status", {}).get("lastReloadResult")
            for n in NODES}  # fmt: skip


def bgp_view(admin):
    result = run_plugin("status", "--bgp", "-o", "json", env=admin)
    doc = json.loads(result.stdout)
    return result.returncode, {(s["node"], s["peer"]): (s["state"], s["source"]) for s in doc["sessions"]}, doc


def test_frr_k8s_runs_for_real(router, kubectl):
    pods = json.loads(kubectl("get", "pods", "-n", NS, "-l", "app=frr-k8s", "-o", "json"))["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(NODES)
    for pod in pods:
        assert [c["name"] for c in pod["status"]["initContainerStatuses"]] == [
            "cp-frr-files", "cp-reloader", "cp-metrics", "cp-frr-status"]
        assert all(c["state"]["terminated"]["reason"] == "Completed" for c in pod["status"]["initContainerStatuses"])
        assert all(c["ready"] for c in pod["status"]["containerStatuses"]), pod["status"]["containerStatuses"]
    states = json.loads(kubectl("get", "frrnodestates", "-o", "json"))["items"]
    # frr-k8s reads its reloader's result every 30 s, and reloads again after a failure (FRR's daemons may not
    # answer yet on a loaded machine): a first reload that fails shows as success a minute or more later
    until(lambda: set(reload_results(kubectl).values()) == {"success"}, timeout=180, what="FRR reloaded on both nodes",
          show=lambda: reload_results(kubectl))  # fmt: skip
    assert sorted(s["metadata"]["name"] for s in states) == sorted(NODES)


def test_sessions_established_are_bgp_session_states(router, kubectl, admin, web):
    web(APPS, "web", replicas=2, annotations={"metallb.io/address-pool": "frrk8s"})
    ip = service_ip(kubectl, APPS, "web")
    until(lambda: sorted(p for p, s in router.peers().items() if s["state"] == "Established") == sorted(NODES.values()),
          timeout=90, what="both nodes' FRR Established with the router")  # fmt: skip
    paths = until(lambda: len(router.route(f"{ip}/32")) == 2 and router.route(f"{ip}/32"), timeout=60,
                  what=f"two paths to {ip}/32")  # fmt: skip
    assert sorted(p["nexthops"][0]["ip"] for p in paths) == sorted(NODES.values())
    assert all(p["community"]["list"] == ["64512:200"] for p in paths)
    until(lambda: sessions(kubectl) == {(node, ROUTER): "Established" for node in NODES}, timeout=POLL,
          what="frr-k8s to publish both sessions Established")  # fmt: skip
    code, view, doc = bgp_view(admin)
    assert code == 0 and view == {(node, ROUTER): ("Established", "BGPSessionState") for node in NODES}
    assert [(n["node"], n["lastReloadResult"]) for n in doc["frrNodeStates"]] == [(n, "success") for n in NODES]


def test_a_password_only_the_router_has_shows_as_sessions_down(router, kubectl, admin):
    router.configure(f"router bgp {ROUTER_ASN}", *(f"neighbor {ip} password {PASSWORD}" for ip in NODES.values()),
                     "do clear bgp *")  # fmt: skip
    until(lambda: all(s != "Established" for s in sessions(kubectl).values()), timeout=POLL,
          what="frr-k8s to publish the sessions down")  # fmt: skip
    code, view, doc = bgp_view(admin)
    assert code == 1 and {state for state, _ in view.values()} & {"Established"} == set()
    text = run_plugin("status", "--bgp", env=admin).stdout
    assert "× BGP sessions are established\n    2 of 2 BGP sessions down (from BGPSessionState)" in text
    kubectl("patch", "-n", NS, "bgppeer/tor", "--type=merge", "-p", json.dumps({"spec": {"password": PASSWORD}}))
    until(lambda: sessions(kubectl) == {(node, ROUTER): "Established" for node in NODES}, timeout=POLL,
          what="the sessions with the shared password")  # fmt: skip


def bfd_states(kubectl):
    """{(node, peer): bfdStatus} of the BGPSessionStates frr-k8s wrote."""
    items = json.loads(kubectl("get", "bgpsessionstates", "-n", NS, "-o", "json"))["items"]
    return {(s["status"]["node"], s["status"]["peer"]): s["status"].get("bfdStatus") for s in items}


def test_bfd_state_is_the_one_frr_k8s_publishes(router, kubectl, admin):
    profile = {"apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile", "metadata": {"name": "tor", "namespace": NS},
               "spec": {"receiveInterval": 300, "transmitInterval": 300, "detectMultiplier": 3}}  # fmt: skip
    kubectl("apply", "-f", "-", input=json.dumps(profile))
    try:
        router.configure(f"router bgp {ROUTER_ASN}", *(f"neighbor {ip} bfd" for ip in NODES.values()))
        kubectl("patch", "-n", NS, "bgppeer/tor", "--type=merge", "-p", json.dumps({"spec": {"bfdProfile": "tor"}}))
        until(lambda: sorted(p["peer"] for p in router.show("show bfd peers json") if p["status"] == "up")
              == sorted(NODES.values()), timeout=90, what="BFD up between the router and both nodes")  # fmt: skip
        until(lambda: bfd_states(kubectl) == {(node, ROUTER): "Up" for node in NODES}, timeout=POLL,
              what="frr-k8s to publish BFD up")  # fmt: skip
        code, view, doc = bgp_view(admin)
        assert code == 0 and sorted((s["node"], s["bfd"]) for s in doc["sessions"]) == [(n, "Up") for n in NODES]
        assert [p["bfdProfile"] for p in doc["peers"]] == ["tor"]

        # the router shuts its side of BFD down: the nodes see BFD down (their bgpd may also drop the session)
        router.configure("bfd", *(line for ip in NODES.values() for line in (f"peer {ip}", "shutdown", "exit")))
        until(lambda: set(bfd_states(kubectl).values()) == {"Down"}, timeout=POLL, what="frr-k8s to publish BFD down")
        code, view, doc = bgp_view(admin)
        assert code == 1 and sorted((s["node"], s["bfd"]) for s in doc["sessions"]) == [(n, "Down") for n in NODES]
        text = run_plugin("status", "--bgp", env=admin).stdout
        assert "× BGP sessions are established\n" in text
        for node in NODES:
            assert re.search(rf"{node} -> {re.escape(ROUTER)} \(tor\): \w+, BFD Down", text), text
    finally:
        kubectl("patch", "-n", NS, "bgppeer/tor", "--type=merge", "-p", json.dumps({"spec": {"bfdProfile": None}}))
        kubectl("delete", "-n", NS, "bfdprofile/tor", "--ignore-not-found")
        router.start(ROUTER_ASN, {ip: {"remote-as": METALLB_ASN, "password": PASSWORD} for ip in NODES.values()})


def test_report_in_frr_k8s_mode(router, admin, kubectl, tmp_path):
    path = tmp_path / "frrk8s.tar.gz"
    result = run_plugin("report", "--file", str(path), env=admin, timeout=300)
    assert result.returncode == 0, result.stderr
    with tarfile.open(path) as archive:
        found = {m.name.split("/", 1)[1]: archive.extractfile(m).read() for m in archive.getmembers()}
    for name in ("frr-k8s/bgpsessionstates.yaml", "frr-k8s/frrnodestates.yaml", "frr-k8s/frrconfigurations.yaml"):
        assert name in found, name
    pods = json.loads(kubectl("get", "pods", "-n", NS, "-l", "app=frr-k8s", "-o", "json"))["items"]
    for pod in pods:
        for container in ("cp-frr-files", "controller", "frr", "reloader", "frr-status", "frr-metrics"):
            assert f"logs/{NS}/{pod['metadata']['name']}/{container}.log" in found, container
    for name, data in found.items():
        assert PASSWORD.encode() not in data, name  # the BGPPeer's, MetalLB's FRRConfiguration's, FRR's config
