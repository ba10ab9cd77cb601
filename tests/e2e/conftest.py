"""The full cluster (tier B): the real MetalLB on a real control plane, with real controllers and real ARP.

One cluster per test session, shared by every e2e test (tools/controlplane/fullcluster.py; starting it takes
about 20 s): etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok in a network namespace, two
kwok nodes (node-a 198.51.100.11, node-b 198.51.100.12) each in a namespace of its own on a LAN bridge, and the
kubelet stand-in (kubelet.py) that runs MetalLB's real controller and speaker binaries for MetalLB's Pods and
owns their status (readiness from the real probes). kwok runs every other Pod: Running and Ready at once, with an
address from 203.0.113.0/25. Nothing in these tests writes what a controller, kubelet or MetalLB would write.

Fixtures (reuse them for new e2e tests):
  full_cluster  the FullCluster: .kubeconfig("admin"|"reader"|"nobody"), .nodes {name: {"ip", "netns"}},
                .lan_netns (the LAN namespace: bridge br0, client address 198.51.100.2), .cp_netns (control plane
                and pod network), .api() (a small stdlib API client), .dir (logs; pods/<ns>_<pod>_<uid>/ holds
                each MetalLB container's log)
  admin         environment for helpers.run_plugin as the cluster admin
  kubectl       the real kubectl as the admin: kubectl(*args, input=None, check=True) -> stdout
  metallb       metallb("v0.16.1") makes that release the installed one, with `kubectl metallb install` (which
                waits for real readiness), unless it is installed and ready already; returns the version
  namespace     a fresh namespace for one test, deleted afterwards
  lan           the LAN: lan.who_has(ip) -> MAC answering ARP for ip (or None), lan.mac(node) -> the node's MAC,
                lan.wait_for(ip, macs) -> the MAC once one of macs answers
  web           web(namespace, name, replicas=1, annotations=None, **service_spec) -> a Deployment (Pods run
                by kwok) and its LoadBalancer Service; returns the Service name
Helpers in e2e/support.py: service_ip (waits for the assigned address), speakers ({node: speaker Pod}),
metallb_pid (the pid of a MetalLB Pod's real process), until (poll a check), installed_version.

Tests keep their own objects in their own namespaces and pools and delete them. Pool addresses: the modules
here take 198.51.100.96/30 and .128 to .255 (and .8/29 as addresses that hold nodes); take yours from
198.51.100.32-95 or .100-127 (the API server is .1, the LAN client .2, the nodes .11 and up). MetalLB's
installation is shared: modules run in file order (test_1_*, test_2_*, ...): test_2 installs v0.14.9 and upgrades
it to v0.16.1, test_3 to test_8 use that, test_9 uninstalls and reinstalls it and leaves it uninstalled; modules
named otherwise (test_safety_*) run after test_9. A module that needs MetalLB asks for it with the `metallb`
fixture (which installs it if needed). Container logs of MetalLB's Pods are in
`full_cluster.dir/pods/<namespace>_<pod>_<uid>/<container>.log`. In CI (CI=true) a missing cluster (no root, no
`ip netns`, a failed build) fails the tests; elsewhere it skips them with the reason.
"""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from helpers import REPO, run_plugin

from .support import installed_version, manifest_args, unavailable

sys.path.insert(0, os.path.join(REPO, "tools", "controlplane"))
import arp  # noqa: E402
import netns  # noqa: E402
from fullcluster import FullCluster  # noqa: E402

KUBECTL = os.path.join(os.path.dirname(sys.executable), "kubectl")


@pytest.fixture(scope="session")
def full_cluster(tmp_path_factory):
    # the cluster stops itself if this session dies without tearing down (its owner pid is gone)
    cluster = FullCluster(str(tmp_path_factory.mktemp("fullcluster")), nodes=2, owner_pid=os.getpid())
    try:
        cluster.up()
    except netns.Unavailable as exc:
        unavailable(f"cannot start the full cluster: {exc}")
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        cluster.down()
        unavailable(f"cannot start the full cluster: {exc}")
    yield cluster
    cluster.down()


@pytest.fixture(scope="session")
def admin(full_cluster):
    return {"KUBECONFIG": full_cluster.kubeconfig("admin")}


def _kubectl(cluster):
    def run(*args, input=None, check=True, timeout=120):
        done = subprocess.run([KUBECTL, "--kubeconfig", cluster.kubeconfig("admin"), *args], input=input,
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done.stdout
    return run


@pytest.fixture(scope="session")
def kubectl(full_cluster):
    return _kubectl(full_cluster)


@pytest.fixture(scope="session")
def metallb(admin, kubectl):
    def ensure(version="v0.16.1"):
        if installed_version(kubectl) != version:
            result = run_plugin("install", *manifest_args(version), "--yes", "--force", env=admin, timeout=400)
            assert result.returncode == 0, result.stdout + result.stderr
        return version
    return ensure


@pytest.fixture
def namespace(kubectl):
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    # its Services go at once (the namespace's deletion takes a while): later modules judge every Service's state
    kubectl("delete", "services", "--all", "-n", name, "--wait=true")
    kubectl("delete", "namespace", name, "--wait=false")


class Lan:
    def __init__(self, cluster):
        self.cluster = cluster

    def who_has(self, ip, timeout=0.5):
        reply = arp.probe(self.cluster.lan_netns, "br0", ip, timeout=timeout)
        return reply[0] if reply else None

    def mac(self, node):
        return netns.mac(self.cluster.nodes[node]["netns"], "eth0")

    def wait_for(self, ip, macs, timeout=60):
        """The MAC answering ARP for ip once it is one of macs (AssertionError with what answered otherwise)."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.who_has(ip)
            if seen in macs:
                return seen
            time.sleep(0.2)
        raise AssertionError(f"ARP for {ip}: wanted one of {sorted(macs)}, last answer {seen} after {timeout}s")


@pytest.fixture(scope="session")
def lan(full_cluster):
    return Lan(full_cluster)


@pytest.fixture(scope="session")
def web(kubectl):
    def create(namespace, name, replicas=1, annotations=None, node=None, **service_spec):
        pod_spec = {"containers": [{"name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                                    "args": ["netexec", "--http-port=8080"]}]}
        if node:
            pod_spec["nodeName"] = node
        kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
             "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                      "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}},
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
             "spec": {"type": "LoadBalancer", "selector": {"app": name},
                      "ports": [{"port": 80, "targetPort": 8080}], **service_spec}}]}))
        return name
    return create
