"""Every write is planned, checked, asked about and restorable: install, uninstall, restore and strict-arp on the
real API server with real RBAC.

Each problem found by trying the plugin as a new admin would is a test here (they failed before the one
plan -> confirm -> apply path existed): strict-arp's backup did not restore with the command it printed; a
partial-rights uninstall deleted half of MetalLB and then failed; its backup lacked the Secrets BGPPeers use and a
customised ConfigMap; deleting the namespace silently destroyed the user's own objects; a first install wrote without
asking; an install into a terminating namespace said "permission denied"; a manifest with an added cluster-admin
binding installed without a word. Then the round trip: uninstall -> install -> restore gives back the same objects.

This module installs MetalLB cluster-wide, so it has its own API server; its tests build on each other in file
order. No controllers run here: MetalLB's webhook has no server (its failurePolicy is set to Ignore so that
configuration can be written), and no namespace controller finalizes a deleted namespace (one test does what it
would do, and says so). The full cluster's version of the round trip is tests/e2e/test_safety_roundtrip.py.
"""

import json
import os

import pytest
import yaml

from helpers import interrupt_at_prompt, run_plugin, run_plugin_on_terminal
from .scenarios import Kubectl, kubeadm

NS = "metallb-system"
V0161_NATIVE = "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b"
PARTIAL_USER = "on-call-operator"
seen = {}


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


@pytest.fixture(scope="module")
def kube(controlplane):
    return Kubectl(controlplane.kubeconfig("admin"))


@pytest.fixture(scope="module")
def manifest(upstream_manifest):
    return ["--manifest", upstream_manifest("v0.16.1"), "--sha256", V0161_NATIVE]


