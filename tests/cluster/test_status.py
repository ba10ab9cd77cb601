"""kubectl metallb status on a real API server with the real v0.16.1 manifest, for the states the real MetalLB
cannot be brought into: everything else status reports is tested on the full cluster with the real MetalLB
(tests/e2e/test_4_status.py, test_3_services.py, test_5_faults.py). Each test here says why.

No controllers, kubelets or MetalLB processes run here, so the fixtures write what they would have written:
Deployment/DaemonSet .status (fixture mark_ready, as the workload controllers do), the webhook Service's
EndpointSlice (as the EndpointSlice controller does), the memberlist and certificate Secrets (as MetalLB's
controller does at start) and ConfigurationState reports (as MetalLB does).

This module has its own API server: the manifest's ValidatingWebhookConfiguration would make every metallb.io
write fail on a shared one (nothing serves it), so it is applied only by the test that checks it, and removed.
"""

import json
import os
import subprocess
import sys
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


def test_a_service_the_controller_has_not_processed_yet(ready, apps, admin):
    # A running controller processes a new Service within milliseconds (tests/e2e has every other pending reason,
    # from the real MetalLB), so the moment before its first event can only be set up here.
    ready.service(apps, "fresh")
    result, doc = status_json(admin)
    assert result.returncode == 1
    assert rows(doc, apps)["fresh"]["reason"] == "no MetalLB event yet: the controller has not processed it"
    assert problem_ids(doc) == {"services.pending"}
    pending = next(p for p in doc["problems"] if p["id"] == "services.pending")
    assert pending["message"] == "1 Service pending"
    assert pending["hint"] == "kubectl metallb status --service NAMESPACE/NAME"


def test_webhook_configuration_and_endpoints(ready, admin):
    # MetalLB's controller writes the CA bundle within a second of starting, and its webhook endpoints follow its
    # readiness, so the states before that are set up here (tests/e2e sees the endpoints go with a dead controller).
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
    # MetalLB's webhook refuses every configuration its controller would find invalid, so the real MetalLB never
    # reports Invalid unless its webhook was bypassed: the report is written here as the controller writes it.
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


def test_one_list_per_kind_whatever_the_number_of_services(ready, apps):
    # counts the plugin's requests: what the objects say does not matter, so the simulated install will do
    from metallb_plugin.commands.status import gather

    _, args = cli.parse(["status", "--kubeconfig", ready.plane.kubeconfig("admin")])

    def count():
        client = cluster.connect(args, environ={})
        gather(client, args)
        return client.requests

    before = count()
    for i in range(25):
        ready.service(apps, f"many-{i}")
    assert count() == before == 24  # 19 lists (9 metallb.io kinds, 2 frr-k8s kinds), then 5 in MetalLB's namespace
