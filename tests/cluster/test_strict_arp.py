"""kubectl metallb strict-arp against a real API server.

These tests write kube-system objects and Nodes, so the module runs its own API server. No controllers or kubelets
run there: where a test needs kube-proxy's DaemonSet status, it writes it the way the DaemonSet controller would,
and says why. A real rollout is followed on the full cluster (tests/e2e/test_6_strict_arp.py).
"""

import json
import os
import pty
import subprocess
import sys

import pytest

from helpers import REPO, run_plugin
from metallb_plugin import cli, cluster

KS = "kube-system"
CM_PATH = cluster.api_path("v1", "configmaps", KS, "kube-proxy")
DS_PATH = cluster.api_path("apps/v1", "daemonsets", KS, "kube-proxy")
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

# A kind cluster's kube-proxy configuration (abridged), switched to IPVS, with a hand-written comment.
CONFIG = """\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
iptables:
  masqueradeAll: false
  minSyncPeriod: 1s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false   # MetalLB: see metallb.io/installation
  syncPeriod: 0s
kind: KubeProxyConfiguration
mode: ipvs
nodePortAddresses: null
"""
KUBECONFIG_CONF = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://kind-control-plane:6443\n"


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


def connect(kubeconfig):
    _, args = cli.parse(["version", "--kubeconfig", kubeconfig])
    return cluster.connect(args, environ={})


