"""kubectl metallb preflight end to end, on cluster shapes built on a real API server of this module's own.

The scenarios change kube-system, Nodes and CRDs, so the module has its own control plane. Each test adds its
scenario's objects and removes them afterwards (a deleted namespace would stay Terminating: no namespace
controller runs here, so the tests that need a namespace use one of their own and keep it).
"""

import json
import os
import re

import pytest
import yaml

from . import scenarios
from helpers import run_plugin
from .test_connection import closed_port, write_kubeconfig


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


@pytest.fixture(scope="module")
def admin_kubectl(controlplane):
    return scenarios.Kubectl(controlplane.kubeconfig("admin"))


@pytest.fixture(scope="module", autouse=True)
def kubeadm_cluster(admin_kubectl):
    """The base shape: three kubeadm nodes, kube-proxy in IPVS mode without strict ARP, Calico."""
    admin_kubectl.apply(scenarios.kubeadm(mode="ipvs", strict_arp=False))


@pytest.fixture
def scenario(admin_kubectl, kubeadm_cluster):
    """Add objects for one test; they are removed again afterwards."""
    added = []

    def add(objects):
        objects = list(objects)
        admin_kubectl.apply(objects)
        added.extend(objects)

    yield add
    admin_kubectl.delete(added)


def preflight(*args, env, text=False):
    """Run preflight -o json: (exit code, document). With text=True also as text, which must exit the same way:
    then (text result, document)."""
    as_json = run_plugin("preflight", *args, "-o", "json", env=env)
    doc = json.loads(as_json.stdout)
    if not text:
        return as_json.returncode, doc
    shown = run_plugin("preflight", "--no-color", *args, env=env)
    assert shown.returncode == as_json.returncode, (shown.stdout, as_json.stdout)
    return shown, doc


def checks(doc):
    """{check id: check} over every category of a JSON document."""
    return {c["id"]: c for category in doc["categories"] for c in category["checks"]}


