"""pools create against a real admission webhook that is not serving yet, then serves, then denies; and
warnings about node addresses and pod CIDRs.

This module registers a ValidatingWebhookConfiguration and creates Nodes (cluster-wide state), so it runs on
an API server of its own. The webhook is a small HTTPS server in this process, reached by the API server at
https://127.0.0.1:PORT: it answers AdmissionReviews the way MetalLB's controller does (allow, or deny with a
message). Before it is started, the API server gets "connection refused", as right after a MetalLB install.
"""

import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import uuid

import pytest

from helpers import run_plugin


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


@pytest.fixture(scope="module")
def kube(controlplane):
    binary = os.path.join(os.path.dirname(sys.executable), "kubectl")

    def run(*args, input=None):
        done = subprocess.run([binary, "--kubeconfig", controlplane.kubeconfig("admin"), *args], input=input,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    return run


@pytest.fixture(scope="module")
def crds(kube, upstream_manifest):
    import yaml

    with open(upstream_manifest("v0.16.1")) as handle:
        found = [d for d in yaml.safe_load_all(handle) if d and d["kind"] == "CustomResourceDefinition"]
    kube("apply", "--server-side", "--field-manager=test-setup", "-f", "-", input=yaml.safe_dump_all(found))
    kube("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{c['metadata']['name']}" for c in found])


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Review(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        request = review["request"]
        name = request["object"]["metadata"]["name"]
        response = {"uid": request["uid"], "allowed": not name.startswith("deny")}
        if not response["allowed"]:
            response["status"] = {"code": 403, "message": f'pool "{name}" refused by policy'}
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": response}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Webhook:
    """The webhook's endpoint: registered from the start, serving only after start()."""

    def __init__(self, tmp, port):
        self.port, self.server = port, None
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(tmp / "tls.key"), "-out", str(tmp / "tls.crt")], check=True, capture_output=True)
        self.cert, self.key = str(tmp / "tls.crt"), str(tmp / "tls.key")

    def start(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Review)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.server = server

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture(scope="module")
def webhook(crds, kube, tmp_path_factory):
    import base64

    hook = Webhook(tmp_path_factory.mktemp("webhook"), _free_port())
    with open(hook.cert, "rb") as handle:
        bundle = base64.b64encode(handle.read()).decode()
    kube("apply", "-f", "-", input=json.dumps({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "metallb-webhook-configuration"},
        "webhooks": [{
            "name": "ipaddresspoolvalidationwebhook.metallb.io", "sideEffects": "None", "failurePolicy": "Fail",
            "admissionReviewVersions": ["v1"], "timeoutSeconds": 5,
            "clientConfig": {"url": f"https://127.0.0.1:{hook.port}/validate-metallb-io-v1beta1-ipaddresspool",
                             "caBundle": bundle},
            "rules": [{"apiGroups": ["metallb.io"], "apiVersions": ["v1beta1"], "operations": ["CREATE", "UPDATE"],
                       "resources": ["ipaddresspools"]}]}]}))
    yield hook
    hook.stop()


@pytest.fixture
def ns(kube):
    name = f"hook-{uuid.uuid4().hex[:8]}"
    kube("create", "namespace", name)
    return name


@pytest.fixture
def env(controlplane):
    return {"KUBECONFIG": controlplane.kubeconfig("admin")}


def test_gives_up_after_the_timeout_and_says_what_it_waited_for(webhook, ns, env, kube):
    webhook.stop()
    result = run_plugin("pools", "create", "early", "-n", ns, "--addresses", "10.1.0.0/24", "--l2", "--timeout", "3s",
                        env=env)
    assert result.returncode == 4, result.stderr
    assert ("waiting for MetalLB's admission webhook to serve (connection refused); retrying IPAddressPool "
            '"early" for up to 3s') in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        'error: MetalLB\'s admission webhook did not accept IPAddressPool "early" within 3s (connection refused). Is '
        "the controller running? Check with: kubectl metallb status")
    assert json.loads(kube("get", "ipaddresspools", "-n", ns, "-o", "json"))["items"] == []


def test_retries_until_the_webhook_serves(webhook, ns, env, kube):
    webhook.stop()
    timer = threading.Timer(2.5, webhook.start)  # the controller becomes ready while the plugin retries
    timer.start()
    try:
        result = run_plugin("pools", "create", "patient", "-n", ns, "--addresses", "10.2.0.0/24", "--l2",
                            "--timeout", "60s", env=env)
    finally:
        timer.join()
    assert result.returncode == 0, result.stderr
    assert "waiting for MetalLB's admission webhook to serve (connection refused)" in result.stderr
    assert result.stdout == "ipaddresspool.metallb.io/patient created\nl2advertisement.metallb.io/patient created\n"
    assert json.loads(kube("get", "ipaddresspool", "patient", "-n", ns, "-o", "json"))["spec"]["addresses"] == [
        "10.2.0.0/24"]


def test_a_denial_is_reported_as_metallb_refusing_not_as_rbac(webhook, ns, env):
    if webhook.server is None:
        webhook.start()
    result = run_plugin("pools", "create", "deny-me", "-n", ns, "--addresses", "10.3.0.0/24", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        'error: MetalLB rejected IPAddressPool "deny-me": pool "deny-me" refused by policy')


def test_warns_about_node_addresses_and_pod_cidrs(webhook, ns, env, kube):
    if webhook.server is None:
        webhook.start()
    kube("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}}))
    # the kubelet reports node addresses in .status; no kubelet runs here, so write them as it would
    kube("patch", "node", "worker-1", "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"addresses": [{"type": "InternalIP", "address": "192.168.5.21"},
                                  {"type": "Hostname", "address": "worker-1"}]}}))
    result = run_plugin("pools", "create", "risky", "-n", ns, "--addresses", "192.168.5.16/28,10.244.1.200-10.244.1.210",
                        "--l2", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert ('warning: 192.168.5.16/28 overlaps the InternalIP of node "worker-1" (192.168.5.21): MetalLB would hand '
            "out addresses that are already in use") in result.stderr
    assert ('warning: 10.244.1.200-10.244.1.210 overlaps the pod CIDR of node "worker-1" (10.244.1.0/24)'
            in result.stderr)
