"""kubectl metallb status, end to end on a real API server with the real v0.16.1 manifest.

No controllers, kubelets or MetalLB processes run here, so each test writes what they would have written:
Deployment/DaemonSet .status (fixture mark_ready, as the workload controllers do), the webhook Service's
EndpointSlice (as the EndpointSlice controller does), the memberlist and certificate Secrets and the webhook
caBundle (as MetalLB's controller does at start), Service .status.loadBalancer, the ip-allocated-from-pool
annotation and IPAllocated / AllocationFailed events (as MetalLB's controller does), ServiceL2Status objects and
nodeAssigned events (as the speaker does), Pods with their status (as the kubelet does).

This module has its own API server: the manifest's ValidatingWebhookConfiguration would make every metallb.io
write fail on a shared one (nothing serves it), so it is applied only by the test that checks it, and removed.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
import yaml

from helpers import run_plugin
from metallb_plugin import cli, cluster

NS = "metallb-system"
POOL = "prod"
POOL_RANGE = "192.168.10.0/28"


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


def _client(plane):
    _, args = cli.parse(["version", "--kubeconfig", plane.kubeconfig("admin")])
    return cluster.connect(args, environ={})


def _now(offset=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


class World:
    """Writes objects the way Kubernetes controllers and MetalLB would, through the plugin's own client."""

    def __init__(self, plane, manifest):
        self.plane = plane
        self.client = _client(plane)
        self.manifest = manifest
        self.webhook_configuration = next(d for d in manifest if d["kind"] == "ValidatingWebhookConfiguration")

    def kubectl(self, *args, input=None):
        binary = os.path.join(os.path.dirname(sys.executable), "kubectl")
        done = subprocess.run([binary, "--kubeconfig", self.plane.kubeconfig("admin"), *args], input=input,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def create(self, obj):
        return self.client.create(self.client.object_path(obj).rsplit("/", 1)[0], obj)

    def status(self, obj, status):
        path = self.client.object_path(obj) + "/status"
        return self.client.patch(path, {"status": status})

    def delete(self, obj):
        """Delete at once, as a kubelet-less server needs for Pods (grace period 0)."""
        self.client.request("DELETE", self.client.object_path(obj), body={"gracePeriodSeconds": 0})

    # -- nodes, pods

    def node(self, name, labels=None, taints=None):
        """A Node as its kubelet registers it, then reported Ready with the not-ready taint lifted (the node
        lifecycle controller's job; the API server's admission adds that taint to every new Node)."""
        obj = self.create({"apiVersion": "v1", "kind": "Node",
                           "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux",
                                                                 "kubernetes.io/hostname": name, **(labels or {})}}})
        self.client.patch(self.client.object_path(obj), {"spec": {"taints": taints or []}})
        self.status(obj, {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]})
        return obj

    def speaker_pod(self, node, ready=True, waiting=None):
        """A speaker Pod bound to a node, with the status its kubelet would report."""
        name = f"speaker-{node}-{uuid.uuid4().hex[:5]}"
        pod = self.create({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": NS,
                                        "labels": {"app": "metallb", "component": "speaker"}},
                           "spec": {"nodeName": node, "serviceAccountName": "speaker",
                                    "containers": [{"name": "speaker", "image": "quay.io/metallb/speaker:v0.16.1"}]}})
        state = {"running": {"startedAt": _now()}} if ready else {"waiting": waiting}
        self.status(pod, {"phase": "Running" if ready else "Pending", "conditions": [
            {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": str(ready)}],
            "containerStatuses": [{"name": "speaker", "ready": ready, "restartCount": 0, "image": "x",
                                   "imageID": "", "state": state}]})
        return pod

    # -- MetalLB's own writes

    def secrets(self):
        self.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "memberlist", "namespace": NS},
                     "stringData": {"secretkey": "not-a-real-key"}})
        cert = self.client.get(cluster.api_path("v1", "secrets", NS, "metallb-webhook-cert"))
        cert["stringData"] = {"ca.crt": "CA", "tls.crt": "CRT", "tls.key": "KEY"}
        self.client.replace(self.client.object_path(cert), cert)

    def webhook_endpoints(self, ready=True):
        obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "metallb-webhook-service-abcde", "namespace": NS,
                            "labels": {"kubernetes.io/service-name": "metallb-webhook-service"}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": ready}, "nodeName": "n1"}],
               "ports": [{"port": 9443, "protocol": "TCP"}]}
        path = self.client.object_path(obj)
        if self.client.get_or_none(path):
            self.client.patch(path, {"endpoints": obj["endpoints"]})
        else:
            self.create(obj)

    def pool(self, name=POOL, addresses=(POOL_RANGE,), **spec):
        return self.create({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                            "metadata": {"name": name, "namespace": NS},
                            "spec": {"addresses": list(addresses), **spec}})

    def l2(self, name="l2", **spec):
        return self.create({"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                            "metadata": {"name": name, "namespace": NS}, "spec": spec})

    def configuration_state(self, name, result, summary=""):
        obj = self.create({"apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState",
                           "metadata": {"name": name, "namespace": NS,
                                        "labels": {"metallb.io/component-type": name.split("-")[0]}}})
        self.status(obj, {"result": result, "errorSummary": summary})
        return obj

    def service(self, namespace, name, **spec):
        annotations = spec.pop("annotations", {})
        labels = spec.pop("labels", {})
        return self.create({"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": name, "namespace": namespace, "annotations": annotations,
                                         "labels": labels},
                            "spec": {"type": "LoadBalancer", "selector": {"app": name},
                                     "ports": [{"port": 80, "targetPort": 8080}], **spec}})

    def endpoints(self, service, nodes):
        meta = service["metadata"]
        self.create({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"name": f"{meta['name']}-{uuid.uuid4().hex[:5]}", "namespace": meta["namespace"],
                                  "labels": {"kubernetes.io/service-name": meta["name"]}},
                     "addressType": "IPv4",
                     "endpoints": [{"addresses": [f"10.244.{i}.9"], "conditions": {"ready": True}, "nodeName": n}
                                   for i, n in enumerate(nodes)],
                     "ports": [{"port": 8080, "protocol": "TCP"}]})

    def event(self, service, reason, message, type_="Normal", component="metallb-controller", age=0):
        meta = service["metadata"]
        self.create({"apiVersion": "v1", "kind": "Event",
                     "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:10]}", "namespace": meta["namespace"]},
                     "involvedObject": {"apiVersion": "v1", "kind": "Service", "namespace": meta["namespace"],
                                        "name": meta["name"], "uid": meta["uid"]},
                     "reason": reason, "message": message, "type": type_, "count": 1,
                     "source": {"component": component},
                     "firstTimestamp": _now(-age), "lastTimestamp": _now(-age)})

    def assign(self, service, ip, pool=POOL, node="n1"):
        """What MetalLB does for a Service it serves: annotation, status, events, ServiceL2Status."""
        meta = service["metadata"]
        path = self.client.object_path(service)
        self.client.patch(path, {"metadata": {"annotations": {"metallb.io/ip-allocated-from-pool": pool}}})
        self.client.patch(path + "/status", {"status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}})
        self.event(service, "IPAllocated", f'Assigned IP ["{ip}"]', age=5)
        if node:
            self.event(service, "nodeAssigned", f'announcing from node "{node}" with protocol "layer2"',
                       component="metallb-speaker")
            status = self.create({"apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status",
                                  "metadata": {"name": f"l2-{uuid.uuid4().hex[:5]}", "namespace": NS,
                                               "labels": {"metallb.io/node": node,
                                                          "metallb.io/service-name": meta["name"],
                                                          "metallb.io/service-namespace": meta["namespace"]}}})
            self.status(status, {"node": node, "serviceName": meta["name"], "serviceNamespace": meta["namespace"],
                                 "interfaces": [{"name": "eth0"}]})


@pytest.fixture(scope="module")
def world(controlplane, upstream_manifest):
    """The real v0.16.1 native manifest (minus its webhook configuration), three nodes, one pool, one L2
    advertisement, MetalLB's Secrets and a valid ConfigurationState: a MetalLB that only lacks readiness."""
    with open(upstream_manifest("v0.16.1")) as handle:
        manifest = [d for d in yaml.safe_load_all(handle) if d]
    w = World(controlplane, manifest)
    applied = [d for d in manifest if d["kind"] != "ValidatingWebhookConfiguration"]
    w.kubectl("apply", "--server-side", "--field-manager=test-setup", "-f", "-", input=yaml.safe_dump_all(applied))
    w.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    w.node("n1")
    w.node("n2")
    w.node("cp1", labels={"node.kubernetes.io/exclude-from-external-load-balancers": "",
                          "node-role.kubernetes.io/control-plane": ""},
           taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    w.secrets()
    w.webhook_endpoints()
    w.pool()
    w.l2(ipAddressPools=[POOL])
    w.configuration_state("controller", "Valid")
    return w


@pytest.fixture
def ready(world, mark_ready):
    """Controller and speakers ready, as their workload controllers would report (the speaker tolerates the
    control-plane taint, so it runs on all three nodes)."""
    mark_ready("deployment", NS, "controller")
    mark_ready("daemonset", NS, "speaker", desired=3)
    return world


@pytest.fixture
def apps(world, kubectl):
    """A namespace for a test's Services; its Services are deleted afterwards (no controller would do it)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "services,endpointslices,events", "--all", "-n", name, "--wait=false")
    kubectl("delete", "namespace", name, "--wait=false")


def status(env, *args):
    return run_plugin("status", *args, env=env)


def status_json(env, *args):
    result = status(env, "-o", "json", *args)
    return result, json.loads(result.stdout)


def rows(doc, namespace):
    return {s["name"]: s for s in doc["services"] if s["namespace"] == namespace}


def problem_ids(doc):
    return {p["id"] for p in doc["problems"] if p["severity"] == "fail"}


# --------------------------------------------------------------------------------------------- overview


def test_healthy_install_with_an_assigned_service(ready, apps, admin):
    web = ready.service(apps, "web")
    ready.endpoints(web, ["n1"])
    ready.assign(web, "192.168.10.1")
    result = status(admin)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.startswith("MetalLB v0.16.1 in metallb-system (manifest, native BGP backend)")
    assert "√ controller Deployment controller: 1/1 available" in out
    assert "√ speaker DaemonSet speaker: ready on 3/3 nodes, 3/3 up to date" in out
    assert "√ webhook Service metallb-webhook-service: 1 ready endpoint" in out
    assert "√ Secret memberlist has secretkey" in out
    assert "√ 1 IPAddressPool, 1 L2Advertisement, 0 BGPAdvertisements, 0 BGPPeers in metallb-system" in out
    assert "√ configuration valid (1 component: Valid)" in out
    line = next(l for l in out.splitlines() if l.startswith(apps))
    assert line.split()[1:5] == ["web", "assigned", "192.168.10.1", "prod"]
    assert "n1 (layer2)" in line
    assert out.rstrip().endswith("MetalLB is healthy: 1 warning")  # no webhook configuration applied yet

    result, doc = status_json(admin)
    assert result.returncode == 0
    assert doc["verdict"] == "healthy"
    assert doc["installation"]["namespace"] == NS and doc["installation"]["version"] == "v0.16.1"
    assert doc["installation"]["managed_by"] == "manifest" and doc["installation"]["backend"] == "native"
    assert doc["components"]["controller"] == {"name": "controller", "desired": 1, "ready": 1, "updated": 1,
                                               "available": 1}
    assert doc["configuration"]["ipAddressPools"] == 1 and doc["configuration"]["unannouncedPools"] == []
    row = rows(doc, apps)["web"]
    assert row["state"] == "assigned" and row["ips"] == ["192.168.10.1"] and row["pool"] == "prod"
    assert row["announcedBy"] == [{"node": "n1", "protocol": "layer2", "source": "ServiceL2Status"}]
    assert [p["id"] for p in doc["problems"]] == ["webhook.configuration"]
    assert set(doc) == {"namespace", "installation", "verdict", "summary", "components", "configuration",
                        "services", "checks", "problems"}

    result = status(admin, "-o", "yaml")
    assert result.returncode == 0 and yaml.safe_load(result.stdout)["verdict"] == "healthy"


def test_controller_not_ready_degrades_and_explains_pending_services(world, mark_ready, apps, admin):
    mark_ready("deployment", NS, "controller", ready=0)
    mark_ready("daemonset", NS, "speaker", desired=3)
    api = world.service(apps, "api")
    result = status(admin)
    assert result.returncode == 1
    assert "× controller ready\n    controller Deployment controller: 0/1 available\n" \
           "    see kubectl -n metallb-system describe deployment controller" in result.stdout
    assert result.stdout.rstrip().endswith("MetalLB is degraded: 2 problems, 1 warning")
    result, doc = status_json(admin)
    assert result.returncode == 1 and doc["verdict"] == "degraded"
    assert problem_ids(doc) == {"components.controller", "services.pending"}
    assert rows(doc, apps)["api"]["reason"] == "MetalLB's controller is not ready, so nothing assigns addresses"
    explained = status(admin, "--service", f"{apps}/api")
    assert explained.returncode == 1
    assert "Most likely cause: MetalLB's controller is not running, so no address is assigned" in explained.stdout
    world.delete(api)


def test_speaker_missing_on_a_node_with_the_reason_from_its_pod(ready, mark_ready, admin):
    mark_ready("daemonset", NS, "speaker", desired=3, ready=2)
    good = [ready.speaker_pod("n1"), ready.speaker_pod("cp1")]
    bad = ready.speaker_pod("n2", ready=False, waiting={
        "reason": "CreateContainerConfigError", "message": 'secret "memberlist" not found'})
    try:
        result = status(admin)
        assert result.returncode == 1
        assert "× speaker ready on every node\n    speaker DaemonSet speaker: ready on 2/3 nodes, 3/3 up to date" \
            in result.stdout
        assert "      nodes without a ready speaker: n2\n" in result.stdout
        assert (f"      pod {bad['metadata']['name']} (n2): container speaker: CreateContainerConfigError: "
                'secret "memberlist" not found') in result.stdout
        assert "× MetalLB Pods ready\n    1 Pod of 3 not ready" in result.stdout
        _, doc = status_json(admin)
        assert doc["components"]["speaker"]["nodesWithoutReadyPod"] == ["n2"]
        assert {"components.speaker", "components.pods"} <= problem_ids(doc)
    finally:
        for pod in good + [bad]:
            ready.delete(pod)


def test_pending_services_each_with_its_reason(ready, apps, admin):
    full = ready.service(apps, "full")
    ready.event(full, "AllocationFailed", f'Failed to allocate IP for "{apps}/full": no available IPs', "Warning")
    badpool = ready.service(apps, "badpool", annotations={"metallb.io/address-pool": "nope"})
    ready.event(badpool, "AllocationFailed", f'Failed to allocate IP for "{apps}/badpool": unknown pool "nope"',
                "Warning")
    outside = ready.service(apps, "outside", annotations={"metallb.io/loadBalancerIPs": "10.0.0.1"})
    ready.event(outside, "AllocationFailed",
                f'Failed to allocate IP for "{apps}/outside": ["10.0.0.1"] is not allowed in config', "Warning")
    ready.service(apps, "classy", loadBalancerClass="example.com/other-lb")
    ready.service(apps, "fresh")
    result, doc = status_json(admin)
    assert result.returncode == 1
    table = rows(doc, apps)
    assert table["full"]["state"] == "pending"
    assert table["full"]["reason"] == f'AllocationFailed: Failed to allocate IP for "{apps}/full": no available IPs'
    assert table["full"]["hint"].startswith("no pool could serve it")
    assert table["badpool"]["reason"].endswith('unknown pool "nope"')
    assert table["badpool"]["hint"] == "the metallb.io/address-pool annotation names a pool that does not exist in " \
                                       "metallb-system"
    assert table["outside"]["hint"].startswith("the requested address is in no IPAddressPool")
    assert table["classy"]["state"] == "ignored" and table["classy"]["problem"] is None
    assert "example.com/other-lb belongs to another load balancer" in table["classy"]["reason"]
    assert table["fresh"]["reason"] == "no MetalLB event yet: the controller has not processed it"
    assert problem_ids(doc) == {"services.pending"}
    pending = next(p for p in doc["problems"] if p["id"] == "services.pending")
    assert pending["message"] == "4 Services pending"
    assert pending["hint"] == "kubectl metallb status --service NAMESPACE/NAME"

    text = status(admin).stdout
    assert f"{apps}/badpool: AllocationFailed: Failed to allocate IP for \"{apps}/badpool\": unknown pool \"nope\" -> " \
           "the metallb.io/address-pool annotation names a pool that does not exist in metallb-system" in text
    assert "√ 1 Service left to other implementations (loadBalancerClass)" in text

    explained = status(admin, "--service", f"{apps}/badpool")
    assert explained.returncode == 1
    assert "× badpool: " not in explained.stdout
    assert '× prod: the Service asks for pool "nope"' in explained.stdout
    assert "Most likely cause: no IPAddressPool can serve it: prod: the Service asks for pool \"nope\"" in \
        explained.stdout
    assert "Fix: create pool nope in metallb-system or fix the metallb.io/address-pool annotation" in explained.stdout

    explained = status(admin, "--service", f"{apps}/outside", "-o", "json")
    doc = json.loads(explained.stdout)
    assert explained.returncode == 1 and doc["state"] == "pending" and doc["ok"] is False
    assert doc["pools"] == [{"name": "prod", "eligible": False,
                             "reasons": ["requested address 10.0.0.1 is not in this pool"], "autoAssign": True,
                             "pinned": False, "priority": 0, "families": ["IPv4"], "free": {"IPv4": 16}}]
    assert doc["cause"] == {"summary": "no IPAddressPool can serve it: prod: requested address 10.0.0.1 is not in "
                                       "this pool",
                            "fix": "request an address inside a pool, or add it to one"}

    explained = status(admin, "--service", f"{apps}/classy")
    assert explained.returncode == 1
    assert "Most likely cause: MetalLB does not handle it: its loadBalancerClass example.com/other-lb belongs to " \
           "another load balancer" in explained.stdout


def test_no_pools_at_all(ready, apps, admin):
    """MetalLB records no event for a Service when there is no pool: status must say so itself."""
    ready.service(apps, "lonely")
    pool = ready.client.get(cluster.api_path("metallb.io/v1beta1", "ipaddresspools", NS, POOL))
    ready.delete(pool)
    try:
        result, doc = status_json(admin)
        assert result.returncode == 1
        assert rows(doc, apps)["lonely"]["reason"] == ("there is no IPAddressPool in metallb-system (MetalLB records "
                                                       "no event in that case)")
        assert {"config.pools", "services.pending"} <= problem_ids(doc)
        explained = status(admin, "--service", f"{apps}/lonely")
        assert explained.returncode == 1
        assert "× pools: none in metallb-system" in explained.stdout
        assert ("Most likely cause: there is no IPAddressPool in metallb-system, so MetalLB assigns nothing (and "
                "records no event)") in explained.stdout
        assert "Fix: kubectl metallb pools create NAME --addresses RANGE --l2" in explained.stdout
    finally:
        ready.pool()


def test_webhook_configuration_and_endpoints(ready, admin):
    vwc = json.loads(json.dumps(ready.webhook_configuration))
    ready.create(vwc)
    try:
        result = status(admin)
        assert result.returncode == 1
        assert "× webhook configuration has a CA bundle\n    ValidatingWebhookConfiguration " \
               "metallb-webhook-configuration has no CA bundle in 6 of 6 webhooks" in result.stdout
        live = ready.client.get(ready.client.object_path(vwc))
        for hook in live["webhooks"]:  # what MetalLB's cert rotator does when the controller starts
            hook["clientConfig"]["caBundle"] = "Q0EK"
        ready.client.replace(ready.client.object_path(vwc), live)
        ready.webhook_endpoints(ready=False)
        result, doc = status_json(admin)
        assert problem_ids(doc) == {"webhook.endpoints"}
        problem = doc["problems"][0]
        assert problem["message"].startswith("webhook Service metallb-webhook-service: no ready endpoints")
        assert problem["hint"] == "kubectl -n metallb-system get endpointslices -l " \
                                  "kubernetes.io/service-name=metallb-webhook-service"
        ready.webhook_endpoints(ready=True)
        result = status(admin)
        assert result.returncode == 0, result.stdout
        assert "√ ValidatingWebhookConfiguration metallb-webhook-configuration has a CA bundle (6 webhooks)" \
            in result.stdout
        assert result.stdout.rstrip().endswith("MetalLB is healthy")
    finally:
        ready.webhook_endpoints(ready=True)
        ready.delete(vwc)


def test_configuration_state_invalid(ready, admin):
    state = ready.client.get(cluster.api_path("metallb.io/v1beta1", "configurationstates", NS, "controller"))
    ready.status(state, {"result": "Invalid", "errorSummary": 'CIDR "10.0.0.0/24" in pool "b" overlaps with pool "a"'})
    try:
        result = status(admin)
        assert result.returncode == 1
        assert ("× configuration accepted\n    configuration rejected by 1 component (the last valid one keeps "
                'running)\n      controller: Invalid: CIDR "10.0.0.0/24" in pool "b" overlaps with pool "a"') \
            in result.stdout
    finally:
        ready.status(state, {"result": "Valid", "errorSummary": ""})


def test_wait_returns_once_the_controller_reports_ready(world, mark_ready, admin):
    mark_ready("deployment", NS, "controller", ready=0)
    mark_ready("daemonset", NS, "speaker", desired=3)

    def controller_starts():
        time.sleep(2)
        mark_ready("deployment", NS, "controller")  # as the Deployment controller would once the Pod is ready

    thread = threading.Thread(target=controller_starts)
    thread.start()
    result = status(admin, "--wait", "--timeout", "60s")
    thread.join()
    assert result.returncode == 0, result.stdout + result.stderr
    # not a terminal: one line per change, no elapsed-time counter
    assert result.stderr.splitlines()[0] == ("waiting for MetalLB to become healthy: controller Deployment "
                                             "controller: 0/1 available")
    assert result.stdout.rstrip().endswith("MetalLB is healthy: 1 warning")


def test_wait_times_out_with_the_last_report(world, mark_ready, admin):
    mark_ready("deployment", NS, "controller", ready=0)
    mark_ready("daemonset", NS, "speaker", desired=3)
    result = status(admin, "--wait", "--timeout", "3s", "-o", "json")
    assert result.returncode == 4
    assert json.loads(result.stdout)["verdict"] == "degraded"
    assert result.stderr.strip().splitlines()[-1] == (
        "error: timed out after 3s waiting for MetalLB to become healthy (the last report is above)")
    mark_ready("deployment", NS, "controller")


def test_service_assigned_and_announced(ready, apps, admin):
    web = ready.service(apps, "web", annotations={"metallb.universe.tf/allow-shared-ip": "k"})
    ready.endpoints(web, ["n2"])
    ready.assign(web, "192.168.10.3", node="n2")
    result = status(admin, "--service", f"{apps}/web")
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert out.startswith(f"Service {apps}/web\n")
    assert " 1. √ type LoadBalancer, no loadBalancerClass: MetalLB handles it" in out
    assert "      deprecated annotations (use metallb.io/): metallb.universe.tf/allow-shared-ip" in out
    assert "√ prod: can serve it (IPv4: 15 free)" in out
    assert "√ address: 192.168.10.3 from pool prod" in out
    assert '      event Normal IPAllocated: Assigned IP ["192.168.10.3"]' in out
    assert "√ endpoints: 1 ready on n2" in out
    assert "√ advertisements for pool prod: 1" in out
    assert "      L2Advertisement l2 (layer2): all nodes" in out
    assert "√ nodes that may announce it: 2 of 3" in out
    assert ("      × cp1: labelled node.kubernetes.io/exclude-from-external-load-balancers (the speaker's "
            "--ignore-exclude-lb is off)") in out
    assert "√ announced by n2 (layer2)" in out
    assert "Most likely cause: none: MetalLB assigned 192.168.10.3 and n2 announces it" in out
    _, doc = status_json(admin)
    assert rows(doc, apps)["web"]["deprecatedAnnotations"] == ["metallb.universe.tf/allow-shared-ip"]
    assert "services.annotations" in {p["id"] for p in doc["problems"]}


def test_service_assigned_from_a_pool_nobody_announces(ready, apps, admin):
    ready.pool("dark", ["192.168.20.0/29"])
    try:
        hidden = ready.service(apps, "hidden")
        ready.endpoints(hidden, ["n1"])
        ready.assign(hidden, "192.168.20.1", pool="dark", node=None)
        result, doc = status_json(admin)
        assert result.returncode == 1
        assert doc["configuration"]["unannouncedPools"] == ["dark"]
        row = rows(doc, apps)["hidden"]
        assert row["state"] == "assigned" and row["announcedBy"] == []
        assert row["reason"] == "pool dark is not announced: no L2Advertisement or BGPAdvertisement selects it"
        assert {"services.announced"} == problem_ids(doc)
        explained = status(admin, "--service", f"{apps}/hidden")
        assert explained.returncode == 1
        assert "× advertisements for pool dark: none" in explained.stdout
        assert "Most likely cause: pool dark is not announced: no L2Advertisement or BGPAdvertisement covers it" \
            in explained.stdout
        assert "Fix: create one: an L2Advertisement in metallb-system with spec.ipAddressPools: [dark]" \
            in explained.stdout
    finally:
        ready.delete(ready.client.get(cluster.api_path("metallb.io/v1beta1", "ipaddresspools", NS, "dark")))


def test_service_with_local_traffic_policy_and_endpoints_only_on_an_excluded_node(ready, apps, admin):
    local = ready.service(apps, "local", externalTrafficPolicy="Local")
    ready.endpoints(local, ["cp1"])
    ready.assign(local, "192.168.10.4", node=None)
    result = status(admin, "--service", f"{apps}/local", "-o", "json")
    doc = json.loads(result.stdout)
    assert result.returncode == 1 and doc["ok"] is False
    titles = [s["title"] for s in doc["steps"]]
    assert "externalTrafficPolicy Local: only nodes with a ready endpoint may announce it (cp1)" in titles
    assert doc["cause"]["summary"] == (
        "no node may announce it: cp1: labelled node.kubernetes.io/exclude-from-external-load-balancers (the "
        "speaker's --ignore-exclude-lb is off); n1, n2: no ready endpoint (externalTrafficPolicy Local)")
    assert doc["cause"]["fix"].startswith("remove the label (node.kubernetes.io/exclude-from-external-load-balancers)")


def test_service_without_ready_endpoints(ready, apps, admin):
    idle = ready.service(apps, "idle")
    ready.assign(idle, "192.168.10.5", node=None)
    result, doc = status_json(admin)
    assert rows(doc, apps)["idle"]["reason"] == "not announced: it has no ready endpoints"
    assert rows(doc, apps)["idle"]["problem"] == "warn"
    explained = status(admin, "--service", f"{apps}/idle")
    assert explained.returncode == 1
    assert "× endpoints: none ready" in explained.stdout
    assert ("Most likely cause: the Service has no ready endpoints, and MetalLB only announces Services that have "
            "some") in explained.stdout


def test_service_lookup_errors(ready, apps, admin):
    ready.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "plain", "namespace": apps},
                  "spec": {"ports": [{"port": 80}]}})
    result = status(admin, "--service", f"{apps}/plain")
    assert result.returncode == 1
    assert " 1. × type ClusterIP: not a LoadBalancer Service" in result.stdout
    assert f"Most likely cause: {apps}/plain is of type ClusterIP; MetalLB only serves type LoadBalancer" \
        in result.stdout
    missing = status(admin, "--service", f"{apps}/nothing")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"error: Service {apps}/nothing not found"
    bad = status(admin, "--service", "a/b/c")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --service a/b/c: use NAMESPACE/NAME, like --service default/web"


def test_namespace_flag_pointing_at_the_wrong_namespace(ready, admin):
    result, doc = status_json(admin, "-n", "default")
    assert result.returncode == 1
    assert doc["namespace"] == "default" and doc["installation"] is None
    assert doc["problems"][0]["message"] == ("no MetalLB in namespace default (-n); found one in metallb-system: use "
                                             "-n metallb-system or leave -n out")


def test_permissions(ready, controlplane):
    reader = run_plugin("status", "--kubeconfig", controlplane.kubeconfig("reader"))
    assert reader.returncode == 0, reader.stdout  # a read-only user sees everything status needs
    nobody = run_plugin("status", "--kubeconfig", controlplane.kubeconfig("nobody"))
    assert nobody.returncode == 3
    assert nobody.stderr.startswith('error: permission denied: deployments.apps is forbidden: User "nobody"')


def test_one_list_per_kind_whatever_the_number_of_services(ready, apps):
    from metallb_plugin.commands.status import gather

    _, args = cli.parse(["status", "--kubeconfig", ready.plane.kubeconfig("admin")])

    def count():
        client = cluster.connect(args, environ={})
        gather(client, args)
        return client.requests

    before = count()
    for i in range(25):
        ready.service(apps, f"many-{i}")
    assert count() == before == 19  # 14 lists (7 of them metallb.io kinds), then 5 in MetalLB's namespace


def test_wait_for_one_service_to_be_served(ready, apps, admin):
    late = ready.service(apps, "late")
    ready.endpoints(late, ["n1"])

    def metallb_assigns():
        time.sleep(2)
        ready.assign(late, "192.168.10.9")

    thread = threading.Thread(target=metallb_assigns)
    thread.start()
    result = status(admin, "--service", f"{apps}/late", "--wait", "--timeout", "60s")
    thread.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.splitlines()[0] == (f"waiting for Service {apps}/late to be served: no MetalLB event yet: "
                                             "the controller has not processed it")
    assert "Most likely cause: none: MetalLB assigned 192.168.10.9 and n1 announces it" in result.stdout