def state(kube):
    """Every object MetalLB's install and configuration consist of, with its resourceVersion."""
    found = {}
    for kind in ("crd", "clusterrole", "clusterrolebinding", "validatingwebhookconfiguration", "namespace"):
        for item in json.loads(kube("get", kind, "-o", "json"))["items"]:
            if "metallb" in item["metadata"]["name"] and not item["metadata"]["name"].startswith("metallb-test"):
                found[(kind, item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    if (("namespace", NS)) in found:
        kinds = "all,cm,secret,sa,role,rolebinding,networkpolicy"
        if any(name.endswith("metallb.io") for kind, name in found if kind == "crd"):
            kinds += ",ipaddresspools,l2advertisements,bgppeers"
        for item in json.loads(kube("get", kinds, "-n", NS, "-o", "json"))["items"]:
            found[(item["kind"], item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    return found


def ignore_webhooks(kube):
    """No webhook server runs here: let the API server skip MetalLB's webhook so that configuration can be written."""
    hooks = json.loads(kube("get", "validatingwebhookconfiguration", "metallb-webhook-configuration", "-o",
                            "json"))["webhooks"]
    patch = [{"op": "replace", "path": f"/webhooks/{i}/failurePolicy", "value": "Ignore"} for i in range(len(hooks))]
    kube("patch", "validatingwebhookconfiguration", "metallb-webhook-configuration", "--type=json",
         "-p", json.dumps(patch))


# ------------------------------------------------------------------------------------------- strict-arp's backup


def test_strict_arp_backup_restores_with_the_command_it_prints(kube, admin, tmp_path):
    kube.apply(kubeadm())
    before = json.loads(kube("get", "configmap", "kube-proxy", "-n", "kube-system", "-o", "json"))
    backup = tmp_path / "kube-proxy.yaml"
    result = run_plugin("strict-arp", "--enable", "--yes", "--no-restart", "--backup", str(backup), env=admin)
    assert result.returncode == 0, result.stderr
    assert f"(or restore the backup: kubectl replace -f {backup})" in result.stdout
    saved = yaml.safe_load(backup.read_text())
    assert (saved["apiVersion"], saved["kind"]) == ("v1", "ConfigMap")  # a LIST item lacks them: put back
    assert not {"resourceVersion", "uid", "managedFields", "creationTimestamp"} & set(saved["metadata"])
    restored = kube("replace", "-f", str(backup))  # the command printed, as is
    assert restored.strip() == "configmap/kube-proxy replaced"
    after = json.loads(kube("get", "configmap", "kube-proxy", "-n", "kube-system", "-o", "json"))
    assert after["data"] == before["data"]  # every byte of the configuration is back

    code, out, err, asked = interrupt_at_prompt("strict-arp", "--enable", env=admin)
    assert asked and code == 130, err
    assert "    +  strictARP: true" in err  # the plan, with the diff, before the question
    unchanged = json.loads(kube("get", "configmap", "kube-proxy", "-n", "kube-system", "-o", "json"))
    assert unchanged["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]


# ------------------------------------------------------------------------------------------- install asks first


def test_a_first_install_without_a_terminal_needs_yes(admin, kube, manifest):
    result = run_plugin("install", "--no-wait", *manifest, env=admin)
    assert result.returncode == 2
    assert ("error: Install MetalLB v0.16.1 (native) in namespace metallb-system? Pass --yes to go ahead, or "
            "--dry-run to see the plan (there is no terminal to ask on). Nothing was changed") in result.stderr
    assert state(kube) == {}


def test_ctrl_c_at_the_install_question_writes_nothing(admin, kube, manifest):
    code, out, err, asked = interrupt_at_prompt("install", "--no-wait", *manifest, env=admin)
    assert asked and code == 130 and err.rstrip().endswith("interrupted")
    assert "namespace/metallb-system created" in err  # the plan was shown before the question
    assert state(kube) == {}


def test_a_manifest_with_an_added_cluster_admin_binding_needs_yes_even_on_a_terminal(admin, kube, upstream_manifest,
                                                                                     tmp_path):
    docs = [d for d in yaml.safe_load_all(open(upstream_manifest("v0.16.1"))) if d]
    docs.insert(-1, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                     "metadata": {"name": "metallb-helper"},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                     "subjects": [{"kind": "ServiceAccount", "name": "controller", "namespace": NS}]})
    tampered = tmp_path / "metallb-native.yaml"
    tampered.write_text(yaml.safe_dump_all(docs))
    code, out, err = run_plugin_on_terminal("install", "--no-wait", "--manifest", str(tampered), answer="y\n",
                                            env=admin)
    assert code == 2, err
    assert "--manifest is not a pinned release file; compared with MetalLB v0.16.1's metallb-native.yaml:" in err
    assert ("  added: ClusterRoleBinding metallb-helper (binds ClusterRole cluster-admin to ServiceAccount "
            "metallb-system/controller)") in err
    assert "warning: ClusterRoleBinding metallb-helper: binds cluster-admin" in err
    assert ("error: the manifest adds or changes RBAC or kinds compared with MetalLB v0.16.1/metallb-native.yaml "
            "(listed above): install it only if you trust where it comes from: pass --yes to go ahead") in err
    assert "[y/N]" not in err  # a terminal's answer is not enough
    assert state(kube) == {}
    plan = run_plugin("install", "--dry-run", "-o", "json", "--manifest", str(tampered), env=admin)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["provenance"]["risks"] == ["ClusterRoleBinding metallb-helper: binds cluster-admin"]


def test_install(admin, kube, manifest):
    result = run_plugin("install", "--no-wait", "--yes", *manifest, env=admin)
    assert result.returncode == 0, result.stderr
    assert "MetalLB v0.16.1 (native) installed in metallb-system: 26 created" in result.stderr
    ignore_webhooks(kube)
    kube("create", "secret", "generic", "bgp-auth", "-n", NS, "--type=kubernetes.io/basic-auth",
         "--from-literal=password=s3cret")
    kube("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "lab", "namespace": NS},
         "spec": {"addresses": ["198.51.100.0/28"]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement", "metadata": {"name": "lab", "namespace": NS},
         "spec": {"ipAddressPools": ["lab"]}},
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "tor", "namespace": NS},
         "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1",
                  "passwordSecret": {"name": "bgp-auth", "namespace": NS}}}]))
    # the interfaces L2 mode must leave alone, customised by hand
    kube("patch", "configmap", "metallb-excludel2", "-n", NS, "--type=merge", "--field-manager=hand-edit",
         "-p", json.dumps({"data": {"excludel2.yaml": 'announcedInterfacesToExclude: ["^eth9$"]\n'}}))
    seen["configuration"] = configuration(kube)