def block(text, description):
    """The lines of one check in the text output: its status line and what is indented under it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line[2:] == description)
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    return lines[start:end]


def test_kubeadm_ipvs_without_strict_arp_fails(controlplane, admin):
    text, doc = preflight(env=admin, text=True)
    assert text.returncode == 1, text.stdout + text.stderr
    assert text.stdout.startswith(f'Checking context "test" ({controlplane.server}) for MetalLB v0.16.1 in L2 mode, '
                                  "namespace metallb-system\n")
    assert block(text.stdout, "kube-proxy does not answer ARP for MetalLB's addresses (strictARP)") == [
        "× kube-proxy does not answer ARP for MetalLB's addresses (strictARP)",
        "    kube-proxy runs in IPVS mode without strict ARP: MetalLB needs ipvs.strictARP: true",
        "    see kubectl metallb strict-arp --enable"]
    assert text.stdout.endswith("Status check results are ×\n")

    found = checks(doc)
    assert doc["success"] is False
    assert {k: doc[k] for k in ("context", "server", "namespace", "mode", "metallbVersion", "kubernetesVersion")} == {
        "context": "test", "server": controlplane.server, "namespace": "metallb-system", "mode": "l2",
        "metallbVersion": "v0.16.1", "kubernetesVersion": doc["kubernetesVersion"]}
    assert re.fullmatch(r"v1\.\d+\.\d+", doc["kubernetesVersion"])
    assert found["strict-arp"] == {
        "id": "strict-arp", "description": "kube-proxy does not answer ARP for MetalLB's addresses (strictARP)",
        "result": "fail", "message": "kube-proxy runs in IPVS mode without strict ARP: MetalLB needs ipvs.strictARP: "
                                     "true", "details": [], "hint": "kubectl metallb strict-arp --enable"}
    assert found["kube-proxy-mode"]["details"][0] == (
        "ipvs mode (kubeadm; ConfigMap kube-system/kube-proxy, key config.conf)")
    assert found["network-addon"]["result"] == "ok"
    assert found["network-addon"]["details"] == ["Calico (DaemonSet kube-system/calico-node): mostly compatible"]
    assert found["excluded-nodes"]["result"] == "warn"
    assert found["excluded-nodes"]["details"] == ["cp1"]
    assert found["node-taints"]["result"] == "ok"  # the speaker tolerates cp1's taint, the workers take the rest
    assert found["memberlist-ports"]["result"] == "warn"  # a reminder, never a pass
    assert found["permissions"]["details"] == ["all 26 permissions that install needs are granted"]


def test_bgp_mode_turns_calico_and_strict_arp_into_warnings(admin):
    code, doc = preflight("--mode", "bgp", env=admin)
    found = checks(doc)
    assert found["strict-arp"]["result"] == "warn"
    assert found["network-addon"]["result"] == "warn"
    assert "Calico's own BGP sessions and MetalLB's cannot peer with the same router" in found["network-addon"][
        "message"]
    assert code == 0  # warnings only
    assert doc["mode"] == "bgp"


def test_kubeadm_with_strict_arp_passes(admin, admin_kubectl):
    admin_kubectl.apply([scenarios.kube_proxy_config("ipvs", strict_arp=True)])
    try:
        text, doc = preflight(env=admin, text=True)
    finally:
        admin_kubectl.apply([scenarios.kube_proxy_config("ipvs", strict_arp=False)])
    assert text.returncode == 0, text.stdout
    assert doc["success"] is True
    assert checks(doc)["strict-arp"]["result"] == "ok"
    assert "√ kube-proxy does not answer ARP for MetalLB's addresses (strictARP)" in text.stdout
    assert {c["id"] for c in checks(doc).values() if c["result"] != "ok"} == {"excluded-nodes", "memberlist-ports"}
    assert text.stdout.endswith("Status check results are √\n")


def test_reads_one_list_per_kind(admin):
    result = run_plugin("preflight", "-v", env=admin)
    requests = [line.split()[:2] for line in result.stderr.splitlines() if re.match(r"(GET|POST|PATCH) /", line)]
    gets = [path for method, path in requests if method == "GET"]
    assert len(gets) == len(set(gets)), gets  # never the same collection twice, never one GET per object
    assert "/api/v1/nodes" in gets and "/apis/apps/v1/daemonsets" in gets
    assert all(method == "GET" or path.endswith("/selfsubjectaccessreviews") for method, path in requests)


def test_k3s_servicelb(admin, scenario):
    scenario(scenarios.k3s())
    text, doc = preflight(env=admin, text=True)
    found = checks(doc)
    assert text.returncode == 1
    assert found["servicelb"]["result"] == "fail"
    assert found["servicelb"]["details"] == ["kube-system/svclb-traefik-7f4e2a1c"]
    assert found["servicelb"]["hint"] == "https://metallb.io/configuration/k3s/"
    assert found["foreign-addresses"]["result"] == "warn"
    assert found["foreign-addresses"]["details"] == ["kube-system/traefik: 192.168.2.10 (k3s ServiceLB)"]
    assert block(text.stdout, "k3s/RKE2 ServiceLB is not active")[-1] == "    see https://metallb.io/configuration/k3s/"


def test_k3s_server_without_disable_flag(admin, scenario):
    scenario(scenarios.k3s()[:1])  # the node alone: ServiceLB has nothing to serve yet, but it is on
    _, doc = preflight(env=admin)
    servicelb = checks(doc)["servicelb"]
    assert servicelb["result"] == "fail"
    assert "k3s/RKE2 ServiceLB is enabled on k3s-srv" in servicelb["message"]


def test_cilium_lb_ipam(admin, admin_kubectl, scenario):
    scenario([scenarios.cilium_crd()] + scenarios.cilium())
    _, doc = preflight(env=admin)
    assert checks(doc)["cilium-lb-ipam"]["details"] == [
        "Cilium LB-IPAM is installed but dormant: no CiliumLoadBalancerIPPool exists"]
    assert checks(doc)["network-addon"]["details"] == [
        "Calico (DaemonSet kube-system/calico-node): mostly compatible",
        "Cilium (DaemonSet kube-system/cilium): compatible"]
    pool = scenarios.cilium_pool("blue", "10.0.10.0/24")
    admin_kubectl.apply([pool])
    try:
        code, doc = preflight(env=admin)
    finally:
        admin_kubectl.delete([pool])
    lbipam = checks(doc)["cilium-lb-ipam"]
    assert code == 1
    assert lbipam["result"] == "fail" and lbipam["details"] == ["blue: 10.0.10.0/24"]
    assert lbipam["hint"] == "https://docs.cilium.io/en/stable/network/lb-ipam/"


def test_cloud_node(admin, scenario):
    scenario(scenarios.cloud_node())
    code, doc = preflight(env=admin)
    cloud = checks(doc)["cloud-provider"]
    assert code == 1
    assert cloud["result"] == "fail"
    assert cloud["message"].startswith("nodes run on AWS, where MetalLB does not work")
    assert cloud["details"] == ["AWS: ip-10-0-1-5.ec2.internal"]
    assert cloud["hint"] == "https://metallb.io/installation/clouds/"


def test_planned_range_overlapping_a_node_ip(admin):
    text, doc = preflight("--addresses", "192.168.1.8/29", "--addresses", "fc00:1::/120", env=admin, text=True)
    found = checks(doc)
    assert found["addresses-size"]["details"] == [
        "264 usable addresses (IPv4: 8, IPv6: 256) in 192.168.1.8/29, fc00:1::/120"]
    assert found["addresses-nodes"]["result"] == "warn"
    assert found["addresses-nodes"]["details"] == ["cp1: InternalIP 192.168.1.10", "w1: InternalIP 192.168.1.11",
                                                   "w2: InternalIP 192.168.1.12"]
    assert found["addresses-service-cidr"]["details"] == ["service CIDR 10.96.0.0/12"]  # from ServiceCIDR "kubernetes"
    assert [c["name"] for c in doc["categories"]][-1] == "Planned addresses"
    assert block(text.stdout, "planned addresses avoid node addresses")[-1] == "    see kubectl get nodes -o wide"
    assert text.returncode == 1  # strict ARP still fails; the address warnings alone would not


def test_planned_range_overlapping_service_and_pod_cidrs(admin):
    _, doc = preflight("--addresses", "10.96.0.0/28,10.244.1.0/25", env=admin)
    found = checks(doc)
    assert found["addresses-service-cidr"]["details"] == ["10.96.0.0/28 overlaps service CIDR 10.96.0.0/12"]
    assert found["addresses-pod-cidr"]["details"] == ["w1: pod CIDR 10.244.1.0/24"]


def test_bad_addresses_are_a_usage_error(admin):
    result = run_plugin("preflight", "--addresses", "192.168.1.0/24,192.168.1.300", env=admin)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith('error: --addresses: invalid address "192.168.1.300"')


def test_pod_security_baseline_namespace(admin, admin_kubectl):
    admin_kubectl.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "lb-baseline", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}])
    text, doc = preflight("-n", "lb-baseline", env=admin, text=True)
    psa = checks(doc)["pod-security"]
    assert psa["result"] == "fail"
    assert psa["message"].endswith("Run: kubectl label namespace lb-baseline pod-security.kubernetes.io/enforce="
                                   "privileged --overwrite")
    assert "× namespace lb-baseline allows privileged pods" in text.stdout


def test_reader_lacks_install_permissions(controlplane):
    env = {"KUBECONFIG": controlplane.kubeconfig("reader")}
    code, doc = preflight(env=env)
    permissions = checks(doc)["permissions"]
    assert code == 1
    assert permissions["result"] == "fail"
    assert permissions["message"] == "26 of the 26 permissions that install needs are missing"
    assert permissions["details"][:2] == ["create namespaces (cluster-wide)", "patch namespaces (cluster-wide)"]
    assert "create daemonsets.apps in namespace metallb-system" in permissions["details"]
    assert permissions["hint"] == "kubectl auth can-i --list -n metallb-system"
    assert checks(doc)["linux-nodes"]["result"] == "ok"  # reading is allowed: every other check still runs


def test_a_kind_you_may_not_read_is_skipped_not_passed(admin, scenario):
    scenario(scenarios.reader_without_nodes("jane"))
    text, doc = preflight("--as", "jane", env=admin, text=True)
    found = checks(doc)
    for check in ("linux-nodes", "excluded-nodes", "node-taints", "servicelb", "cloud-provider", "microk8s-addon"):
        assert found[check]["result"] == "skip", check
        assert found[check]["message"] == "no permission to list nodes"
    assert block(text.stdout, "Linux nodes are present") == [
        "- Linux nodes are present", "    no permission to list nodes"]
    assert found["network-addon"]["result"] == "ok"  # DaemonSets are readable
    assert found["permissions"]["result"] == "fail"
    assert text.returncode == 1


def test_user_without_any_rights(controlplane):
    code, doc = preflight(env={"KUBECONFIG": controlplane.kubeconfig("nobody")})
    found = checks(doc)
    assert code == 1
    assert found["kubernetes-version"]["result"] == "ok"  # /version is public
    assert found["existing-install"]["message"] == "no permission to list Deployments in all namespaces"
    assert found["network-addon"]["result"] == "skip"
    assert found["permissions"]["message"] == "26 of the 26 permissions that install needs are missing"


def test_unreachable_cluster_exits_3(controlplane, tmp_path):
    config = write_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{closed_port()}",
                              os.path.join(controlplane.pki, "ca.crt"), {}, context="gone")
    text, doc = preflight(env={"KUBECONFIG": config}, text=True)
    assert text.returncode == 3
    assert text.stdout.splitlines()[2:5] == ["Kubernetes", "----------", "× can reach the Kubernetes API"]
    assert "cannot reach the API server at https://127.0.0.1:" in text.stdout
    assert doc["success"] is False
    assert doc["categories"][0]["checks"][0]["result"] == "fail"
    assert "connection refused" in doc["categories"][0]["checks"][0]["message"]


def test_manifest_dry_run(admin, upstream_manifest):
    manifest = upstream_manifest("v0.16.1")
    code, doc = preflight("--version", "v0.16.1", "--manifest", manifest, env=admin)
    assert code == 1  # strict ARP
    dry_run = checks(doc)["manifest-dry-run"]
    assert dry_run["result"] == "ok"
    assert dry_run["details"] == [
        "15 cluster-scoped objects of v0.16.1 metallb-native.yaml pass a server-side dry run"]
    assert checks(doc)["permissions"]["details"] == ["all 26 permissions that install needs are granted"]
    mismatch = run_plugin("preflight", "--version", "v0.15.3", "--manifest", manifest, env=admin)
    assert mismatch.returncode == 2
    assert "is MetalLB v0.16.1's metallb-native.yaml, but --version is v0.15.3" in mismatch.stderr


@pytest.fixture
def crd_policy(admin_kubectl):
    """deny_metallb_crds in force for one test, and lifted again before the next one starts."""
    policy = scenarios.deny_metallb_crds()
    admin_kubectl.apply(policy)
    scenarios.wait_for_crd_policy(admin_kubectl, enforced=True)
    yield
    admin_kubectl.delete(policy)
    scenarios.wait_for_crd_policy(admin_kubectl, enforced=False)


def test_manifest_dry_run_catches_admission_and_rbac(controlplane, admin, crd_policy, upstream_manifest):
    manifest = upstream_manifest("v0.16.1")
    _, doc = preflight("--manifest", manifest, env=admin)
    dry_run = checks(doc)["manifest-dry-run"]
    assert dry_run["result"] == "fail"
    assert dry_run["message"].startswith("the API server refuses 9 of the 15 cluster-scoped objects")
    assert any(d.startswith("customresourcedefinition.apiextensions.k8s.io/ipaddresspools.metallb.io: ")
               and "MetalLB CRDs are not allowed on this cluster" in d for d in dry_run["details"])
    as_reader = run_plugin("preflight", "--manifest", manifest, "-o", "json",
                           env={"KUBECONFIG": controlplane.kubeconfig("reader")})
    refused = checks(json.loads(as_reader.stdout))["manifest-dry-run"]["details"]
    assert len(refused) == 15
    assert refused[0].startswith('namespace/metallb-system: namespaces "metallb-system" is forbidden: User "reader" '
                                 'cannot patch resource "namespaces"')


def test_existing_install_and_legacy_config(admin, admin_kubectl, upstream_manifest):
    """Last on purpose: it leaves metallb-system behind (namespaces cannot be deleted without a controller)."""
    with open(upstream_manifest("v0.14.9")) as handle:
        admin_kubectl.apply(scenarios.without_webhooks(yaml.safe_load_all(handle)))
    admin_kubectl.apply([scenarios.legacy_configmap("metallb-system"), {
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "existing", "namespace": "metallb-system"},
        "spec": {"addresses": ["192.168.1.200-192.168.1.220"]}}, {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": "metallb-system"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}])

    text, doc = preflight("--addresses", "192.168.1.192/27", env=admin, text=True)
    found = checks(doc)
    assert found["existing-install"]["result"] == "warn"
    assert found["existing-install"]["message"] == (
        "MetalLB v0.14.9 is already installed in metallb-system: kubectl metallb install would upgrade it to v0.16.1")
    assert found["existing-install"]["hint"] == "kubectl metallb status"
    assert found["legacy-config"]["result"] == "warn"
    assert found["legacy-config"]["hint"] == "kubectl metallb pools migrate"
    assert found["legacy-config"]["details"] == ["kubectl metallb pools migrate --from-configmap metallb-system/config"]
    assert found["pod-security"]["details"] == ["namespace metallb-system enforces the privileged level"]
    assert found["network-policies"]["details"] == ["deny-all: blocks 7946/TCP, 7946/UDP to the speaker",
                                                    "deny-all: blocks 9443/TCP to the controller"]
    assert found["addresses-pools"]["details"] == [
        "192.168.1.192/27 overlaps 192.168.1.200-192.168.1.220 of IPAddressPool metallb-system/existing"]
    assert "    see kubectl metallb pools migrate" in text.stdout

    _, elsewhere = preflight("-n", "lb-baseline", env=admin)
    other = checks(elsewhere)["existing-install"]
    assert other["result"] == "fail"
    assert other["message"].startswith("MetalLB is already installed in namespace metallb-system")
    assert other["details"] == ["metallb-system: MetalLB v0.14.9 (manifest, native backend)"]