@pytest.fixture(scope="module")
def api(controlplane):
    client = connect(controlplane.kubeconfig("admin"))
    sa = cluster.api_path("v1", "serviceaccounts", KS)
    if client.get_or_none(sa + "/default") is None:  # Pods need it; no controller creates it here
        client.create(sa, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
    return client


class Cluster:
    """Builds the kube-proxy scenario of one test and removes every object afterwards."""

    def __init__(self, client):
        self.client = client
        self.created = []

    def _create(self, path, obj):
        self.client.create(path, obj)
        self.created.append(f"{path}/{obj['metadata']['name']}")

    def configmap(self, name="kube-proxy", data=None):
        data = {"config.conf": CONFIG, "kubeconfig.conf": KUBECONFIG_CONF} if data is None else data
        self._create(cluster.api_path("v1", "configmaps", KS), {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": "kube-proxy"}},
            "data": data})
        return self.client.get(cluster.api_path("v1", "configmaps", KS, name))

    def daemonset(self, configmap="kube-proxy", strategy="RollingUpdate"):
        labels = {"k8s-app": "kube-proxy"}
        self._create(cluster.api_path("apps/v1", "daemonsets", KS), {
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "labels": labels},
            "spec": {"selector": {"matchLabels": labels}, "updateStrategy": {"type": strategy},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.30.0",
                                         "command": ["/usr/local/bin/kube-proxy",
                                                     "--config=/var/lib/kube-proxy/config.conf",
                                                     "--hostname-override=$(NODE_NAME)"],
                                         "volumeMounts": [{"name": "kube-proxy",
                                                           "mountPath": "/var/lib/kube-proxy"}]}],
                         "volumes": [{"name": "kube-proxy", "configMap": {"name": configmap}}]}}}})
        return self.client.get(DS_PATH)

    def node(self, name, kubelet="v1.30.0", labels=None, annotations=None, provider=None):
        obj = {"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}}}
        if provider:
            obj["spec"] = {"providerID": provider}
        self.client.create("/api/v1/nodes", obj)
        self.created.append(f"/api/v1/nodes/{name}")
        self.client.patch(f"/api/v1/nodes/{name}/status", {"status": {"nodeInfo": {"kubeletVersion": kubelet}}})

    def pod(self, name, node, labels, command=("kube-proxy",), ready=True):
        self._create(cluster.api_path("v1", "pods", KS), {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "kube-proxy", "image": "kube-proxy",
                                                        "command": list(command)}]}})
        self.client.patch(cluster.api_path("v1", "pods", KS, name, "status"), {"status": {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})

    def cleanup(self):
        for path in reversed(self.created):
            try:
                self.client.delete(path)
            except Exception:  # noqa: BLE001 - best effort; the next test starts from its own objects
                pass
        for path in self.created:  # Pods have no kubelet here to finish a graceful delete: force it
            if "/pods/" in path and self.client.get_or_none(path):
                self.client.request("DELETE", path, {"gracePeriodSeconds": 0})


@pytest.fixture
def k8s(api):
    setup = Cluster(api)
    yield setup
    setup.cleanup()


@pytest.fixture
def kubeadm(k8s):
    """A kubeadm/kind-shaped cluster: one node, the kube-proxy ConfigMap and DaemonSet."""
    k8s.node("control-plane", provider="kind://docker/kind/kind-control-plane")
    k8s.configmap()
    k8s.daemonset()
    return k8s


def plugin(env, *args, **kwargs):
    return run_plugin("strict-arp", *args, env=env, **kwargs)


def restarted_at(api):
    return ((api.get(DS_PATH)["spec"]["template"]["metadata"].get("annotations")) or {}).get(RESTARTED_AT)


# ------------------------------------------------------------------------------------------- report


def test_report_kind_ipvs(kubeadm, admin):
    result = plugin(admin, "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["distribution"] == "kind"
    assert doc["location"] == {"kind": "ConfigMap", "namespace": "kube-system", "name": "kube-proxy",
                               "key": "config.conf",
                               "description": "ConfigMap kube-system/kube-proxy, key config.conf"}
    assert (doc["mode"], doc["strictARP"], doc["metallbNeedsChange"], doc["editable"]) == ("ipvs", False, True, True)

    text = plugin(admin)
    assert text.returncode == 0
    assert text.stdout == (
        "Distribution:           kind\n"
        "Configuration:          ConfigMap kube-system/kube-proxy, key config.conf\n"
        "Mode:                   ipvs\n"
        "Strict ARP:             false\n"
        "MetalLB needs a change: yes: run `kubectl metallb strict-arp --enable`\n"
        "\n"
        "kube-proxy runs in IPVS mode without strict ARP: MetalLB needs ipvs.strictARP: true\n")


def test_report_as_reader(kubeadm, controlplane):
    result = plugin({"KUBECONFIG": controlplane.kubeconfig("reader")}, "-o", "yaml")
    assert result.returncode == 0, result.stderr
    assert "metallbNeedsChange: true" in result.stdout


def test_flags_need_enable_or_disable(admin):
    result = plugin(admin, "--dry-run", "--wait")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --dry-run, --wait only apply with --enable or --disable"
    one = plugin(admin, "--backup", "x.yaml")
    assert one.stderr.strip() == "error: --backup only applies with --enable or --disable"
    assert plugin(admin, "--enable", "--disable").returncode == 2


# ------------------------------------------------------------------------------------------- change


def test_dry_run_prints_the_diff_and_changes_nothing(kubeadm, api, admin):
    before = api.get(CM_PATH)["metadata"]["resourceVersion"]
    result = plugin(admin, "--enable", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "--- a/kube-system/kube-proxy/config.conf\n"
        "+++ b/kube-system/kube-proxy/config.conf\n"
        "@@ -16,7 +16,7 @@\n"
        "   excludeCIDRs: null\n"
        "   minSyncPeriod: 0s\n"
        '   scheduler: ""\n'
        "-  strictARP: false   # MetalLB: see metallb.io/installation\n"
        "+  strictARP: true   # MetalLB: see metallb.io/installation\n"
        "   syncPeriod: 0s\n"
        " kind: KubeProxyConfiguration\n"
        " mode: ipvs\n"
        "dry run: nothing was changed\n")
    assert api.get(CM_PATH)["metadata"]["resourceVersion"] == before
    assert restarted_at(api) is None


def test_enable_then_idempotent_then_disable_restores_every_byte(kubeadm, api, admin, tmp_path):
    backup = tmp_path / "kube-proxy.yaml"
    result = plugin(admin, "--enable", "--yes", "--backup", str(backup))
    assert result.returncode == 0, result.stderr
    live = api.get(CM_PATH)
    assert live["data"]["config.conf"] == CONFIG.replace("strictARP: false", "strictARP: true")
    assert live["data"]["kubeconfig.conf"] == KUBECONFIG_CONF
    previous = json.loads(live["metadata"]["annotations"]["metallb.io/strict-arp-previous"])
    assert (previous["strictARP"], previous["key"]) == (False, "config.conf")
    assert previous["time"].endswith("Z")
    stamp = restarted_at(api)
    assert stamp and stamp.endswith("Z")
    assert "ipvs.strictARP set to true in ConfigMap kube-system/kube-proxy, key config.conf" in result.stdout
    assert f"restarted DaemonSet kube-system/kube-proxy (kubectl.kubernetes.io/restartedAt={stamp})" in result.stdout
    assert (f"to undo: kubectl metallb strict-arp --disable (or restore the backup: kubectl replace -f {backup})"
            in result.stdout)
    import yaml

    saved = yaml.safe_load(backup.read_text())
    assert saved["data"]["config.conf"] == CONFIG
    assert "resourceVersion" not in saved["metadata"]
    assert oct(backup.stat().st_mode & 0o777) == "0o600"

    again = plugin(admin, "--enable", "--yes", "-o", "json")
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert (doc["changed"], doc["message"]) == (False, "ipvs.strictARP is already true in ConfigMap "
                                                       "kube-system/kube-proxy, key config.conf: nothing changed")
    assert api.get(CM_PATH)["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    assert restarted_at(api) == stamp

    undo = plugin(admin, "--disable", "--yes", "--no-restart")
    assert undo.returncode == 0, undo.stderr
    assert "warning: with IPVS, MetalLB's layer 2 mode needs strict ARP" in undo.stderr
    assert api.get(CM_PATH)["data"]["config.conf"] == CONFIG  # byte-identical, comment and all
    assert restarted_at(api) == stamp  # --no-restart
    assert "kube-proxy was not restarted" in undo.stdout


def test_backup_file_must_not_exist(kubeadm, admin, tmp_path):
    existing = tmp_path / "b.yaml"
    existing.write_text("keep me")
    result = plugin(admin, "--enable", "--yes", "--backup", str(existing))
    assert result.returncode == 2
    assert "the file exists" in result.stderr
    assert existing.read_text() == "keep me"


def test_no_terminal_and_no_yes_refuses(kubeadm, api, admin):
    result = plugin(admin, "--enable")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: Set ipvs.strictARP: true in ConfigMap kube-system/kube-proxy, key config.conf and restart DaemonSet "
        "kube-system/kube-proxy? Pass --yes to go ahead, or --dry-run to see the plan (there is no terminal to ask "
        "on). Nothing was changed")
    assert api.get(CM_PATH)["data"]["config.conf"] == CONFIG


def run_on_terminal(env, answer, *args):
    """Run the plugin with a pseudo-terminal as stdin and type `answer`."""
    primary, secondary = pty.openpty()
    full_env = dict(os.environ, **env)
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "metallb_plugin", "strict-arp", *args], cwd=REPO, env=full_env,
                            stdin=secondary, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(secondary)
    os.write(primary, answer.encode())
    out, err = proc.communicate(timeout=60)
    os.close(primary)
    return proc.returncode, out, err


def test_terminal_confirmation(kubeadm, api, admin):
    code, out, err = run_on_terminal(admin, "n\n", "--enable")
    assert code == 1
    assert "-  strictARP: false" in err and err.rstrip().endswith("error: strict-arp cancelled; nothing was changed")
    assert "and restart DaemonSet kube-system/kube-proxy? [y/N]" in err
    assert api.get(CM_PATH)["data"]["config.conf"] == CONFIG
    code, out, err = run_on_terminal(admin, "y\n", "--enable", "--no-restart")
    assert code == 0, err
    assert "strictARP: true" in api.get(CM_PATH)["data"]["config.conf"]


def test_conflict_rereads_and_keeps_the_other_writers_change(kubeadm, controlplane, capsys, monkeypatch):
    other = connect(controlplane.kubeconfig("admin"))
    real_replace = cluster.Client.replace
    interleaved = []

    def replace_after_someone_else(self, path, body, dry_run=False):
        if path == CM_PATH and not interleaved:  # another writer gets in between our read and our write
            live = other.get(CM_PATH)
            live["data"]["config.conf"] = live["data"]["config.conf"].replace('scheduler: ""', "scheduler: rr")
            live["metadata"].setdefault("labels", {})["edited-by"] = "someone-else"
            interleaved.append(real_replace(other, CM_PATH, live)["metadata"]["resourceVersion"])
        return real_replace(self, path, body, dry_run)

    monkeypatch.setattr(cluster.Client, "replace", replace_after_someone_else)
    code = cli.main(["strict-arp", "--enable", "--yes", "--no-restart", "--kubeconfig",
                     controlplane.kubeconfig("admin")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert interleaved
    assert ("ConfigMap kube-system/kube-proxy, key config.conf was changed by someone else meanwhile: reading it "
            "again (attempt 2 of 5)") in captured.err
    live = other.get(CM_PATH)
    assert live["data"]["config.conf"] == CONFIG.replace('scheduler: ""', "scheduler: rr").replace(
        "strictARP: false", "strictARP: true")  # both changes, nothing lost
    assert live["metadata"]["labels"]["edited-by"] == "someone-else"


def test_conflict_where_the_other_writer_already_enabled_it(kubeadm, controlplane, capsys, monkeypatch):
    other = connect(controlplane.kubeconfig("admin"))
    real_replace = cluster.Client.replace

    def replace_after_someone_else(self, path, body, dry_run=False):
        if self is not other and path == CM_PATH:
            live = other.get(CM_PATH)
            if "strictARP: false" in live["data"]["config.conf"]:
                live["data"]["config.conf"] = live["data"]["config.conf"].replace("strictARP: false",
                                                                                  "strictARP: true")
                real_replace(other, CM_PATH, live)
        return real_replace(self, path, body, dry_run)

    monkeypatch.setattr(cluster.Client, "replace", replace_after_someone_else)
    code = cli.main(["strict-arp", "--enable", "--yes", "--kubeconfig", controlplane.kubeconfig("admin")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "was set to true meanwhile by someone else: nothing changed" in captured.out
    assert "metallb.io/strict-arp-previous" not in (other.get(CM_PATH)["metadata"].get("annotations") or {})


def test_reader_gets_a_clear_403_and_nothing_changes(kubeadm, api, controlplane):
    result = plugin({"KUBECONFIG": controlplane.kubeconfig("reader")}, "--enable", "--yes")
    assert result.returncode == 3
    assert result.stderr.splitlines()[:2] == [
        "  update configmaps in namespace kube-system", "  patch daemonsets.apps in namespace kube-system"]
    assert "error: permission denied: 2 permission(s) this needs are missing" in result.stderr
    assert api.get(CM_PATH)["data"]["config.conf"] == CONFIG
    assert restarted_at(api) is None


def test_a_user_who_may_not_restart_kube_proxy_changes_nothing(kubeadm, api, admin):
    """Before, the ConfigMap was changed and then the restart was refused: now the access reviews come first."""
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    api.create(f"{rbac}/clusterroles", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cm-editor"},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
                  {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "update"]},
                  {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["get"]}]})
    kubeadm.created.append(f"{rbac}/clusterroles/cm-editor")
    api.create(f"{rbac}/clusterrolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "cm-editor"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-editor"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "cm-editor"}]})
    kubeadm.created.append(f"{rbac}/clusterrolebindings/cm-editor")
    result = plugin(admin, "--enable", "--yes", "--as", "cm-editor")
    assert result.returncode == 3
    assert result.stderr.splitlines()[0] == "  patch daemonsets.apps in namespace kube-system"
    assert "error: permission denied: 1 permission(s) this needs are missing" in result.stderr
    assert api.get(CM_PATH)["data"]["config.conf"] == CONFIG  # nothing was changed
    assert restarted_at(api) is None


