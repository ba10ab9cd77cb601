"""strict-arp --wait follows the real rollout of kube-proxy's DaemonSet: the DaemonSet controller replaces the Pods
and kwok's kubelets report them ready (no kube-proxy process runs: kwok runs every Pod that is not MetalLB's)."""

import json

import pytest

from helpers import run_plugin

KS = "kube-system"
CONFIG = """\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clusterCIDR: 203.0.113.0/25
ipvs:
  scheduler: ""
  strictARP: false
mode: ipvs
"""


@pytest.fixture
def kube_proxy(kubectl):
    """kube-proxy as kubeadm deploys it, in IPVS mode without strict ARP, rolled out on both nodes."""
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": KS},
         "data": {"config.conf": CONFIG}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": KS},
         "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                  "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                               "spec": {"hostNetwork": True, "containers": [{
                                   "name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.37.2",
                                   "command": ["/usr/local/bin/kube-proxy",
                                               "--config=/var/lib/kube-proxy/config.conf"]}]}}}}]}))
    kubectl("rollout", "status", "daemonset/kube-proxy", "-n", KS, "--timeout=60s")
    yield
    kubectl("delete", "daemonset,configmap", "kube-proxy", "-n", KS, "--wait=true")


def test_wait_follows_the_real_rollout(kube_proxy, admin, kubectl):
    before = {p["metadata"]["name"] for p in json.loads(
        kubectl("get", "pods", "-n", KS, "-l", "k8s-app=kube-proxy", "-o", "json"))["items"]}
    result = run_plugin("strict-arp", "--enable", "--yes", "--wait", "--timeout", "90s", "-o", "json", env=admin,
                        timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["restart"]["rollout"] == {"complete": True, "status": "ready on 2/2 nodes", "pendingNodes": []}
    assert "kube-proxy rollout complete: ready on 2/2 nodes" in result.stderr
    pods = [p for p in json.loads(kubectl("get", "pods", "-n", KS, "-l", "k8s-app=kube-proxy", "-o", "json"))["items"]
            if not p["metadata"].get("deletionTimestamp")]
    assert len(pods) == 2 and not before & {p["metadata"]["name"] for p in pods}  # every Pod was replaced
    assert "strictARP: true" in json.loads(kubectl("get", "configmap", "kube-proxy", "-n", KS, "-o", "json"))[
        "data"]["config.conf"]
