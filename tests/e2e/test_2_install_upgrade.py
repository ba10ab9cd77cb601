"""Install the real MetalLB v0.14.9, hand out and announce an address, then upgrade to v0.16.1.

The tests build on each other in file order: a first install on nodes the controller's Pod does not tolerate
times out naming the Pod and the real scheduler's reason; once the nodes accept it, running install again waits
until MetalLB serves; the Service created under v0.14.9 must keep its address and stay announced over ARP once
v0.16.1's binaries have replaced v0.14.9's.
"""

import hashlib
import ipaddress
import json
import os

import pytest

from helpers import run_plugin

from .support import NS, installed_version, manifest_args, service_ip, until

APPS = "e2e-upgrade"
POOL = "upgrade"
RANGE = "198.51.100.240/29"
seen = {}  # what the earlier tests of this module found


@pytest.fixture(scope="module", autouse=True)
def cleanup(kubectl, admin):
    yield
    kubectl("taint", "nodes", "--all", "dedicated=storage:NoSchedule-", check=False)
    kubectl("delete", "namespace", APPS, "--ignore-not-found", "--wait=true", timeout=180)
    run_plugin("pools", "delete", POOL, "--yes", env=admin)


def metallb_pods(kubectl):
    return json.loads(kubectl("get", "pods", "-n", NS, "-o", "json"))["items"]


def running_binary(pod):
    """The file the real process of a MetalLB Pod runs (its containerID names the pid)."""
    container_id = pod["status"]["containerStatuses"][0]["containerID"]
    assert container_id.startswith("standin://"), container_id
    return os.path.realpath(f"/proc/{container_id.split('//')[1]}/exe")


def ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def check_pods(full_cluster, kubectl, version):
    """Every MetalLB Pod is Ready and runs the real binary of version, where a kubelet would run it."""
    pods = [p for p in metallb_pods(kubectl) if not p["metadata"].get("deletionTimestamp")]
    speakers = {p["spec"]["nodeName"]: p for p in pods if p["metadata"]["labels"]["component"] == "speaker"}
    controllers = [p for p in pods if p["metadata"]["labels"]["component"] == "controller"]
    assert sorted(speakers) == ["node-a", "node-b"] and len(controllers) == 1, [p["metadata"]["name"] for p in pods]
    for node, pod in speakers.items():
        assert ready(pod), pod["status"]
        assert pod["status"]["podIP"] == full_cluster.nodes[node]["ip"]  # hostNetwork: the node's address
        assert running_binary(pod).endswith(f"/bin/metallb/{version}/speaker")
    controller = controllers[0]
    assert ready(controller), controller["status"]
    assert ipaddress.ip_address(controller["status"]["podIP"]) in ipaddress.ip_network("203.0.113.128/25")
    assert running_binary(controller).endswith(f"/bin/metallb/{version}/controller")
    return pods


def test_install_times_out_naming_a_pod_the_scheduler_cannot_place(admin, kubectl):
    assert installed_version(kubectl) is None
    kubectl("taint", "nodes", "--all", "dedicated=storage:NoSchedule")
    result = run_plugin("install", *manifest_args("v0.14.9"), "--yes", "--timeout", "8s", env=admin, timeout=200)
    assert result.returncode == 4
    assert "Deployment controller: 0/1 available" in result.stderr
    assert "DaemonSet speaker: ready on 0/0 nodes (no node is eligible to run it)" in result.stderr
    # the real scheduler's words
    assert "Pending (FailedScheduling: 0/2 nodes are available: 2 node(s) had untolerated taint" in result.stderr
    kubectl("taint", "nodes", "--all", "dedicated=storage:NoSchedule-")


def test_install_waits_until_the_real_metallb_serves(full_cluster, admin, kubectl):
    result = run_plugin("install", *manifest_args("v0.14.9"), "--yes", env=admin, timeout=400)  # run again
    assert result.returncode == 0, result.stderr
    for line in ("Deployment controller: 1/1 available", "DaemonSet speaker: ready on 2/2 nodes",
                 "webhook Service metallb-webhook-service: 1 ready endpoint"):
        assert line in result.stderr
    pods = check_pods(full_cluster, kubectl, "v0.14.9")
    # readiness came from MetalLB's own probe, passed no earlier than its initialDelaySeconds (10 s)
    for pod in pods:
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    # what the real controller does when it starts: the memberlist key, the webhook's certificate and CA bundle
    assert "secretkey" in json.loads(kubectl("get", "secret", "memberlist", "-n", NS, "-o", "json"))["data"]
    hooks = json.loads(kubectl("get", "validatingwebhookconfiguration", "metallb-webhook-configuration",
                               "-o", "json"))["webhooks"]
    assert all(h["clientConfig"].get("caBundle") for h in hooks)
    seen["v0.14.9 pids"] = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"] for p in pods}


