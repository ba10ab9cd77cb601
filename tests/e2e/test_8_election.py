"""The L2 election view against three real speakers: for many Services, the node `kubectl metallb status` predicts
in MetalLB's order is the one the real speakers elect (its ServiceL2Status, and its MAC answering ARP); release
differences are honoured (v0.14.9 skips cordoned nodes, v0.16.1 does not); and after a node stops, the announcers
`--simulate-drain` predicted are the ones the real speakers move to.

This module runs a full cluster of its own with three nodes (the shared one has two), and installs MetalLB in it
with the plugin: v0.14.9 first, then the upgrade to v0.16.1."""

import json
import os
import signal
import time

import pytest

from helpers import run_plugin

from .conftest import _kubectl
from .support import NS, manifest_args, metallb_pid, unavailable, until

APPS = "e2e-election"
POOL, RANGE = "election", "198.51.100.192/27"
SERVICES = 24


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    import arp  # noqa: F401 (tools/controlplane is on sys.path once conftest ran)
    import netns
    from fullcluster import FullCluster

    cluster = FullCluster(str(tmp_path_factory.mktemp("election")), nodes=3, owner_pid=os.getpid())
    try:
        cluster.up()
    except netns.Unavailable as exc:
        unavailable(f"cannot start the three-node cluster: {exc}")
    except (OSError, RuntimeError) as exc:
        cluster.down()
        unavailable(f"cannot start the three-node cluster: {exc}")
    yield cluster
    cluster.down()


@pytest.fixture(scope="module")
def env(three):
    return {"KUBECONFIG": three.kubeconfig("admin")}


@pytest.fixture(scope="module")
def kubectl(three):
    return _kubectl(three)


