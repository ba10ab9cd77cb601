"""Every branch of the one write path (writes.carry_out) in process, through the commands that use it: dry runs,
permission checks, refusals, questions, Ctrl-C, failures midway, and the backups uninstall writes and restore reads.

What only the real API server can show (RBAC, field managers, admission, namespace finalization) is in
tests/cluster/test_safety.py.
"""

import io
import json
import os

import yaml

from metallb_plugin import cli, errors
from unit.inprocess import FakeCluster, context, run_cli

NS = "metallb-system"
POOLS = f"/apis/metallb.io/v1beta1/namespaces/{NS}/ipaddresspools"
L2ADS = f"/apis/metallb.io/v1beta1/namespaces/{NS}/l2advertisements"
NAMESPACE = {"kind": "Namespace", "metadata": {"name": NS}}


def pool(name, addresses, **meta):
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": name, "namespace": NS,
            **meta}, "spec": {"addresses": [addresses]}}  # fmt: skip


def l2(name, pools, **meta):
    return {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
            "metadata": {"name": name, "namespace": NS, **meta}, "spec": {"ipAddressPools": pools}}  # fmt: skip


def create(fake, *flags, **kwargs):
    return run_cli("pools", "create", "lan", "--addresses", "192.0.2.0/28", "--l2", *flags, cluster=fake, **kwargs)


# ------------------------------------------------------------------------------------------- dry run, -o


def test_dry_run_asks_the_server_and_writes_nothing():
    fake = FakeCluster([NAMESPACE])
    result = create(fake, "--dry-run")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ipaddresspool.metallb.io/lan created (server dry run)",
        "l2advertisement.metallb.io/lan created (server dry run)",
    ]
    assert ("POST (dry run)", f"{POOLS}/lan") in fake.calls and fake.writes() == []


def test_the_plan_as_json():
    fake = FakeCluster([NAMESPACE])
    doc = json.loads(create(fake, "--dry-run", "-o", "json").stdout)
    assert doc["operation"] == "pools create" and doc["dryRun"] is True
    assert [(o["kind"], o["result"]) for o in doc["objects"]] == [
        ("IPAddressPool", "created"), ("L2Advertisement", "created")]  # fmt: skip
    applied = yaml.safe_load(create(fake, "--yes", "-o", "yaml").stdout)
    assert applied["dryRun"] is False and applied["summary"]["created"] == 2


# ------------------------------------------------------------------------------------------- permissions


def test_every_missing_permission_is_listed_and_nothing_is_written():
    fake = FakeCluster([NAMESPACE], allowed=lambda verb, resource, group, namespace: resource == "ipaddresspools")
    result = create(fake, "--yes")
    assert result.code == 3
    assert "  create l2advertisements.metallb.io in namespace metallb-system" in result.stderr
    assert "error: permission denied: 1 permission(s) this needs are missing (listed above); nothing was changed" in (
        result.stderr
    )
    assert fake.writes() == []


def test_a_dry_run_the_server_forbids_is_listed_too():
    fake = FakeCluster([NAMESPACE])  # access reviews say yes, but the server refuses the grant (RBAC escalation)
    forbidden = errors.Forbidden(403, "Forbidden", "attempting to grant RBAC permissions not currently held", "POST",
                                 f"{L2ADS}/lan")  # fmt: skip
    fake.fail("POST (dry run)", f"{L2ADS}/lan", forbidden)
    result = create(fake, "--yes")
    assert result.code == 3
    assert "  l2advertisement.metallb.io/lan in metallb-system: attempting to grant RBAC permissions" in result.stderr
    assert fake.writes() == []


def test_a_namespace_being_deleted_is_said_so_not_permission_denied():
    fake = FakeCluster([NAMESPACE])
    terminating = errors.Forbidden(403, "Forbidden", 'unable to create new content in namespace metallb-system '
                                   "because it is being terminated", "POST", POOLS)  # fmt: skip
    fake.fail("POST (dry run)", f"{POOLS}/lan", terminating)
    result = create(fake, "--yes")
    assert result.code == 1
    assert "namespace metallb-system is being deleted (Terminating)" in result.stderr
    assert "permission denied" not in result.stderr


# ------------------------------------------------------------------------------------------- asking