def test_pools_create_right_after_install_goes_through_the_real_webhook(admin, kubectl):
    result = run_plugin("pools", "create", "--yes", POOL, "--addresses", RANGE, "--l2", env=admin)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ipaddresspool.metallb.io/{POOL} created\nl2advertisement.metallb.io/{POOL} created\n"


def test_a_service_gets_an_address_that_the_lan_resolves(kubectl, web, lan, admin):
    kubectl("create", "namespace", APPS)
    web(APPS, "web", replicas=2)
    ip = service_ip(kubectl, APPS, "web")
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(RANGE)
    service = json.loads(kubectl("get", "service", "web", "-n", APPS, "-o", "json"))
    assert service["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"] == POOL
    macs = {lan.mac(node): node for node in ("node-a", "node-b")}
    lan.wait_for(ip, set(macs), timeout=30)

    def announced():
        """The node MetalLB reports announcing the address, once it is also the one answering ARP for it (right
        after the speakers start, until memberlist has joined them, each may announce on its own)."""
        nodes = [s["status"]["node"] for s in json.loads(kubectl("get", "servicel2statuses", "-n", NS, "-o",
                                                                  "json"))["items"]
                 if s.get("status", {}).get("serviceName") == "web"]
        return len(nodes) == 1 and macs.get(lan.who_has(ip)) == nodes[0] and nodes[0]

    owner = until(announced, timeout=60, what="one speaker to announce the address and answer ARP for it")
    explained = until(lambda: (r := run_plugin("status", "--service", f"{APPS}/web", env=admin)).returncode == 0 and r,
                      timeout=30, what="status --service to report the Service served")
    assert f"√ announced by {owner} (layer2)" in explained.stdout
    assert f"Most likely cause: none: MetalLB assigned {ip} and {owner} announces it" in explained.stdout
    seen.update(ip=ip, macs=macs)


def test_upgrade_swaps_the_real_binaries_and_the_service_stays_announced(full_cluster, admin, kubectl, lan):
    result = run_plugin("install", *manifest_args("v0.16.1"), "--yes", env=admin, timeout=400)
    assert result.returncode == 0, result.stderr
    assert "from v0.14.9 (native) to v0.16.1 (native)" in result.stderr
    # install returns once the new Pods serve; the old ones may still be on their way out (see NOTES: it does not
    # wait for "old replicas pending termination" as `kubectl rollout status` does)
    for workload in ("deployment/controller", "daemonset/speaker"):
        kubectl("rollout", "status", workload, "-n", NS, "--timeout=120s")
    pods = until(lambda: len(metallb_pods(kubectl)) == 3, what="the v0.14.9 Pods to be gone") and \
        check_pods(full_cluster, kubectl, "v0.16.1")
    old = seen["v0.14.9 pids"]
    assert not set(old) & {p["metadata"]["name"] for p in pods}  # every Pod was replaced ...
    for container_id in old.values():  # ... and every v0.14.9 process is gone
        assert not os.path.exists(f"/proc/{container_id.split('//')[1]}/exe")
    assert service_ip(kubectl, APPS, "web") == seen["ip"]
    assert lan.wait_for(seen["ip"], set(seen["macs"]), timeout=30)
    result = run_plugin("status", "-o", "json", env=admin)
    doc = json.loads(result.stdout)
    assert doc["installation"]["version"] == "v0.16.1"
    row = next(s for s in doc["services"] if (s["namespace"], s["name"]) == (APPS, "web"))
    assert row["state"] == "assigned" and row["ips"] == [seen["ip"]]


def test_an_upgrade_whose_new_controller_cannot_start_is_not_called_ready(admin, kubectl, tmp_path):
    # a mirror that lacks the new controller image: its Pod never starts, the old controller keeps serving
    with open(manifest_args("v0.16.1")[1]) as handle:
        text = handle.read().replace("quay.io/metallb/controller:v0.16.1", "quay.io/metallb/controller:v0.16.99")
    broken = tmp_path / "metallb-native.yaml"
    broken.write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        result = run_plugin("install", "--manifest", str(broken), "--sha256", digest, "--yes", "--timeout", "20s",
                            env=admin, timeout=200)
        pods = json.loads(kubectl("get", "pods", "-n", NS, "-l", "component=controller", "-o", "json"))["items"]
        waiting = [c["state"].get("waiting", {}).get("reason") for p in pods for c in p["status"]["containerStatuses"]]
        assert "ErrImagePull" in waiting  # what the kubelet stand-in reports for an image it has no binary for
        # the old controller's available replica is not the new one's: install waits for the rollout, then says why
        assert result.returncode == 4, result.stderr
        assert "ErrImagePull" in result.stderr
    finally:
        restored = run_plugin("install", *manifest_args("v0.16.1"), "--yes", "--force", env=admin, timeout=400)
        assert restored.returncode == 0, restored.stderr
        kubectl("rollout", "status", "deployment/controller", "-n", NS, "--timeout=120s")