def configuration(kube):
    """What uninstall must give back: the configuration, the password Secret, the customised ConfigMap."""
    found = {}
    for kind in ("ipaddresspools", "l2advertisements", "bgppeers"):
        for item in json.loads(kube("get", kind, "-n", NS, "-o", "json"))["items"]:
            found[(item["kind"], item["metadata"]["name"])] = item["spec"]
    found["secret"] = json.loads(kube("get", "secret", "bgp-auth", "-n", NS, "-o", "json"))["data"]
    found["excludel2"] = json.loads(kube("get", "configmap", "metallb-excludel2", "-n", NS, "-o", "json"))["data"]
    return found


# ------------------------------------------------------------------------------------------- uninstall


def test_a_partial_rights_user_gets_exit_3_and_nothing_is_deleted(admin, kube, tmp_path):
    # may read everything and delete what lives in MetalLB's namespace, but not CRDs, ClusterRoles, webhooks or
    # namespaces: the user that used to leave MetalLB half removed
    kube("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": PARTIAL_USER},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                   {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"],
                    "verbs": ["create"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": PARTIAL_USER},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": PARTIAL_USER},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": PARTIAL_USER}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": PARTIAL_USER, "namespace": NS},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["delete"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": PARTIAL_USER, "namespace": NS},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": PARTIAL_USER},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": PARTIAL_USER}]}]))
    before = state(kube)
    backup = tmp_path / "never.yaml"
    result = run_plugin("uninstall", "--yes", "--keep-namespace", "--backup", str(backup), "--as", PARTIAL_USER,
                        env=admin)
    assert result.returncode == 3, result.stderr
    missing = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert missing == [
        "delete validatingwebhookconfigurations.admissionregistration.k8s.io (cluster-wide)",
        "delete clusterrolebindings.rbac.authorization.k8s.io (cluster-wide)",
        "delete clusterroles.rbac.authorization.k8s.io (cluster-wide)",
        "delete customresourcedefinitions.apiextensions.k8s.io (cluster-wide)"]
    assert "error: permission denied: 4 permission(s) this needs are missing (listed above); nothing was changed" \
        in result.stderr
    assert state(kube) == before and not backup.exists()
    status = run_plugin("status", "-o", "json", env=admin)
    assert json.loads(status.stdout)["installation"]["version"] == "v0.16.1"  # still installed, nothing half gone


def test_uninstall_names_what_deleting_the_namespace_would_destroy(admin, kube, tmp_path):
    kube("create", "secret", "generic", "mine", "-n", NS, "--from-literal=token=abc")
    kube("create", "configmap", "config", "-n", NS, "--from-literal=config=address-pools: []")  # the legacy one
    kube("apply", "-f", "-", input=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "allow-bgp", "namespace": NS},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 179}]}]}}))
    before = state(kube)
    result = run_plugin("uninstall", "--yes", "--backup", str(tmp_path / "never.yaml"), env=admin)
    assert result.returncode == 1
    listed = sorted(line.strip() for line in result.stderr.splitlines() if line.startswith("  "))
    assert listed == ["configmap/config", "networkpolicy.networking.k8s.io/allow-bgp",
                      f"role.rbac.authorization.k8s.io/{PARTIAL_USER}",
                      f"rolebinding.rbac.authorization.k8s.io/{PARTIAL_USER}", "secret/mine"]
    assert ("namespace metallb-system holds 5 object(s) that are not MetalLB's (listed above) and deleting it would "
            "delete them too: pass --keep-namespace to remove MetalLB and keep the namespace, or --delete-namespace")\
        in result.stderr
    assert state(kube) == before and not (tmp_path / "never.yaml").exists()


def test_uninstall_dry_run_and_ctrl_c_at_its_question_change_nothing(admin, kube, tmp_path):
    before = state(kube)
    backup = tmp_path / "never.yaml"
    dry = run_plugin("uninstall", "--dry-run", "--delete-namespace", "--backup", str(backup), "-o", "json", env=admin)
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    assert doc["dryRun"] is True and {o["result"] for o in doc["objects"]} == {"deleted"}
    assert any(n.startswith("deleting namespace metallb-system also deletes: configmap/config") for n in doc["notes"])
    assert doc["secrets"] == [f"{NS}/bgp-auth"]
    code, out, err, asked = interrupt_at_prompt("uninstall", "--delete-namespace", "--backup", str(backup), env=admin)
    assert asked and code == 130, err
    assert f"note: first backs up 5 object(s) to {backup}, with Secret(s) {NS}/bgp-auth" in err
    assert state(kube) == before and not backup.exists()


