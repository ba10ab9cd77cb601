"""Faults of the real MetalLB and what the plugin reports: a speaker dies, a node's speaker hangs (L2 failover
between two real speakers), the controller dies and comes back."""

import json
import os
import signal

import pytest

from helpers import run_plugin

from .support import NS, crash_looping, metallb_pid, service_ip, speakers, until

POOL, RANGE = "faults", "198.51.100.216/29"


@pytest.fixture(scope="module")
def served(metallb, admin, kubectl, web, lan):
    """A Service with an address, announced by one node: (namespace, name, ip, {mac: node})."""
    metallb("v0.16.1")
    result = run_plugin("pools", "create", "--yes", POOL, "--addresses", RANGE, "--l2", env=admin)
    assert result.returncode == 0, result.stderr
    kubectl("create", "namespace", "e2e-faults")
    web("e2e-faults", "web", replicas=2)
    ip = service_ip(kubectl, "e2e-faults", "web")
    macs = {lan.mac(node): node for node in ("node-a", "node-b")}
    lan.wait_for(ip, set(macs), timeout=30)
    yield "e2e-faults", "web", ip, macs
    kubectl("delete", "namespace", "e2e-faults", "--wait=true", timeout=180)
    run_plugin("pools", "delete", POOL, "--yes", env=admin)


def all_ready(kubectl):
    pods = json.loads(kubectl("get", "pods", "-n", NS, "-o", "json"))["items"]
    return len(pods) == 3 and all(c["ready"] for p in pods for c in p["status"].get("containerStatuses", [{}]))


def test_a_killed_speaker_is_reported_with_its_node_and_comes_back(served, admin, kubectl):
    victim = speakers(kubectl)["node-b"]
    os.kill(metallb_pid(victim), signal.SIGKILL)
    crashed = until(lambda: [c for c in speakers(kubectl)["node-b"]["status"]["containerStatuses"]
                             if c["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"],
                    what="the kubelet stand-in to report the exit")
    assert crashed[0]["restartCount"] == 1 and crashed[0]["lastState"]["terminated"]["exitCode"] == 137
    with crash_looping(kubectl, "component=speaker", node="node-b"):  # however long status takes
        result = run_plugin("status", env=admin)
    assert result.returncode == 1
    assert "× speaker ready on every node" in result.stdout
    assert "      nodes without a ready speaker: node-b\n" in result.stdout
    assert f"pod {victim['metadata']['name']} (node-b): container speaker: CrashLoopBackOff" in result.stdout
    # the kubelet stand-in restarts it after the back-off, and it passes its readiness probe again
    until(lambda: all_ready(kubectl), timeout=150, what="the speaker to be ready again")
    assert run_plugin("status", env=admin).returncode == 0


def test_l2_failover_between_two_real_speakers(served, admin, kubectl, lan):
    namespace, name, ip, macs = served
    owner = macs[lan.wait_for(ip, set(macs), timeout=30)]
    other = next(node for node in macs.values() if node != owner)
    pid = metallb_pid(speakers(kubectl)[owner])
    os.kill(pid, signal.SIGSTOP)  # the node hangs: memberlist finds it dead, the other speaker takes over
    try:
        new_mac = lan.wait_for(ip, {m for m, n in macs.items() if n == other}, timeout=30)
        assert macs[new_mac] == other
        explained = until(lambda: (r := run_plugin("status", "--service", f"{namespace}/{name}", env=admin))
                          and f"announced by {other} (layer2)" in r.stdout and r, timeout=30,
                          what=f"status to name {other}")
        assert f'event Normal nodeAssigned: announcing from node "{other}" with protocol "layer2"' in explained.stdout
    finally:
        os.kill(pid, signal.SIGCONT)
    until(lambda: all_ready(kubectl), timeout=90, what="every MetalLB Pod to be ready again")


def test_a_dead_controller_degrades_status_and_holds_writes_until_it_is_back(served, admin, kubectl, web):
    namespace = served[0]
    controller = json.loads(kubectl("get", "pods", "-n", NS, "-l", "component=controller", "-o", "json"))["items"][0]
    os.kill(metallb_pid(controller), signal.SIGKILL)
    with crash_looping(kubectl, "component=controller"):  # down for as long as these take
        until(lambda: json.loads(kubectl("get", "deployment", "controller", "-n", NS, "-o", "json"))["status"].get(
            "availableReplicas", 0) == 0, what="the Deployment controller to see the controller unavailable")
        web(namespace, "api", annotations={"metallb.io/address-pool": "patient"})
        result = run_plugin("status", env=admin)
        explained = run_plugin("status", "--service", f"{namespace}/api", env=admin)
        timed_out = run_plugin("status", "--wait", "--timeout", "3s", "-o", "json", env=admin)
        early = run_plugin("pools", "create", "--yes", "early", "--addresses", "198.51.100.236/30", "--l2", "--timeout", "3s",
                           env=admin)
    try:
        assert result.returncode == 1
        assert "× controller ready\n    controller Deployment controller: 0/1 available\n" in result.stdout
        assert "webhook Service metallb-webhook-service: no ready endpoints" in result.stdout
        assert "Most likely cause: MetalLB's controller is not running, so no address is assigned" in explained.stdout
        assert timed_out.returncode == 4 and json.loads(timed_out.stdout)["verdict"] == "degraded"
        assert timed_out.stderr.strip().splitlines()[-1] == (
            "error: timed out after 3s waiting for MetalLB to become healthy (the last report is above)")
        assert early.returncode == 4
        assert early.stderr.strip().splitlines()[-1] == (
            "error: MetalLB's admission webhook did not accept ipaddresspool.metallb.io/early within 3s (no endpoints "
            'available for service "metallb-webhook-service"). Is the controller running? Check with: kubectl metallb '
            "status")
        # a patient write is retried until the restarted controller's webhook serves it
        patient = run_plugin("pools", "create", "--yes", "patient", "--addresses", "198.51.100.236/30", "--l2",
                             "--timeout", "180s", env=admin, timeout=240)
        assert patient.returncode == 0, patient.stderr
        assert "waiting for MetalLB's admission webhook to serve" in patient.stderr
        assert patient.stdout == ("ipaddresspool.metallb.io/patient created\n"
                                  "l2advertisement.metallb.io/patient created\n")
        waited = run_plugin("status", "--wait", "--timeout", "180s", env=admin, timeout=240)
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert service_ip(kubectl, namespace, "api") == "198.51.100.236"  # served once the controller is back
        # healthy, with a warning about the restarts this module caused
        assert waited.stdout.rstrip().splitlines()[-1] == "MetalLB is healthy: 1 warning"
        assert "restarted in the last hour" in waited.stdout
    finally:  # "early" exists if the controller came back within its 3 s (a loaded machine): later modules count pools
        for pool in ("early", "patient"):
            run_plugin("pools", "delete", pool, "--yes", "--force", env=admin)
