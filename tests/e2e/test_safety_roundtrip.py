"""uninstall -> install -> restore on the full cluster: the real namespace controller finalizes MetalLB's
namespace, the real MetalLB webhook checks what restore writes, and a Service gets its address back.

Runs after test_9_uninstall (file order) on the v0.16.1 that module reinstalled. The configuration is what a real
one holds beyond pools: a BGPPeer whose password is a Secret, a customised metallb-excludel2, and an object of the
user's own in MetalLB's namespace, which uninstall must not destroy silently.
"""

import json
import os

import pytest
import yaml

from helpers import run_plugin

from .support import NS, manifest_args, service_ip, until

APPS, POOL, RANGE = "e2e-roundtrip", "roundtrip", "198.51.100.96/30"
seen = {}


@pytest.fixture(scope="module", autouse=True)
def cleanup(kubectl, admin):
    yield
    kubectl("delete", "namespace", APPS, "--ignore-not-found", "--wait=true", timeout=180)
    run_plugin("pools", "delete", POOL, "--yes", "--force", env=admin)
    kubectl("delete", "bgppeer", "tor-roundtrip", "-n", NS, "--ignore-not-found")
    kubectl("delete", "secret", "tor-roundtrip-auth", "-n", NS, "--ignore-not-found")


def configuration(kubectl):
    """The objects the round trip must give back, without what the server sets."""
    found = {}
    for kind, name in (("ipaddresspool", POOL), ("l2advertisement", POOL), ("bgppeer", "tor-roundtrip")):
        found[kind] = json.loads(kubectl("get", kind, name, "-n", NS, "-o", "json"))["spec"]
    found["secret"] = json.loads(kubectl("get", "secret", "tor-roundtrip-auth", "-n", NS, "-o", "json"))["data"]
    found["excludel2"] = json.loads(kubectl("get", "configmap", "metallb-excludel2", "-n", NS, "-o", "json"))["data"]
    return found


def test_configure_metallb_as_a_user_would(metallb, admin, kubectl, web, lan):
    metallb("v0.16.1")
    created = run_plugin("pools", "create", POOL, "--addresses", RANGE, "--l2", "--yes", env=admin)
    assert created.returncode == 0, created.stderr
    kubectl("create", "secret", "generic", "tor-roundtrip-auth", "-n", NS, "--type=kubernetes.io/basic-auth",
            "--from-literal=password=s3cret")
    kubectl("apply", "-f", "-", input=json.dumps({  # through MetalLB's real webhook
        "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "tor-roundtrip", "namespace": NS},
        "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1",
                 "passwordSecret": {"name": "tor-roundtrip-auth", "namespace": NS}}}))
    kubectl("patch", "configmap", "metallb-excludel2", "-n", NS, "--type=merge", "--field-manager=hand-edit",
            "-p", json.dumps({"data": {"excludel2.yaml": 'announcedInterfacesToExclude: ["^eth9$", "^lo$"]\n'}}))
    kubectl("create", "configmap", "site-notes", "-n", NS, "--from-literal=owner=network-team")  # the user's own
    kubectl("create", "namespace", APPS)
    web(APPS, "web", annotations={"metallb.io/address-pool": POOL})
    seen["ip"] = service_ip(kubectl, APPS, "web")
    lan.wait_for(seen["ip"], {lan.mac(node) for node in ("node-a", "node-b")}, timeout=30)
    seen["configuration"] = configuration(kubectl)


def test_uninstall_keeps_the_users_object_unless_told(admin, kubectl):
    refused = run_plugin("uninstall", "--yes", "--force", env=admin)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-2:] == [
        "  configmap/site-notes",
        "error: namespace metallb-system holds 1 object(s) that are not MetalLB's (listed above) and deleting it "
        "would delete them too: pass --keep-namespace to remove MetalLB and keep the namespace, or "
        "--delete-namespace to delete them as well. Nothing was changed"]
    assert kubectl("get", "deployment", "controller", "-n", NS, "-o", "name").strip() == "deployment.apps/controller"


def test_uninstall_backs_up_and_the_namespace_really_goes(admin, kubectl, tmp_path_factory):
    backup = tmp_path_factory.mktemp("roundtrip") / "backup.yaml"
    result = run_plugin("uninstall", "--yes", "--force", "--delete-namespace", "--backup", str(backup), env=admin,
                        timeout=200)
    assert result.returncode == 0, result.stderr
    assert "note: the backup holds Secret(s) metallb-system/tor-roundtrip-auth (BGP passwords)" in result.stderr
    assert f"kubectl metallb restore {backup}" in result.stderr
    # the namespace controller emptied it (the user's ConfigMap included, as they agreed) and finalized it
    assert kubectl("get", "namespace", NS, "--ignore-not-found", "-o", "name").strip() == ""
    assert oct(os.stat(backup).st_mode & 0o777) == "0o600"
    saved = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(backup.read_text()) if d}
    assert {("Secret", "tor-roundtrip-auth"), ("ConfigMap", "metallb-excludel2"), ("IPAddressPool", POOL),
            ("L2Advertisement", POOL), ("BGPPeer", "tor-roundtrip")} <= saved
    seen["backup"] = str(backup)


def test_install_then_restore_gives_back_the_same_objects_and_the_address(admin, kubectl, lan):
    installed = run_plugin("install", *manifest_args("v0.16.1"), "--yes", env=admin, timeout=400)
    assert installed.returncode == 0, installed.stderr
    restored = run_plugin("restore", seen["backup"], "--yes", env=admin, timeout=200)  # through the real webhook
    assert restored.returncode == 0, restored.stderr
    lines = restored.stdout.splitlines()
    assert "configmap/metallb-excludel2 changed" in lines and f"ipaddresspool.metallb.io/{POOL} created" in lines
    assert configuration(kubectl) == seen["configuration"]
    assert service_ip(kubectl, APPS, "web") == seen["ip"]
    until(lambda: lan.who_has(seen["ip"], timeout=0.3) in {lan.mac(n) for n in ("node-a", "node-b")}, timeout=60,
          what=f"{seen['ip']} to be announced again")
    again = run_plugin("restore", seen["backup"], env=admin)
    assert again.returncode == 0 and "nothing to restore" in again.stderr
