"""`kubectl metallb report` against the real API server (RBAC, real CRDs, the API server's own answers for logs).

A control plane of its own: the module installs every CRD of the v0.16.1 FRR-K8s manifest (metallb.io and
frrk8s.metallb.io). No kubelet runs here: the speaker Pod is bound to a Node whose kubelet address is a closed
loopback port, so the API server's answer to a log request is its real "connection refused" (the full cluster's
e2e tests read real logs).
"""

import base64
import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

from helpers import run_plugin

NS = "metallb-system"
BGP_PASSWORD = "planted-bgp-6Tq1"
SECRET_VALUE = "planted-secret-3Wz8"


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


@pytest.fixture(scope="module")
def installed(controlplane, upstream_manifest):
    """MetalLB's workloads and CRDs (FRR-K8s manifest), a BGPPeer with a password, a Secret, an FRRConfiguration
    with a password, and a speaker Pod on a node whose kubelet cannot be reached."""
    with open(upstream_manifest("v0.16.1", "metallb-frr-k8s.yaml")) as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d]
    wanted = [d for d in docs if d["kind"] in ("Namespace", "CustomResourceDefinition", "ServiceAccount")
              or (d["kind"] in ("Deployment", "DaemonSet") and d["metadata"]["name"] in ("controller", "speaker"))]
    kubectl = _kubectl(controlplane)
    kubectl("apply", "--server-side", "--field-manager=test-setup", "-f", "-", input=yaml.safe_dump_all(wanted))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/bgppeers.metallb.io",
            "crd/frrconfigurations.frrk8s.metallb.io")
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux"}}}
    objects = [
        node,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bgp-auth", "namespace": NS},
         "type": "kubernetes.io/basic-auth", "data": {"password": base64.b64encode(SECRET_VALUE.encode()).decode()}},
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "tor", "namespace": NS},
         "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "198.51.100.2", "password": BGP_PASSWORD}},
        {"apiVersion": "frrk8s.metallb.io/v1beta1", "kind": "FRRConfiguration",
         "metadata": {"name": "extra", "namespace": NS},
         "spec": {"bgp": {"routers": [{"asn": 64512, "neighbors": [
             {"address": "198.51.100.3", "asn": 64501, "password": SECRET_VALUE}]}]}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "speaker-t1", "namespace": NS,
                                                          "labels": {"app": "metallb", "component": "speaker"}},
         "spec": {"nodeName": "n1", "containers": [{"name": "speaker", "image": "quay.io/metallb/speaker:v0.16.1"}]}},
    ]  # fmt: skip
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    # the node's kubelet: a loopback port where nothing listens
    kubectl("patch", "node", "n1", "--subresource=status", "--type=merge", "-p", json.dumps({"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}}}}))  # fmt: skip
    return controlplane


def _kubectl(plane):
    binary = os.path.join(os.path.dirname(sys.executable), "kubectl")

    def run(*args, input=None):
        done = subprocess.run([binary, "--kubeconfig", plane.kubeconfig("admin"), *args], input=input,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def members(path):
    with tarfile.open(path) as archive:
        return {m.name.split("/", 1)[1]: archive.extractfile(m).read() for m in archive.getmembers()}


def test_report_holds_the_objects_and_never_a_planted_credential(installed, tmp_path):
    path = tmp_path / "report.tar.gz"
    result = run_plugin("report", "--file", str(path), env={"KUBECONFIG": installed.kubeconfig("admin")})
    assert result.returncode == 0, result.stderr
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    found = members(path)
    for name in ("metallb/bgppeers.yaml", "frr-k8s/frrconfigurations.yaml", "frr-k8s/bgpsessionstates.yaml",
                 "frr-k8s/frrnodestates.yaml", "cluster/crds.yaml", "namespaces/metallb-system/secrets.yaml",
                 "namespaces/metallb-system/daemonsets.yaml", "plugin/status.json", "plugin/status-bgp.txt"):  # fmt: skip
        assert name in found, name
    encoded = base64.b64encode(SECRET_VALUE.encode())
    for name, data in found.items():
        assert BGP_PASSWORD.encode() not in data and SECRET_VALUE.encode() not in data and encoded not in data, name
    neighbor = yaml.safe_load(found["frr-k8s/frrconfigurations.yaml"])["items"][0]["spec"]["bgp"]["routers"][0]
    assert neighbor["neighbors"][0]["password"] == "<redacted>"
    crds = yaml.safe_load(found["cluster/crds.yaml"])["items"]
    assert {c["metadata"]["name"] for c in crds} >= {"bgppeers.metallb.io", "bgpsessionstates.frrk8s.metallb.io"}
    assert all("schema" not in v for c in crds for v in c["spec"]["versions"])
    missing = {m["path"]: m["reason"] for m in json.loads(found["manifest.json"])["notCollected"]}
    assert missing["logs/metallb-system/speaker-t1/speaker.log"] == (
        'Get "https://127.0.0.1:1/containerLogs/metallb-system/speaker-t1/speaker?tailLines=10000": '
        "dial tcp 127.0.0.1:1: connect: connection refused"
    )


def test_a_user_who_may_not_read_secrets_or_logs_gets_a_report_that_says_so(installed, tmp_path):
    """Impersonated (--as) by the admin: a user with read access to everything but Secrets and pods/log."""
    rules = [
        {"apiGroups": [""], "resources": ["pods", "services", "endpoints", "events", "configmaps", "serviceaccounts",
                                          "nodes", "namespaces"], "verbs": ["get", "list"]},
        {"apiGroups": ["apps", "discovery.k8s.io", "rbac.authorization.k8s.io", "networking.k8s.io",
                       "admissionregistration.k8s.io", "apiextensions.k8s.io", "metallb.io", "frrk8s.metallb.io"],
         "resources": ["*"], "verbs": ["get", "list"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"], "verbs": ["create"]},
    ]  # fmt: skip
    kubectl = _kubectl(installed)
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "no-secrets"},
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "no-secrets"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                         "kind": "ClusterRole", "name": "no-secrets"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "support"}]}]}))  # fmt: skip
    path = tmp_path / "limited.tar.gz"
    result = run_plugin("report", "--file", str(path), "--as", "support",
                        env={"KUBECONFIG": installed.kubeconfig("admin")})  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = members(path)
    missing = {m["path"]: m["reason"] for m in json.loads(found["manifest.json"])["notCollected"]}
    assert missing["namespaces/metallb-system/secrets.yaml"] == "no permission to list Secrets in namespace metallb-system"
    assert missing["logs/metallb-system/speaker-t1/speaker.log"] == (
        'no permission to read Pod logs in metallb-system (pods/log): pods "speaker-t1" is forbidden: User "support" '
        'cannot get resource "pods/log" in API group "" in the namespace "metallb-system"'
    )
    assert "namespaces/metallb-system/secrets.yaml: no permission to list Secrets" in result.stdout
    peer = yaml.safe_load(found["metallb/bgppeers.yaml"])["items"][0]
    assert peer["spec"]["password"] == "<redacted>" and BGP_PASSWORD.encode() not in found["metallb/bgppeers.yaml"]
    assert json.loads(found["plugin/status.json"])["installation"]["namespace"] == NS


@pytest.mark.parametrize(
    ("where", "reason"),
    [("/nonexistent-dir/r.tar.gz", "No such file or directory"), ("/sys/r.tar.gz", "Permission denied")],
)
def test_an_output_path_that_cannot_be_written_is_exit_2_before_anything_is_read(installed, where, reason):
    result = run_plugin("report", "--file", where, "-v", env={"KUBECONFIG": installed.kubeconfig("admin")})
    assert result.returncode == 2
    assert result.stderr == f"error: cannot write the report to {where}: {reason}; choose another path with --file\n"