def test_nobody_cannot_even_read(kubeadm, controlplane):
    result = plugin({"KUBECONFIG": controlplane.kubeconfig("nobody")})
    assert result.returncode == 3
    assert 'cannot list resource "configmaps"' in result.stderr


def test_malformed_configuration_is_named_and_left_alone(k8s, api, admin):
    k8s.configmap(data={"config.conf": "kind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: [true\n"})
    k8s.daemonset()
    before = api.get(CM_PATH)["metadata"]["resourceVersion"]
    result = plugin(admin, "--enable", "--yes")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: ConfigMap kube-system/kube-proxy, key config.conf is malformed: not valid YAML: expected ',' or ']', "
        "but got '<stream end>' at line 5, column 1. Nothing was changed; fix the configuration by hand first")
    assert api.get(CM_PATH)["metadata"]["resourceVersion"] == before
    assert restarted_at(api) is None
    report = plugin(admin)
    assert report.returncode == 1
    assert "problem: not valid YAML" in report.stdout


# ------------------------------------------------------------------------------------------- rollout


def test_wait_times_out_naming_the_pending_nodes(kubeadm, api, admin, mark_ready):
    # A rollout that never completes needs kubelets that never report the new Pods ready; on the full cluster
    # kwok reports every Pod ready (tests/e2e/test_6_strict_arp.py follows a real rollout), so it is set up here.
    kubeadm.node("worker-1")
    kubeadm.node("worker-2")
    labels = {"k8s-app": "kube-proxy"}
    kubeadm.pod("kube-proxy-aaaaa", "control-plane", labels)
    kubeadm.pod("kube-proxy-bbbbb", "worker-1", labels)
    kubeadm.pod("kube-proxy-ccccc", "worker-2", labels)
    kubeadm.pod("unrelated", "worker-1", {"k8s-app": "other"})
    mark_ready("daemonset", KS, "kube-proxy", desired=3)  # all ready before the restart
    result = plugin(admin, "--enable", "--yes", "--wait", "--timeout", "3s")
    assert result.returncode == 4
    assert result.stderr.strip().endswith(
        "error: the kube-proxy rollout did not complete within 3s: ready on 3/3 nodes (its controller has not seen "
        "the current spec yet); pending nodes: control-plane, worker-1, worker-2. Follow it with: kubectl -n "
        "kube-system rollout status daemonset/kube-proxy")
    assert "ipvs.strictARP set to true" in result.stdout  # the change itself is done and said so


