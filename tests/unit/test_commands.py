"""Command branches in process: an injected I/O context and an in-memory cluster (unit/inprocess.py).

What only the real API server can show (RBAC, server-side apply conflicts between field managers, admission) is
tested in tests/cluster; here each branch of a command runs in milliseconds: conflicts and retries, refusals,
rollback, ordering, waits that time out.
"""

import json
import os

import yaml

from metallb_plugin import errors
from unit.inprocess import Clock, FakeCluster, run_cli

NS = "metallb-system"
KUBE_PROXY_CONFIG = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: false\n"


def kube_proxy(updated_replicas=1):
    configmap = {
        "kind": "ConfigMap",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
        "data": {"config.conf": KUBE_PROXY_CONFIG},
    }
    daemonset = {
        "kind": "DaemonSet",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "generation": 1},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "kube-proxy",
                            "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"],
                            "volumeMounts": [{"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"}],
                        }
                    ],
                    "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}],
                }
            },
        },
        "status": {
            "desiredNumberScheduled": 1,
            "numberReady": 1,
            "updatedNumberScheduled": updated_replicas,
            "numberAvailable": 1,
            "observedGeneration": 1,
        },
    }
    return [configmap, daemonset]


CONFIGMAP = "/api/v1/namespaces/kube-system/configmaps/kube-proxy"
DAEMONSET = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"


# --------------------------------------------------------------------------------------------- strict-arp


def test_strict_arp_enable_writes_conditionally_records_and_restarts():
    fake = FakeCluster(kube_proxy())
    result = run_cli("strict-arp", "--enable", "--yes", cluster=fake)
    assert result.code == 0, result.stderr
    written = fake.object(CONFIGMAP)
    assert "strictARP: true" in written["data"]["config.conf"]
    previous = json.loads(written["metadata"]["annotations"]["metallb.io/strict-arp-previous"])
    assert previous == {"key": "config.conf", "strictARP": False, "time": "2026-01-02T03:04:05Z"}
    template = fake.object(DAEMONSET)["spec"]["template"]
    assert template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == "2026-01-02T03:04:05Z"
    assert fake.writes() == [("PUT", CONFIGMAP), ("PATCH", DAEMONSET)]
    assert "ipvs.strictARP set to true" in result.stdout and "to undo: kubectl metallb strict-arp --disable" in (
        result.stdout
    )


def test_strict_arp_conflict_rereads_and_keeps_the_other_writers_change():
    fake = FakeCluster(kube_proxy())
    other = fake.object(CONFIGMAP)
    other["data"]["config.conf"] = "# tuned by someone else\n" + other["data"]["config.conf"]

    def someone_else_writes_first():
        fake.store[CONFIGMAP] = fake.add(other)  # a newer resourceVersion: our PUT's precondition fails
        return errors.Conflict(409, "Conflict", "the object has been modified", "PUT", CONFIGMAP)

    fake.fail("PUT", CONFIGMAP, someone_else_writes_first())
    result = run_cli("strict-arp", "--enable", "--yes", "--no-restart", cluster=fake)
    assert result.code == 0, result.stderr
    assert "was changed by someone else meanwhile: reading it again (attempt 2 of 5)" in result.stderr
    text = fake.object(CONFIGMAP)["data"]["config.conf"]
    assert text.startswith("# tuned by someone else\n") and "strictARP: true" in text
    assert [m for m, _ in fake.writes()] == ["PUT", "PUT"]


def test_strict_arp_gives_up_when_the_configmap_keeps_changing():
    fake = FakeCluster(kube_proxy())
    fake.fail("PUT", CONFIGMAP, errors.Conflict(409, "Conflict", "modified", "PUT", CONFIGMAP), times=5)
    result = run_cli("strict-arp", "--enable", "--yes", cluster=fake)
    assert result.code == 1
    assert "kept changing while writing it (5 attempts): nothing was changed" in result.stderr
    assert "strictARP: false" in fake.object(CONFIGMAP)["data"]["config.conf"]


def test_strict_arp_refuses_without_a_terminal_and_asks_on_one():
    fake = FakeCluster(kube_proxy())
    refused = run_cli("strict-arp", "--enable", cluster=fake)
    assert refused.code == 2 and "Pass --yes to go ahead" in refused.stderr and "no terminal" in refused.stderr
    declined = run_cli("strict-arp", "--enable", cluster=fake, stdin="n\n", tty=True)
    assert declined.code == 1 and "strict-arp cancelled; nothing was changed" in declined.stderr
    assert "    +  strictARP: true" in declined.stderr  # the plan, with the diff, is shown before the question
    assert fake.writes() == []