def test_uninstall_backs_up_deletes_and_names_what_holds_the_namespace(admin, kube, tmp_path_factory):
    backup = tmp_path_factory.mktemp("uninstall") / "backup.yaml"
    result = run_plugin("uninstall", "--yes", "--delete-namespace", "--backup", str(backup), "--timeout", "3s",
                        env=admin)
    # no namespace controller runs on this API server: the namespace stays Terminating, held by its finalizer
    assert result.returncode == 4, result.stderr
    assert "note: the backup holds Secret(s) metallb-system/bgp-auth (BGP passwords): keep it private" in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: still being deleted after 3s: namespace metallb-system is still Terminating since ")
    assert "finalizers: kubernetes (the namespace controller of kube-controller-manager empties it" in error
    assert oct(os.stat(backup).st_mode & 0o777) == "0o600"
    saved = [d for d in yaml.safe_load_all(backup.read_text()) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in saved] == [
        ("Secret", "bgp-auth"), ("ConfigMap", "metallb-excludel2"), ("IPAddressPool", "lab"), ("BGPPeer", "tor"),
        ("L2Advertisement", "lab")]
    assert all(not {"uid", "resourceVersion", "managedFields", "creationTimestamp"} & set(d["metadata"])
               for d in saved)
    # MetalLB is gone; what is left is what the namespace controller (not running here) would delete with it
    assert sorted(k for k in state(kube) if k[0] != "namespace") == [
        ("ConfigMap", "config"), ("NetworkPolicy", "allow-bgp"), ("Role", PARTIAL_USER), ("RoleBinding", PARTIAL_USER),
        ("Secret", "bgp-auth"), ("Secret", "mine")]
    seen["backup"] = str(backup)


def test_an_install_while_the_namespace_terminates_says_so(admin, kube, manifest):
    result = run_plugin("install", "--no-wait", "--yes", *manifest, env=admin)
    assert result.returncode == 1
    assert ("error: namespace metallb-system is being deleted (Terminating since " in result.stderr
            and "finalizers: kubernetes" in result.stderr)
    assert "Wait until `kubectl get namespace metallb-system` says NotFound, then run install again" in result.stderr
    assert "permission denied" not in result.stderr
    assert not [k for k in state(kube) if k[0] in ("crd", "Deployment", "validatingwebhookconfiguration")]


def test_install_again_and_restore_gives_back_the_same_objects(admin, kube, manifest, controlplane):
    # what the namespace controller does (none runs here): delete what is left in the namespace, then remove its
    # finalizer
    kube("delete", "configmap,networkpolicy,role,rolebinding,secret", "--all", "-n", NS)
    namespace = json.loads(kube("get", "namespace", NS, "-o", "json"))
    namespace["spec"]["finalizers"] = []
    kube("replace", "--raw", f"/api/v1/namespaces/{NS}/finalize", "-f", "-", input=json.dumps(namespace))
    installed = run_plugin("install", "--no-wait", "--yes", *manifest, env=admin)
    assert installed.returncode == 0, installed.stderr
    ignore_webhooks(kube)
    before = state(kube)
    code, out, err, asked = interrupt_at_prompt("restore", seen["backup"], env=admin)
    assert asked and code == 130 and state(kube) == before

    restored = run_plugin("restore", seen["backup"], "--yes", env=admin)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.splitlines() == [
        "secret/bgp-auth created", "configmap/metallb-excludel2 changed", "ipaddresspool.metallb.io/lab created",
        "bgppeer.metallb.io/tor created", "l2advertisement.metallb.io/lab created"]
    assert configuration(kube) == seen["configuration"]
    again = run_plugin("restore", seen["backup"], env=admin)  # nothing left to do: no question, no write
    assert again.returncode == 0 and "nothing to restore" in again.stderr