def test_on_delete_daemonset_is_warned(k8s, admin):
    k8s.configmap()
    k8s.daemonset(strategy="OnDelete")
    result = plugin(admin, "--enable", "--yes")
    assert result.returncode == 0, result.stderr
    assert "uses updateStrategy OnDelete" in result.stderr


# ------------------------------------------------------------------------------------------- distributions


def test_iptables_mode_needs_nothing_unless_forced(k8s, api, admin):
    k8s.configmap(data={"config.conf": CONFIG.replace("mode: ipvs", 'mode: ""')})
    k8s.daemonset()
    result = plugin(admin, "--enable", "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("kube-proxy runs in iptables mode: MetalLB does not need strict ARP. Nothing "
                                     "changed (--force sets ipvs.strictARP: true anyway)")
    assert "strictARP: false" in api.get(CM_PATH)["data"]["config.conf"]
    forced = plugin(admin, "--enable", "--yes", "--force", "--no-restart")
    assert forced.returncode == 0, forced.stderr
    assert "strictARP: true" in api.get(CM_PATH)["data"]["config.conf"]


def test_nftables_mode_report(k8s, admin):
    k8s.configmap(data={"config.conf": CONFIG.replace("mode: ipvs", "mode: nftables")})
    doc = json.loads(plugin(admin, "-o", "json").stdout)
    assert (doc["mode"], doc["metallbNeedsChange"]) == ("nftables", False)


