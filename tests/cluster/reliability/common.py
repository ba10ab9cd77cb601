"""Helpers of the reliability tests: an admin client, kube-proxy's objects, a plugin process the test drives, and
the objects an install left behind."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import yaml

from helpers import REPO
from metallb_plugin import cli, cluster

V0149_NATIVE = "951065e85692aa106f1bb5d5a487d9306154923a794ab1d82122881cbaf588e4"
V0161_NATIVE = "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b"
KS = "kube-system"
KUBE_PROXY_IPVS = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n"
                   "ipvs:\n  scheduler: \"\"\n  strictARP: false\n")
REQUEST_LINE = re.compile(r"^(GET|POST|PATCH|PUT|DELETE) /\S* \d{3} \(\d+ ms\)$")


def client_for(kubeconfig):
    _, args = cli.parse(["version", "--kubeconfig", kubeconfig])
    return cluster.connect(args, environ={})


def admin_client(plane):
    return client_for(plane.kubeconfig("admin"))


def kube_proxy(plane, config=KUBE_PROXY_IPVS):
    """kube-proxy as kubeadm sets it up: ConfigMap kube-system/kube-proxy (config.conf) and its DaemonSet."""
    client = admin_client(plane)
    labels = {"k8s-app": "kube-proxy"}
    client.apply(cluster.api_path("v1", "configmaps", KS, "kube-proxy"), {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": KS},
        "data": {"config.conf": config}}, force=True)
    client.apply(cluster.api_path("apps/v1", "daemonsets", KS, "kube-proxy"), {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": KS,
                                                                   "labels": labels},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
            "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.30.0",
                            "command": ["kube-proxy", "--config=/var/lib/kube-proxy/config.conf"]}],
            "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}]}}}}, force=True)
    return client


class Driven:
    """The plugin as a process the test steers: its stderr is read line by line as it is written, so the test
    can act (pause it, kill the API server, interrupt it) at a precise point; stdout is collected."""

    def __init__(self, args, env, tally):
        full_env = dict(os.environ)
        full_env.pop("KUBECONFIG", None)
        full_env.update(env)
        self.tally = tally
        tally.add("plugin runs")
        self.proc = subprocess.Popen([sys.executable, "-m", "metallb_plugin", *args], cwd=REPO, env=full_env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._seen = threading.Condition()
        self._out = []
        self._threads = [threading.Thread(target=self._read_stderr, daemon=True),
                         threading.Thread(target=lambda: self._out.append(self.proc.stdout.read()), daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self.lines.append(None)  # end of stream
            self._seen.notify_all()

    def wait_for(self, predicate, timeout=60):
        """Block until a stderr line satisfies predicate(line, lines so far); the line, or AssertionError."""
        deadline = time.monotonic() + timeout
        checked = 0
        with self._seen:
            while True:
                while checked < len(self.lines):
                    line = self.lines[checked]
                    checked += 1
                    if line is None:
                        raise AssertionError("the plugin ended before the expected point:\n" + self.stderr)
                    if predicate(line, self.lines[:checked]):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the expected point was not reached:\n" + self.stderr)
                self._seen.wait(left)

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def interrupt(self):
        self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout=120):
        code = self.proc.wait(timeout)
        for thread in self._threads:
            thread.join(10)
        self.returncode = code
        self.stdout = "".join(self._out)
        self.tally.check_stderr(self.stderr)
        return self

    @property
    def stderr(self):
        return "\n".join(line for line in self.lines if line is not None)


def applying(lines):
    """The -v request lines once a write command applies: after its access reviews (dry runs come before them)."""
    for index, line in enumerate(lines):
        if line and line.startswith("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews "):
            return lines[index:]
    return []


def requests_seen(lines, method=None):
    return sum(1 for line in lines if line and REQUEST_LINE.match(line) and (method is None or
                                                                              line.startswith(method + " ")))


def manifest_refs(path):
    """{(kind, namespace, name)} of a manifest's objects."""
    with open(path) as handle:
        return {(d["kind"], (d["metadata"].get("namespace") or ""), d["metadata"]["name"])
                for d in yaml.safe_load_all(handle) if d}


CLUSTER_KINDS = {"Namespace": "/api/v1/namespaces",
                 "CustomResourceDefinition": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                 "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                 "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                 "ValidatingWebhookConfiguration":
                     "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"}
NAMESPACED_KINDS = {"ServiceAccount": ("v1", "serviceaccounts"), "ConfigMap": ("v1", "configmaps"),
                    "Secret": ("v1", "secrets"), "Service": ("v1", "services"),
                    "Role": ("rbac.authorization.k8s.io/v1", "roles"),
                    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings"),
                    "Deployment": ("apps/v1", "deployments"), "DaemonSet": ("apps/v1", "daemonsets")}


def installed_objects(client, namespace="metallb-system", manager=cluster.FIELD_MANAGER):
    """{(kind, namespace, name)} of every live object of a MetalLB kind that `manager` wrote (cluster-wide and in
    MetalLB's namespace): what an install leaves behind, orphans included."""
    found = set()

    def ours(obj):  # and alive: a deleted CRD lingers a moment while the API server removes its objects
        meta = obj.get("metadata") or {}
        return not meta.get("deletionTimestamp") and any(m.get("manager") == manager
                                                         for m in meta.get("managedFields") or [])

    def items(path):  # one GET of the collection: Client.list drops managedFields, which tell whose it is
        return client.get(path)["items"]

    for kind, path in CLUSTER_KINDS.items():
        found |= {(kind, "", o["metadata"]["name"]) for o in items(path) if ours(o)}
    for kind, (version, plural) in NAMESPACED_KINDS.items():
        found |= {(kind, namespace, o["metadata"]["name"])
                  for o in items(cluster.api_path(version, plural, namespace)) if ours(o)}
    return found
