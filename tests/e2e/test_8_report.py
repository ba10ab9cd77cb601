"""kubectl metallb report on the full cluster: MetalLB's real container logs reach it through the API server and the
nodes' kubelet endpoint (tools/controlplane/kubeletserver.py), current and previous, and no credential planted in
the cluster ends up in the archive."""

import base64
import json
import os
import signal
import subprocess
import sys
import tarfile

import pytest

from helpers import run_plugin

from .support import NS, metallb_pid, speakers, until

KUBECTL = os.path.join(os.path.dirname(sys.executable), "kubectl")
BGP_PASSWORD = "planted-peer-password-4Kd"
SECRET_VALUE = "planted-secret-value-8Lp"


@pytest.fixture(scope="module")
def planted(metallb, kubectl):
    """Two BGPPeers towards an address nobody answers: one with a password, one with a password Secret."""
    metallb("v0.16.1")
    secret = base64.b64encode(SECRET_VALUE.encode()).decode()
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "report-auth", "namespace": NS},
         "type": "kubernetes.io/basic-auth", "data": {"password": secret}},
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "report-a", "namespace": NS},
         "spec": {"myASN": 64512, "peerASN": 64501, "peerAddress": "192.0.2.201", "password": BGP_PASSWORD}},
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "report-b", "namespace": NS},
         "spec": {"myASN": 64512, "peerASN": 64501, "peerAddress": "192.0.2.202",
                  "passwordSecret": {"name": "report-auth", "namespace": NS}}}]}))  # fmt: skip
    yield
    kubectl("delete", "-n", NS, "bgppeer/report-a", "bgppeer/report-b", "secret/report-auth", "--ignore-not-found")


def restarted_speaker(kubectl):
    """A speaker whose process was killed and restarted by the kubelet stand-in (it has a previous instance)."""
    pods = speakers(kubectl)
    victim = pods["node-b"]
    restarts = victim["status"]["containerStatuses"][0]["restartCount"]
    os.kill(metallb_pid(victim), signal.SIGKILL)
    return until(lambda: next((p for p in [speakers(kubectl)["node-b"]]
                               if p["status"]["containerStatuses"][0]["restartCount"] > restarts
                               and p["status"]["containerStatuses"][0]["state"].get("running")), None),
                 timeout=60, what="the speaker on node-b to run again")  # fmt: skip


def test_kubectl_logs_reads_the_real_speaker_log(planted, kubectl):
    pod = speakers(kubectl)["node-a"]["metadata"]["name"]
    log = kubectl("logs", "-n", NS, pod)
    assert '"msg":"MetalLB speaker starting version 0.16.1' in log  # the real process's first words
    tail = kubectl("logs", "-n", NS, pod, "--tail=3")
    assert len(tail.splitlines()) == 3 and tail.splitlines()[0] in log


def test_kubectl_logs_previous_is_the_last_terminated_instance(planted, full_cluster, kubectl):
    name = restarted_speaker(kubectl)["metadata"]["name"]
    previous = kubectl("logs", "-n", NS, name, "--previous")
    current = kubectl("logs", "-n", NS, name)
    assert '"msg":"MetalLB speaker starting version 0.16.1' in previous and '"msg":"MetalLB speaker starting version 0.16.1' in current
    assert previous != current  # two instances, two logs
    pods = json.loads(kubectl("get", "pods", "-n", NS, "-o", "json"))["items"]
    fresh = [(p["metadata"]["name"], s["name"]) for p in pods for s in p["status"]["containerStatuses"]
             if s["restartCount"] == 0]  # fmt: skip
    for pod, container in fresh:  # the kubelet's own answer, relayed by the API server
        done = subprocess.run([KUBECTL, "--kubeconfig", full_cluster.kubeconfig("admin"), "logs", "-n", NS, pod,
                               "-c", container, "--previous"], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 1
        assert done.stderr == (f'Error from server (BadRequest): previous terminated container "{container}" in pod '
                               f'"{pod}" not found\n')


def test_report_collects_current_and_previous_logs_and_no_credential(planted, kubectl, admin, tmp_path):
    restarted = restarted_speaker(kubectl)["metadata"]["name"]
    path = tmp_path / "report.tar.gz"
    result = run_plugin("report", "--file", str(path), env=admin, timeout=300)
    assert result.returncode == 0, result.stderr
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with tarfile.open(path) as archive:
        found = {m.name.split("/", 1)[1]: archive.extractfile(m).read() for m in archive.getmembers()}
    manifest = json.loads(found["manifest.json"])
    pods = json.loads(kubectl("get", "pods", "-n", NS, "-o", "json"))["items"]
    for pod in pods:
        for status in pod["status"]["containerStatuses"]:
            base = f"logs/{NS}/{pod['metadata']['name']}/{status['name']}"
            assert found[f"{base}.log"], base  # every container's current log, non-empty
            if status["restartCount"]:
                assert f"{base}.previous.log" in found, base
            else:
                assert {"path": f"{base}.previous.log",
                        "reason": "no previous instance: the container has not restarted"} in manifest["notCollected"]
    assert b"MetalLB speaker starting version 0.16.1" in found[f"logs/{NS}/{restarted}/speaker.previous.log"]
    for name in ("metallb/bgppeers.yaml", "metallb/ipaddresspools.yaml", "namespaces/metallb-system/pods.yaml",
                 "namespaces/metallb-system/secrets.yaml", "services/loadbalancers.yaml", "cluster/nodes.yaml",
                 "kube-proxy/strict-arp.json", "plugin/status.txt", "plugin/status-bgp.json", "plugin/version.json"):
        assert name in found, name  # fmt: skip
    encoded = base64.b64encode(SECRET_VALUE.encode())
    for name, data in found.items():
        assert BGP_PASSWORD.encode() not in data and SECRET_VALUE.encode() not in data and encoded not in data, name
    assert [m for m in manifest["notCollected"] if m["path"].endswith(".log") and "previous" not in m["path"]] == []
    assert json.loads(found["plugin/status-bgp.json"])["peers"]  # the planted peers, as status --bgp saw them


def test_a_user_who_may_read_nothing_still_gets_a_report_that_says_so(full_cluster, tmp_path):
    path = tmp_path / "nobody.tar.gz"
    result = run_plugin("report", "--file", str(path), "--kubeconfig", full_cluster.kubeconfig("nobody"))
    assert result.returncode == 0, result.stderr
    with tarfile.open(path) as archive:
        manifest = json.loads(archive.extractfile(archive.getmember("nobody/manifest.json")).read())
    reasons = {m["path"]: m["reason"] for m in manifest["notCollected"]}
    assert reasons["cluster/nodes.yaml"] == "no permission to list nodes"
    assert reasons["namespaces/metallb-system/secrets.yaml"] == "no permission to list Secrets in namespace metallb-system"
    assert reasons["namespaces/metallb-system/networkpolicies.yaml"] == (
        "no permission to list NetworkPolicies in namespace metallb-system")
    assert reasons["kube-proxy/configmaps.yaml"] == "no permission to list ConfigMaps in kube-system"
    status = next(c for c in manifest["commands"] if c["command"] == "status")
    assert status["exitCode"] == 1, status  # a report with an unknown verdict, as status gives such a user
    with tarfile.open(path) as archive:
        text = archive.extractfile(archive.getmember("nobody/plugin/status.txt")).read().decode()
    assert "MetalLB's health is unknown: no permission to list" in text