def install(version, env):
    result = run_plugin("install", *manifest_args(version), "--yes", "--force", env=env, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def services(three, env, kubectl):
    """v0.14.9 with a pool, its L2Advertisement and SERVICES Services of one Deployment: their names."""
    install("v0.14.9", env)
    result = run_plugin("pools", "create", "--yes", POOL, "--addresses", RANGE, "--l2", env=env)
    assert result.returncode == 0, result.stderr
    kubectl("create", "namespace", APPS)
    names = [f"svc-{i:02d}" for i in range(SERVICES)]
    items = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": APPS},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "app"}},
                       "template": {"metadata": {"labels": {"app": "app"}},
                                    "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}}}]
    items += [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": n, "namespace": APPS},
               "spec": {"type": "LoadBalancer", "selector": {"app": "app"}, "ports": [{"port": 80}]}} for n in names]
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return names


class Lan:
    def __init__(self, cluster):
        import netns

        self.cluster = cluster
        self.nodes = {netns.mac(n["netns"], "eth0"): name for name, n in cluster.nodes.items()}

    def owner(self, ip):
        import arp

        reply = arp.probe(self.cluster.lan_netns, "br0", ip, timeout=0.5)
        return self.nodes.get(reply[0]) if reply else None


def observed(kubectl, lan):
    """{service: (address, ServiceL2Status node, node answering ARP)} of every Service of the module."""
    found = {}
    listed = json.loads(kubectl("get", "services", "-n", APPS, "-o", "json"))["items"]
    statuses = json.loads(kubectl("get", "servicel2statuses", "-n", NS, "-o", "json"))["items"]
    by_service = {}
    for item in statuses:
        status = item.get("status", {})
        if status.get("serviceNamespace") == APPS:
            by_service.setdefault(status["serviceName"], set()).add(status.get("node"))
    for svc in listed:
        ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or [{}]
        ip = ingress[0].get("ip")
        name = svc["metadata"]["name"]
        nodes = by_service.get(name, set())
        found[name] = (ip, nodes.pop() if len(nodes) == 1 else sorted(nodes), lan.owner(ip) if ip else None)
    return found


def predicted(env, *drained):
    """{service: (predicted announcer now, predicted announcer after the drained nodes are gone)} from status."""
    args = [a for node in drained for a in ("--simulate-drain", node)]
    result = run_plugin("status", "-o", "json", *args, env=env)
    doc = json.loads(result.stdout)
    return {m["service"].split("/")[1]: (m["predictedNow"], m["after"]) for m in doc["drain"]["services"]
            if m["service"].startswith(APPS + "/")}


def agree(env, kubectl, lan, drained="node-c"):
    """When every Service is announced as MetalLB's order predicts: {service: (ip, node)}; else None."""
    now = observed(kubectl, lan)
    guess = predicted(env, drained)
    if len(now) != SERVICES or len(guess) != SERVICES:
        return None
    for name, (ip, status_node, arp_node) in now.items():
        if guess[name][0] != [status_node] or arp_node != status_node:
            return None
    return {name: (ip, node) for name, (ip, node, _) in now.items()}


def test_v0_14_9_predicted_winners_and_cordoned_nodes(three, env, kubectl, services):
    lan = Lan(three)
    placed = until(lambda: agree(env, kubectl, lan), timeout=90, interval=2,
                   what="every Service announced by the node MetalLB's order predicts")
    assert len({node for _, node in placed.values()}) == 3  # the hash spreads them over the three nodes
    kubectl("cordon", "node-c")
    try:
        moved = until(lambda: (a := agree(env, kubectl, lan)) and all(n != "node-c" for _, n in a.values()) and a,
                      timeout=60, interval=2, what="v0.14.9's speakers to leave the cordoned node, as predicted")
        assert {n for _, n in moved.values()} <= {"node-a", "node-b"}
        # only the Services node-c announced changed hands; the others kept their node
        assert all(moved[s][1] == node for s, (_, node) in placed.items() if node != "node-c")
        explained = json.loads(run_plugin("status", "--service", f"{APPS}/svc-00", "-o", "json", env=env).stdout)
        assert explained["election"][0]["excluded"]["node-c"] == [
            "cordoned (MetalLB v0.14.9 skips unschedulable nodes)"]
    finally:
        kubectl("uncordon", "node-c")


def test_v0_16_1_predicted_winners_ignore_cordons(three, env, kubectl, services):
    lan = Lan(three)
    install("v0.16.1", env)
    placed = until(lambda: agree(env, kubectl, lan), timeout=120, interval=2,
                   what="every Service announced by the node MetalLB's order predicts, after the upgrade")
    kubectl("cordon", "node-c")
    try:
        time.sleep(5)  # what v0.14.9 did within a second or two: v0.15.0 and later keep announcing from node-c
        assert agree(env, kubectl, lan) == placed
    finally:
        kubectl("uncordon", "node-c")


def test_simulate_drain_predicts_what_the_speakers_do_when_a_node_stops(three, env, kubectl, services):
    lan = Lan(three)
    placed = until(lambda: agree(env, kubectl, lan, "node-b"), timeout=60, interval=2,
                   what="every Service announced as predicted")
    forecast = predicted(env, "node-b")
    assert {name for name, (_, node) in placed.items() if node == "node-b"}  # node-b announces some of them
    text = run_plugin("status", "--simulate-drain", "node-b", env=env).stdout
    assert "If node-b was gone (--simulate-drain)" in text
    speaker = next(p for p in json.loads(kubectl("get", "pods", "-n", NS, "-l", "component=speaker", "-o",
                                                 "json"))["items"] if p["spec"]["nodeName"] == "node-b")
    pid = metallb_pid(speaker)
    os.kill(pid, signal.SIGSTOP)  # node-b hangs: memberlist declares it dead, the others re-elect
    try:
        def moved():
            owners = {name: lan.owner(ip) for name, (ip, _) in placed.items()}
            return owners if all(owners[name] == forecast[name][1][0] for name in owners) else None
        owners = until(moved, timeout=60, interval=1, what="the speakers to announce what --simulate-drain predicted")
        assert "node-b" not in owners.values()
        for name, (_, before) in placed.items():
            assert (owners[name] == before) == (before != "node-b")  # only node-b's Services moved
    finally:
        os.kill(pid, signal.SIGCONT)
    until(lambda: agree(env, kubectl, lan, "node-b") == placed, timeout=90, interval=2,
          what="node-b to take its Services back")