def test_without_a_terminal_and_without_yes_it_refuses():
    fake = FakeCluster([NAMESPACE])
    result = create(fake)
    assert result.code == 2
    assert (
        "Create IPAddressPool lan and its L2Advertisement lan in namespace metallb-system? Pass --yes to go ahead"
        in (result.stderr)
    )
    assert fake.writes() == []


def test_on_a_terminal_it_shows_the_plan_and_asks():
    fake = FakeCluster([NAMESPACE])
    declined = create(fake, tty=True, stdin="n\n")
    assert declined.code == 1 and "pools create cancelled; nothing was changed" in declined.stderr
    assert "ipaddresspool.metallb.io/lan created\nl2advertisement.metallb.io/lan created\n" in declined.stderr
    assert fake.writes() == []
    accepted = create(fake, tty=True, stdin="y\n")
    assert accepted.code == 0 and len(fake.writes()) == 2


class Interrupted(io.StringIO):
    def readline(self, *args):
        raise KeyboardInterrupt


def test_ctrl_c_at_the_question_writes_nothing(tmp_path):
    fake = FakeCluster([NAMESPACE])
    ctx = context(fake, tty=True)
    ctx.stdin = Interrupted()
    code = cli.main(["pools", "create", "lan", "--addresses", "192.0.2.0/28"], ctx)
    assert code == 130 and ctx.stderr.getvalue().endswith("interrupted\n")
    assert fake.writes() == []


# ------------------------------------------------------------------------------------------- ownership


def test_pools_delete_leaves_advertisements_it_did_not_make_unless_overwrite():
    ours = {"labels": {"app.kubernetes.io/managed-by": "kubectl-metallb"}}
    fake = FakeCluster([pool("lan", "192.0.2.0/28", **ours), l2("lan", ["lan"], **ours), l2("mine", ["lan", "dmz"])])
    refused = run_cli("pools", "delete", "lan", "--yes", cluster=fake)
    assert refused.code == 1
    assert ("error: l2advertisement.metallb.io/mine in metallb-system: it names pool lan but was not made for it by "
            "kubectl metallb pools create. Nothing was changed; --overwrite changes objects kubectl metallb does not "
            "own") in refused.stderr  # fmt: skip
    assert fake.writes() == []
    done = run_cli("pools", "delete", "lan", "--yes", "--overwrite", cluster=fake)
    assert done.code == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ipaddresspool.metallb.io/lan deleted",
        "l2advertisement.metallb.io/lan deleted",
        "l2advertisement.metallb.io/mine changed",
    ]
    assert fake.object(f"{L2ADS}/mine")["spec"]["ipAddressPools"] == ["dmz"]


LEGACY = """
address-pools:
- name: {name}
  protocol: layer2
  addresses: [{addresses}]
"""


def migrate(fake, tmp_path, name, addresses, *flags):
    path = tmp_path / f"{name}.yaml"
    path.write_text(LEGACY.format(name=name, addresses=addresses))
    return run_cli("pools", "migrate", "--file", str(path), "-n", NS, "--apply", *flags, cluster=fake)


def test_a_second_migration_never_rewrites_the_first_ones_objects(tmp_path):
    fake = FakeCluster([NAMESPACE])
    first = migrate(fake, tmp_path, "office", "192.0.2.0/28", "--yes")
    assert first.code == 0, first.stderr
    before = fake.object(f"{L2ADS}/l2advertisement1")
    assert before["metadata"]["annotations"]["kubectl-metallb/purpose"] == "pools migrate from file office.yaml"
    again = migrate(fake, tmp_path, "office", "192.0.2.0/28", "--yes")  # the same migration: nothing to do
    assert again.code == 0 and "l2advertisement.metallb.io/l2advertisement1 unchanged" in again.stdout
    writes = len(fake.writes())
    second = migrate(fake, tmp_path, "lab", "198.51.100.0/28", "--yes")  # its advertisement gets the same name
    assert second.code == 1
    assert ("l2advertisement.metallb.io/l2advertisement1 in metallb-system: kubectl metallb created it for another "
            "purpose (pools migrate from file office.yaml)") in second.stderr  # fmt: skip
    assert len(fake.writes()) == writes  # nothing applied, not even the new pool
    assert fake.object(f"{L2ADS}/l2advertisement1")["spec"] == before["spec"]


# ------------------------------------------------------------------------------------------- failures midway