def test_eks_configmap(k8s, api, admin):
    k8s.node("ip-10-0-0-1.ec2.internal", kubelet="v1.30.0-eks-036c24b")
    k8s.configmap("kube-proxy-config", {"config": CONFIG})
    k8s.daemonset(configmap="kube-proxy-config")
    result = plugin(admin, "--enable", "--yes", "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["distribution"], doc["location"]["name"], doc["location"]["key"]) == ("eks", "kube-proxy-config",
                                                                                      "config")
    live = api.get(cluster.api_path("v1", "configmaps", KS, "kube-proxy-config"))
    assert live["data"]["config"] == CONFIG.replace("strictARP: false", "strictARP: true")


@pytest.mark.parametrize("scenario, expected", [
    ("k3s", ["error: k3s: kube-proxy's configuration lives in /etc/rancher/k3s/config.yaml on each node (seen in the "
             "Node annotation k3s.io/node-args)", "--kube-proxy-arg=ipvs-strict-arp=true"]),
    ("rke2", ["error: rke2: kube-proxy's configuration lives in /etc/rancher/rke2/config.yaml on each node",
              "`kube-proxy-arg: [\"ipvs-strict-arp=true\"]` to /etc/rancher/rke2/config.yaml"]),
    ("microk8s", ["error: microk8s: kube-proxy's configuration lives in /var/snap/microk8s/current/args/kube-proxy",
                  "add --ipvs-strict-arp=true to /var/snap/microk8s/current/args/kube-proxy"]),
    ("cilium", ["error: no kube-proxy: Cilium replaces it, so strict ARP does not apply. Nothing was changed."]),
])
def test_distributions_the_plugin_does_not_edit(k8s, api, admin, scenario, expected):
    if scenario == "k3s":
        k8s.node("k3s-server", kubelet="v1.30.2+k3s1", annotations={
            "k3s.io/node-args": json.dumps(["server", "--kube-proxy-arg", "proxy-mode=ipvs"])})
    elif scenario == "rke2":
        k8s.node("rke2-server", kubelet="v1.30.2+rke2r1", annotations={"rke2.io/node-args": '["server"]'})
        k8s.pod("kube-proxy-rke2-server", "rke2-server", {"component": "kube-proxy", "tier": "control-plane"},
                command=["kube-proxy", "--proxy-mode=ipvs"])
    elif scenario == "microk8s":
        k8s.node("mk8s", labels={"microk8s.io/cluster": "true"})
    else:
        k8s.node("worker")
        k8s.configmap("cilium-config", {"kube-proxy-replacement": "true"})
    nodes_before = [n["metadata"]["resourceVersion"] for n in api.list("/api/v1/nodes")]
    result = plugin(admin, "--enable", "--yes")
    assert result.returncode == 1, result.stderr
    for text in expected:
        assert text in result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert api.get_or_none(CM_PATH) is None and api.get_or_none(DS_PATH) is None  # nothing created
    assert [n["metadata"]["resourceVersion"] for n in api.list("/api/v1/nodes")] == nodes_before
    report = plugin(admin, "-o", "json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["distribution"] == scenario


def test_k3s_report_reads_the_node_args(k8s, admin):
    k8s.node("k3s-server", kubelet="v1.30.2+k3s1", annotations={
        "k3s.io/node-args": json.dumps(["server", "--kube-proxy-arg=proxy-mode=ipvs",
                                        "--kube-proxy-arg=ipvs-strict-arp=true"])})
    doc = json.loads(plugin(admin, "-o", "json").stdout)
    assert (doc["mode"], doc["strictARP"], doc["metallbNeedsChange"], doc["editable"]) == ("ipvs", True, False, False)


def test_no_kube_proxy_found(k8s, admin):
    result = plugin(admin, "--enable", "--yes")
    assert result.returncode == 1
    assert "unknown" in result.stderr and "--ipvs-strict-arp" in result.stderr


# ------------------------------------------------------------------------------------------- cost


def test_request_count_for_enable(kubeadm, admin):
    result = plugin(admin, "--enable", "--yes", "-v")
    assert result.returncode == 0, result.stderr
    requests = [line for line in result.stderr.splitlines() if line.split(" ")[0] in ("GET", "PUT", "PATCH", "POST")]
    # reads, both writes dry-run, one access review for each, then both writes
    assert [line.split(" ")[:2] for line in requests] == [
        ["GET", "/api/v1/nodes"], ["GET", "/api/v1/namespaces/kube-system/configmaps"],
        ["GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"],
        ["PUT", "/api/v1/namespaces/kube-system/configmaps/kube-proxy"],
        ["PATCH", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"],
        ["POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"],
        ["POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"],
        ["PUT", "/api/v1/namespaces/kube-system/configmaps/kube-proxy"],
        ["PATCH", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"]]