def test_strict_arp_backup_is_written_before_the_change(tmp_path):
    fake = FakeCluster(kube_proxy())
    backup = tmp_path / "kube-proxy.yaml"
    result = run_cli("strict-arp", "--enable", "--yes", "--no-restart", "--backup", str(backup), cluster=fake)
    assert result.code == 0, result.stderr
    saved = yaml.safe_load(backup.read_text())
    assert saved["data"]["config.conf"] == KUBE_PROXY_CONFIG and "resourceVersion" not in saved["metadata"]
    assert oct(os.stat(backup).st_mode & 0o777) == "0o600"
    assert f"kubectl replace -f {backup}" in result.stdout


def test_strict_arp_wait_times_out_naming_the_rollout():
    fake = FakeCluster(kube_proxy(updated_replicas=0))
    clock = Clock()
    result = run_cli("strict-arp", "--enable", "--yes", "--wait", "--timeout", "10s", cluster=fake, clock=clock)
    assert result.code == 4
    assert "the kube-proxy rollout did not complete within 10s" in result.stderr
    assert 10 <= clock.elapsed < 13  # polled every 2s until the deadline, then stopped


# --------------------------------------------------------------------------------------------- pools


def metallb_crds_served(fake):
    return fake  # the fake serves metallb.io kinds (CORE_KINDS); an empty list is "no pools"


def test_pools_create_refuses_before_writing_when_the_server_rejects_its_advertisement():
    fake = FakeCluster([{"kind": "Namespace", "metadata": {"name": NS}}])
    ads = f"/apis/metallb.io/v1beta1/namespaces/{NS}/l2advertisements/lan"
    invalid = errors.Invalid(422, "Invalid", "spec.interfaces: Invalid value", "POST", ads)
    fake.fail("POST (dry run)", ads, invalid)
    result = run_cli("pools", "create", "lan", "--addresses", "192.0.2.10-192.0.2.20", "--l2", "--yes", cluster=fake)
    assert result.code == 1
    assert (
        "error: l2advertisement.metallb.io/lan in metallb-system: rejected by the API server: spec.interfaces: "
        "Invalid value. Nothing was changed"
    ) in result.stderr
    assert fake.writes() == []


def test_pools_create_rolls_the_pool_back_when_its_advertisement_fails():
    fake = FakeCluster([{"kind": "Namespace", "metadata": {"name": NS}}])
    ads = f"/apis/metallb.io/v1beta1/namespaces/{NS}/l2advertisements/lan"
    fake.fail("POST", ads, errors.Invalid(422, "Invalid", "spec.interfaces: Invalid value", "POST", ads))
    result = run_cli("pools", "create", "lan", "--addresses", "192.0.2.10-192.0.2.20", "--l2", "--yes", cluster=fake)
    assert result.code == 1
    assert (
        "error: l2advertisement.metallb.io/lan failed: spec.interfaces: Invalid value. Applied before it (1 of 2): "
        "ipaddresspool.metallb.io/lan created. Removed again: ipaddresspool.metallb.io/lan."
    ) in result.stderr
    pool = f"/apis/metallb.io/v1beta1/namespaces/{NS}/ipaddresspools/lan"
    assert pool not in fake.store
    assert fake.writes() == [("POST", pool), ("POST", ads), ("DELETE", pool)]


def test_pools_create_waits_for_the_webhook_then_gives_up():
    fake = FakeCluster()
    pool = f"/apis/metallb.io/v1beta1/namespaces/{NS}/ipaddresspools/lan"
    down = errors.APIError(
        500,
        "InternalError",
        'failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": connect: connection refused',
        "POST",
        pool,
    )
    fake.fail("POST (dry run)", pool, down, times=100)  # the dry run, the first request, already waits
    clock = Clock()
    result = run_cli(
        "pools", "create", "lan", "--addresses", "192.0.2.0/28", "--timeout", "20s", "--yes", cluster=fake, clock=clock
    )
    assert result.code == 4
    assert (
        "MetalLB's admission webhook did not accept ipaddresspool.metallb.io/lan within 20s (connection refused)"
        in result.stderr
    )
    assert clock.sleeps[:4] == [1.0, 2.0, 4.0, 8.0]  # backing off