def crd(kind, plural, version="v1beta1"):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.metallb.io"},
            "spec": {"group": "metallb.io", "names": {"kind": kind, "plural": plural}, "scope": "Namespaced",
                     "versions": [{"name": version, "served": True, "storage": True}]}}  # fmt: skip


MANIFEST = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    crd("IPAddressPool", "ipaddresspools"),
    crd("L2Advertisement", "l2advertisements"),
    crd("BGPPeer", "bgppeers", "v1beta2"),
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "controller", "namespace": NS}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "metallb-excludel2", "namespace": NS},
     "data": {"excludel2.yaml": "announcedInterfacesToExclude: [\"^lo$\"]\n"}},
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "speaker", "namespace": NS},
     "spec": {"template": {"spec": {"containers": [{"name": "speaker", "image": "quay.io/metallb/speaker:v0.16.1"}],
                                    "volumes": [{"name": "m", "secret": {"secretName": "memberlist"}}]}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "controller", "namespace": NS},
     "spec": {"template": {"spec": {"containers": [{"name": "controller",
                                                    "image": "quay.io/metallb/controller:v0.16.1"}]}}}},
]  # fmt: skip


def install(fake, tmp_path, *flags):
    path = tmp_path / "metallb.yaml"
    path.write_text(yaml.safe_dump_all(MANIFEST))
    return run_cli("install", "--manifest", str(path), "--no-wait", *flags, cluster=fake)


def test_a_failure_midway_says_what_was_applied_and_how_to_finish(tmp_path):
    fake = FakeCluster()
    speaker = f"/apis/apps/v1/namespaces/{NS}/daemonsets/speaker"
    fake.fail("APPLY", speaker, errors.APIError(500, "InternalError", "etcdserver: request timed out", "PATCH",
                                                  speaker))  # fmt: skip
    result = install(fake, tmp_path, "--yes")
    assert result.code == 1
    error = result.stderr.splitlines()[-1]
    assert error.startswith("error: daemonset.apps/speaker failed: etcdserver: request timed out. Applied before it "
                            "(6 of 8): namespace/metallb-system created, ")  # fmt: skip
    assert error.endswith("configmap/metallb-excludel2 created. Not applied: daemonset.apps/speaker, "
                          "deployment.apps/controller. Run the same install again to finish it, or `kubectl metallb "
                          "uninstall -n metallb-system` to remove what was applied")  # fmt: skip
    again = install(fake, tmp_path, "--yes")
    assert again.code == 0, again.stderr
    assert "2 created, 0 changed, 6 unchanged" in again.stderr


def test_install_into_a_terminating_namespace_says_what_to_wait_for(tmp_path):
    going = {"kind": "Namespace", "metadata": {"name": NS, "deletionTimestamp": "2026-01-02T03:00:00Z"},
             "spec": {"finalizers": ["kubernetes"]},
             "status": {"phase": "Terminating", "conditions": [{"type": "NamespaceContentRemaining", "status": "True",
                        "message": "Some resources are remaining: pods. has 1 resource instances"}]}}  # fmt: skip
    fake = FakeCluster([going])
    result = install(fake, tmp_path, "--yes")
    assert result.code == 1
    assert (
        "namespace metallb-system is being deleted (Terminating since 2026-01-02T03:00:00Z; finalizers: "
        "kubernetes; Some resources are remaining: pods. has 1 resource instances)"
    ) in result.stderr
    assert "permission denied" not in result.stderr and fake.writes() == []


# ------------------------------------------------------------------------------------------- uninstall and restore


PEER = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "tor", "namespace": NS},
        "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1", "passwordSecret": {"name": "bgp"}}}  # fmt: skip
SECRET = {"kind": "Secret", "metadata": {"name": "bgp", "namespace": NS}, "type": "kubernetes.io/basic-auth",
          "stringData": {"password": "s3cret"}}  # fmt: skip
MINE = {"kind": "Secret", "metadata": {"name": "mine", "namespace": NS}}


def installed_with_configuration(tmp_path):
    fake = FakeCluster()
    assert install(fake, tmp_path, "--yes").code == 0
    for obj in (pool("lan", "192.0.2.0/28"), l2("lan", ["lan"]), PEER, SECRET):
        fake.add(obj)
    cm = f"/api/v1/namespaces/{NS}/configmaps/metallb-excludel2"
    edited = fake.object(cm)
    edited["data"]["excludel2.yaml"] = 'announcedInterfacesToExclude: ["^eth9$"]\n'
    edited["metadata"]["managedFields"].append({"manager": "kubectl-edit", "operation": "Update",
                                                "fieldsV1": {"f:data": {"f:excludel2.yaml": {}}}})  # fmt: skip
    fake.store[cm] = edited
    fake.calls.clear()
    return fake


