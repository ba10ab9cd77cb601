"""Uninstall the real MetalLB and install it again right away.

In file order: uninstall is refused while a Service holds an address MetalLB assigned; with --force it backs up and
removes everything, and the namespace controller really finalizes the namespace; a reinstall right after it works
and the restored configuration gives the Service its address back.
"""

import json
import os

import pytest
import yaml

from helpers import run_plugin

from .support import NS, manifest_args, service_ip, until

APPS = "e2e-again"
seen = {}


def metallb_state(kubectl):
    crds = sorted(c for c in kubectl("get", "crd", "-o", "name").split() if "metallb.io" in c)
    namespace = kubectl("get", "namespace", NS, "--ignore-not-found", "-o", "name").strip()
    return crds, namespace


@pytest.fixture(scope="module", autouse=True)
def cleanup(kubectl, admin):
    yield
    kubectl("delete", "namespace", APPS, "--ignore-not-found", "--wait=true", timeout=180)


def test_uninstall_is_refused_while_a_service_holds_an_address(metallb, admin, kubectl, web, lan):
    metallb("v0.16.1")
    created = run_plugin("pools", "create", "--yes", "again", "--addresses", "198.51.100.248/30", "--l2", env=admin)
    assert created.returncode == 0, created.stderr
    kubectl("apply", "-f", "-", input=json.dumps({  # a BGP peer with a password: the backup must be private
        "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "tor", "namespace": NS},
        "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1", "password": "s3cret"}}))
    kubectl("create", "namespace", APPS)
    web(APPS, "web", annotations={"metallb.io/address-pool": "again"})
    ip = service_ip(kubectl, APPS, "web")
    refused = run_plugin("uninstall", "--yes", env=admin)
    assert refused.returncode == 1
    assert f"  {APPS}/web {ip} (pool again)" in refused.stderr
    assert "1 LoadBalancer Service(s) still hold MetalLB addresses" in refused.stderr
    assert len(metallb_state(kubectl)[0]) == 9  # nothing removed
    seen["ip"] = ip


def test_uninstall_backs_up_and_removes_everything(admin, kubectl, lan, tmp_path_factory):
    backup = tmp_path_factory.mktemp("uninstall") / "backup.yaml"
    result = run_plugin("uninstall", "--yes", "--force", "--backup", str(backup), "-o", "json", env=admin,
                        timeout=200)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["backedUp"] == 3 and doc["backup"] == str(backup) and doc["version"] == "v0.16.1"
    assert [o["kind"] for o in doc["objects"]][0] == "ValidatingWebhookConfiguration"
    assert [o["kind"] for o in doc["objects"]][-3:] == ["CustomResourceDefinition", "ConfigMap", "Namespace"]
    assert {o["result"] for o in doc["objects"]} == {"deleted"}
    assert oct(os.stat(backup).st_mode & 0o777) == "0o600"  # BGP passwords are inside
    saved = [d for d in yaml.safe_load_all(backup.read_text()) if d]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in saved) == [
        ("BGPPeer", "tor"), ("IPAddressPool", "again"), ("L2Advertisement", "again")]
    pool = next(d for d in saved if d["kind"] == "IPAddressPool")
    # no server-side fields: restorable with kubectl apply
    assert not {"uid", "resourceVersion", "creationTimestamp", "managedFields"} & set(pool["metadata"])
    # gone for real when uninstall returns: the namespace controller emptied and finalized the namespace
    assert metallb_state(kubectl) == ([], "")
    roles = kubectl("get", "clusterrole,clusterrolebinding", "-o", "name")
    assert "metallb-system:" not in roles
    # the kubelet stand-in stopped MetalLB's processes with their Pods: nothing answers for the address any more
    until(lambda: lan.who_has(seen["ip"], timeout=0.3) is None, timeout=30, what=f"{seen['ip']} to stop answering")
    seen["backup"] = str(backup)


def test_an_install_right_after_uninstall_works(admin, kubectl, lan):
    result = run_plugin("install", *manifest_args("v0.16.1"), "--yes", env=admin, timeout=400)
    assert result.returncode == 0, result.stderr
    assert "MetalLB v0.16.1 is ready" in result.stderr
    restored = kubectl("apply", "-f", seen["backup"])  # through the new controller's webhook
    assert "ipaddresspool.metallb.io/again created" in restored
    assert service_ip(kubectl, APPS, "web") == seen["ip"]
    assert lan.wait_for(seen["ip"], {lan.mac(node) for node in ("node-a", "node-b")}, timeout=30)
    pods = json.loads(kubectl("get", "pods", "-n", NS, "-o", "json"))["items"]
    assert all(c["restartCount"] == 0 for p in pods for c in p["status"]["containerStatuses"])


def test_uninstall_waits_for_the_namespace_and_an_install_meanwhile_fails(admin, kubectl, tmp_path):
    # a finalizer nobody removes keeps the namespace terminating, as a stuck controller of someone else's would
    kubectl("create", "configmap", "held", "-n", NS)
    kubectl("patch", "configmap", "held", "-n", NS, "--type=merge", "-p",
            json.dumps({"metadata": {"finalizers": ["e2e.example.com/hold"]}}))
    try:
        # "held" is not MetalLB's: deleting the namespace (and it) is the user's choice, made with --delete-namespace
        result = run_plugin("uninstall", "--yes", "--force", "--delete-namespace", "--backup", str(tmp_path / "b.yaml"),
                            "--timeout", "10s", env=admin, timeout=200)
        assert result.returncode == 4
        stuck = result.stderr.strip().splitlines()[-1]
        assert stuck.startswith(f"error: still being deleted after 10s: namespace {NS} is still Terminating since ")
        assert "finalizers: kubernetes" in stuck and "e2e.example.com/hold" in stuck  # what holds it, named
        assert stuck.endswith(f"Everything else was removed; see `kubectl get namespace {NS} -o yaml`")
        again = run_plugin("install", *manifest_args("v0.16.1"), "--yes", env=admin, timeout=200)
        # NamespaceLifecycle refuses creations in a namespace being deleted: not a permission problem
        assert again.returncode == 1, again.stderr
        refused = again.stderr.strip().splitlines()[-1]
        assert refused.startswith(f"error: namespace {NS} is being deleted (Terminating since ")
        assert refused.endswith(f"MetalLB cannot be installed into it until it is gone. Wait until `kubectl get "
                                f"namespace {NS}` says NotFound, then run install again. Nothing was changed")
        assert "permission" not in again.stderr
    finally:
        kubectl("patch", "configmap", "held", "-n", NS, "--type=json", "-p",
                json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]), check=False)
        kubectl("wait", "--for=delete", f"namespace/{NS}", "--timeout=60s", check=False)