def test_pools_delete_refuses_while_services_hold_its_addresses():
    pool = {
        "kind": "IPAddressPool",
        "apiVersion": "metallb.io/v1beta1",
        "metadata": {"name": "lan", "namespace": NS},
        "spec": {"addresses": ["192.0.2.0/28"]},
    }
    service = {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.3"}]}},
    }
    fake = FakeCluster([pool, service])
    result = run_cli("pools", "delete", "lan", "--yes", cluster=fake)
    assert result.code == 1 and "apps/web" in result.stderr
    assert fake.writes() == []


# --------------------------------------------------------------------------------------------- install, uninstall

MANIFEST_OBJECTS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "speaker", "namespace": NS, "labels": {"app": "metallb", "component": "speaker"}},
        "spec": {"template": {"spec": {"containers": [{"name": "speaker", "image": "quay.io/metallb/speaker:{tag}"}]}}},
    },
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "controller", "namespace": NS}},
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "controller", "namespace": NS, "labels": {"app": "metallb", "component": "controller"}},
        "spec": {
            "template": {"spec": {"containers": [{"name": "controller", "image": "quay.io/metallb/controller:{tag}"}]}}
        },
    },
]


def manifest(tmp_path, tag):
    text = yaml.safe_dump_all(MANIFEST_OBJECTS).replace("{tag}", tag)
    path = tmp_path / f"metallb-{tag}.yaml"
    path.write_text(text)
    return str(path)


def installed(tag):
    return [
        yaml.safe_load(yaml.safe_dump(o).replace("{tag}", tag))
        for o in MANIFEST_OBJECTS
        if o["kind"] in ("Namespace", "Deployment", "DaemonSet")
    ]


def test_install_applies_in_dependency_order_and_records_what_it_applied(tmp_path):
    fake = FakeCluster()
    result = run_cli("install", "--manifest", manifest(tmp_path, "v0.15.3"), "--no-wait", "--yes", cluster=fake)
    assert result.code == 0, result.stderr
    applied = [p for m, p in fake.writes() if m == "APPLY"]
    inventory = f"/api/v1/namespaces/{NS}/configmaps/kubectl-metallb-install"
    assert applied == [
        f"/api/v1/namespaces/{NS}",
        inventory,  # recorded right after the namespace, before anything else: an interrupted install is known
        f"/api/v1/namespaces/{NS}/serviceaccounts/controller",
        f"/apis/apps/v1/namespaces/{NS}/daemonsets/speaker",  # workloads keep the manifest's order
        f"/apis/apps/v1/namespaces/{NS}/deployments/controller",
        inventory,  # then with the uid of every object: uninstall deletes those, not objects made again since
    ]
    refs = json.loads(fake.object(inventory)["data"]["objects"])
    assert [r["kind"] for r in refs] == ["Namespace", "ServiceAccount", "DaemonSet", "Deployment"]
    assert refs[0]["uid"] == fake.object(f"/api/v1/namespaces/{NS}")["metadata"]["uid"]
    assert "MetalLB v0.15.3 (native) installed in metallb-system: 4 created, 0 changed, 0 unchanged" in result.stderr
    assert "warning: no --sha256 given" in result.stderr


def test_install_refuses_a_downgrade_without_force(tmp_path):
    fake = FakeCluster(installed("v0.16.1"))
    result = run_cli("install", "--manifest", manifest(tmp_path, "v0.15.3"), "--yes", cluster=fake)
    assert result.code == 1
    assert "MetalLB v0.16.1 is installed; v0.15.3 is older. Downgrades are not supported upstream" in result.stderr
    assert fake.writes() == []


def test_install_upgrade_asks_and_a_no_changes_nothing(tmp_path):
    fake = FakeCluster()
    assert run_cli("install", "--manifest", manifest(tmp_path, "v0.15.3"), "--no-wait", "-y", cluster=fake).code == 0
    fake.calls.clear()
    result = run_cli("install", "--manifest", manifest(tmp_path, "v0.16.1"), cluster=fake, stdin="no\n", tty=True)
    assert result.code == 1 and "install cancelled; nothing was changed" in result.stderr
    assert "Upgrade MetalLB in metallb-system from v0.15.3 (native) to v0.16.1 (native)? [y/N]" in result.stderr
    assert "deployment.apps/controller changed" in result.stderr  # the plan is shown before the question
    assert "~ spec.template.spec.containers[name=controller].image: quay.io/metallb/controller:v0.15.3 -> " in (
        result.stderr
    )
    assert fake.writes() == []