def test_uninstall_refuses_to_delete_a_namespace_holding_objects_that_are_not_metallbs(tmp_path):
    fake = installed_with_configuration(tmp_path)
    fake.add(MINE)
    fake.add({"kind": "Secret", "metadata": {"name": "memberlist", "namespace": NS}})  # the controller made it
    refused = run_cli("uninstall", "--yes", "--backup", str(tmp_path / "b.yaml"), cluster=fake)
    assert refused.code == 1
    assert refused.stderr.splitlines()[0] == "  secret/mine"
    assert "pass --keep-namespace to remove MetalLB and keep the namespace, or --delete-namespace" in refused.stderr
    assert fake.writes() == [] and not (tmp_path / "b.yaml").exists()
    kept = run_cli("uninstall", "--yes", "--keep-namespace", "--backup", str(tmp_path / "b.yaml"), cluster=fake)
    assert kept.code == 0, kept.stderr
    assert "namespace/metallb-system left alone (kept: --keep-namespace)" in kept.stdout
    assert fake.object(f"/api/v1/namespaces/{NS}/secrets/mine") is not None


def test_uninstall_backup_holds_password_secrets_and_changed_configmaps_and_restores(tmp_path):
    fake = installed_with_configuration(tmp_path)
    backup = tmp_path / "backup.yaml"
    result = run_cli("uninstall", "--yes", "--backup", str(backup), cluster=fake)
    assert result.code == 0, result.stderr
    assert "note: the backup holds Secret(s) metallb-system/bgp (BGP passwords): keep it private" in result.stderr
    assert f"kubectl metallb restore {backup}" in result.stderr
    assert oct(os.stat(backup).st_mode & 0o777) == "0o600"
    saved = [d for d in yaml.safe_load_all(backup.read_text()) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in saved] == [
        ("Secret", "bgp"), ("ConfigMap", "metallb-excludel2"), ("IPAddressPool", "lan"), ("BGPPeer", "tor"),
        ("L2Advertisement", "lan")]  # fmt: skip
    assert all(d["apiVersion"] and "resourceVersion" not in d["metadata"] for d in saved)
    assert fake.store == {}

    assert install(fake, tmp_path, "--yes").code == 0
    restored = run_cli("restore", str(backup), "--yes", cluster=fake)
    assert restored.code == 0, restored.stderr
    assert "configmap/metallb-excludel2 changed" in restored.stdout  # back to the customised one
    assert "^eth9$" in fake.object(f"/api/v1/namespaces/{NS}/configmaps/metallb-excludel2")["data"]["excludel2.yaml"]
    assert fake.object(f"/api/v1/namespaces/{NS}/secrets/bgp")["stringData"] == {"password": "s3cret"}
    again = run_cli("restore", str(backup), "--yes", cluster=fake)
    assert again.code == 0 and "nothing to restore" in again.stderr


def test_restore_refuses_to_change_objects_it_did_not_make_and_needs_metallb(tmp_path):
    backup = tmp_path / "backup.yaml"
    backup.write_text(yaml.safe_dump_all([pool("lan", "192.0.2.0/28")]))
    fake = FakeCluster([NAMESPACE, pool("lan", "198.51.100.0/28")])
    refused = run_cli("restore", str(backup), "--yes", cluster=fake)
    assert refused.code == 1 and "it exists and was not created by kubectl metallb" in refused.stderr
    assert fake.writes() == []
    forced = run_cli("restore", str(backup), "--yes", "--overwrite", cluster=fake)
    assert forced.code == 0, forced.stderr
    list_file = tmp_path / "list.yaml"
    list_file.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "frrk8s.metallb.io/v1beta1", "kind": "FRRConfiguration", "metadata": {"name": "x"}}]}))  # fmt: skip
    missing = run_cli("restore", str(list_file), "--yes", cluster=fake)
    assert missing.code == 1 and "install MetalLB first" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: IPAddressPool\nmetadata: {name: x}\n")
    assert run_cli("restore", str(bad), cluster=fake).code == 2