def test_install_of_objects_installed_another_way_needs_force_conflicts(tmp_path):
    fake = FakeCluster(installed("v0.16.1"))  # no kubectl-metallb field manager on them, no record
    result = run_cli("install", "--manifest", manifest(tmp_path, "v0.16.1"), "--yes", "--no-wait", cluster=fake)
    assert result.code == 1
    assert "namespace/metallb-system refused: it exists and was not installed by kubectl metallb" in result.stderr
    assert "--force-conflicts changes objects kubectl metallb does not own" in result.stderr
    assert fake.writes() == []
    taken = run_cli("install", "--manifest", manifest(tmp_path, "v0.16.1"), "-y", "--no-wait", "--force-conflicts",
                    cluster=fake)  # fmt: skip
    assert taken.code == 0, taken.stderr
    assert "deployment.apps/controller changed" in taken.stdout


def test_install_again_changes_nothing(tmp_path):
    fake = FakeCluster()
    path = manifest(tmp_path, "v0.16.1")
    assert run_cli("install", "--manifest", path, "--no-wait", "--yes", cluster=fake).code == 0
    again = run_cli("install", "--manifest", path, "--no-wait", "-o", "json", cluster=fake)
    assert again.code == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["action"] == "reinstall" and doc["summary"]["unchanged"] == 4 and doc["summary"]["created"] == 0


def crd(plural):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.metallb.io", "labels": {"version": "{tag}"}},  # changed by each release
        "spec": {"group": "metallb.io", "names": {"kind": plural.title(), "plural": plural}, "scope": "Namespaced"},
    }


def test_install_of_a_release_without_a_crd_deletes_it_and_waits_only_for_the_applied_ones(tmp_path):
    """The dropped CRD's delete comes after every apply; it is gone (its DELETE may even answer 404), so it is not
    waited for, and the wait for the applied CRDs still comes before the objects after them."""
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(yaml.safe_dump_all([crd("pools"), crd("statuses"), *MANIFEST_OBJECTS]).replace("{tag}", "v0.15.3"))
    new.write_text(yaml.safe_dump_all([crd("pools"), *MANIFEST_OBJECTS]).replace("{tag}", "v0.16.1"))
    fake = FakeCluster()
    assert run_cli("install", "--manifest", str(old), "--no-wait", "--yes", cluster=fake).code == 0
    fake.calls.clear()
    clock = Clock()
    result = run_cli("install", "--manifest", str(new), "--no-wait", "--yes", cluster=fake, clock=clock)
    assert result.code == 0, result.stderr
    assert "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/statuses.metallb.io" not in fake.store
    assert "CRDs Established (1/1)" in result.stderr
    assert "customresourcedefinition.apiextensions.k8s.io/statuses.metallb.io deleted" in result.stdout
    assert clock.sleeps == []  # nothing was polled until a timeout
    writes = [p.rsplit("/", 1)[-1] for _, p in fake.writes()]
    assert writes.index("pools.metallb.io") < writes.index("controller") < writes.index("statuses.metallb.io")


def test_install_wait_times_out_saying_what_is_stuck(tmp_path):
    fake = FakeCluster()
    clock = Clock()
    result = run_cli(
        "install", "--manifest", manifest(tmp_path, "v0.16.1"), "--timeout", "30s", "-y", cluster=fake, clock=clock
    )
    assert result.code == 4
    assert "MetalLB is not ready after 30s: DaemonSet speaker: ready on 0/0 nodes" in result.stderr
    assert "Deployment controller: 0/1 available" in result.stderr
    assert "waiting up to 30s for MetalLB to serve" in result.stderr


def test_uninstall_backs_up_then_deletes_last_installed_first(tmp_path):
    fake = FakeCluster()
    assert run_cli("install", "--manifest", manifest(tmp_path, "v0.16.1"), "--no-wait", "-y", cluster=fake).code == 0
    fake.calls.clear()
    backup = tmp_path / "backup.yaml"
    result = run_cli("uninstall", "--yes", "--backup", str(backup), cluster=fake)
    assert result.code == 0, result.stderr
    deleted = [p.rsplit("/", 2)[-2] for m, p in fake.writes() if m == "DELETE"]
    assert deleted == ["daemonsets", "deployments", "serviceaccounts", "configmaps", "namespaces"]
    assert backup.exists() and oct(os.stat(backup).st_mode & 0o777) == "0o600"
    assert fake.store == {}


def test_uninstall_refuses_an_install_it_did_not_make():
    fake = FakeCluster(installed("v0.16.1"))
    result = run_cli("uninstall", "--yes", cluster=fake)
    assert result.code == 1 and "was not installed by `kubectl metallb install`" in result.stderr
    assert fake.writes() == []


# --------------------------------------------------------------------------------------------- version, errors


def test_version_reads_the_server():
    result = run_cli("version", "-o", "json", cluster=FakeCluster())
    assert json.loads(result.stdout)["serverVersion"]["gitVersion"] == "v1.33.1"


def test_an_unreachable_cluster_is_exit_3_in_one_line():
    fake = FakeCluster()
    fake.fail("GET", "/version", errors.ClusterError("cannot reach the API server at https://fake.invalid"))
    result = run_cli("version", cluster=fake)
    assert (result.code, result.stderr) == (3, "error: cannot reach the API server at https://fake.invalid\n")


def test_an_internal_error_is_one_line_unless_debug():
    class Broken(FakeCluster):
        def server_version(self):
            raise KeyError("gitVersion")

    result = run_cli("version", cluster=Broken())
    assert result.code == 1
    assert result.stderr == (
        "error: internal error (KeyError: 'gitVersion'); run again with --debug for details and please report it\n"
    )
    try:
        run_cli("version", "--debug", cluster=Broken())
    except KeyError:
        pass
    else:
        raise AssertionError("--debug re-raises")


# --------------------------------------------------------------------------------------------- preflight, status


def test_preflight_json_has_category_ids_and_skips_what_it_is_told():
    fake = FakeCluster(kube_proxy() + [{"kind": "Node", "metadata": {"name": "n1"}}])
    result = run_cli("preflight", "-o", "json", "--skip-check", "strict-arp", cluster=fake)
    doc = json.loads(result.stdout)
    assert [c["id"] for c in doc["categories"]][:3] == [
        "kubernetes",
        "existing-installation",
        "competing-load-balancers",
    ]
    checks = {c["id"]: c for cat in doc["categories"] for c in cat["checks"]}
    assert (checks["strict-arp"]["result"], checks["strict-arp"]["message"]) == ("skip", "skipped (--skip-check)")
    assert checks["kube-proxy-mode"]["result"] == "ok"
    assert all(m == "LIST" for m, _ in fake.calls if m != "GET" and "selfsubjectaccessreviews" not in _)


def test_preflight_unreachable_reports_the_api_check_only_and_exits_3():
    fake = FakeCluster()
    fake.fail("GET", "/version", errors.ClusterError("cannot reach the API server at https://fake.invalid"))
    result = run_cli("preflight", "-o", "json", cluster=fake)
    assert result.code == 3
    doc = json.loads(result.stdout)
    assert [(c["id"], [k["id"] for k in c["checks"]]) for c in doc["categories"]] == [
        ("kubernetes", ["kubernetes-api"])
    ]
    assert fake.calls == [("GET", "/version")]  # nothing else is read


def test_preflight_reads_every_kind_once_and_skips_what_it_may_not_read():
    fake = FakeCluster([{"kind": "Node", "metadata": {"name": "n1"}}])
    fake.fail("LIST", "/api/v1/nodes", errors.Forbidden(403, "Forbidden", "nodes is forbidden", "GET", "/api/v1/nodes"))
    result = run_cli("preflight", "-o", "json", cluster=fake)
    checks = {c["id"]: c for cat in json.loads(result.stdout)["categories"] for c in cat["checks"]}
    assert (checks["linux-nodes"]["result"], checks["linux-nodes"]["message"]) == (
        "skip",
        "no permission to list nodes",
    )
    lists = [p for m, p in fake.calls if m == "LIST"]
    # one LIST per source; no CRD-backed kind (no CRDs here), no NetworkPolicies (MetalLB's namespace does not exist)
    assert len(lists) == len(set(lists)) == 10


def test_status_wait_times_out_with_the_last_report():
    fake = FakeCluster(installed("v0.16.1"))
    clock = Clock()
    result = run_cli("status", "--wait", "--timeout", "6s", cluster=fake, clock=clock)
    assert result.code == 4
    assert "error: timed out after 6s waiting for MetalLB to become healthy (the last report is above)" in result.stderr
    assert "MetalLB is degraded" in result.stdout
    assert clock.sleeps == [2.0, 2.0, 2.0]
