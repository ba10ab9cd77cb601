"""Helpers for the e2e tests on the full cluster (fixtures are in conftest.py)."""

import json
import os
import signal
import threading
import time
from contextlib import contextmanager

import pytest

from helpers import REPO

NS = "metallb-system"
MANIFESTS = os.path.join(os.path.dirname(REPO), "shared", "data", "metallb-manifests")
# sha256 of the upstream files, from the reference digests page (the same values the releases table pins)
DIGESTS = {"v0.14.9": "951065e85692aa106f1bb5d5a487d9306154923a794ab1d82122881cbaf588e4",
           "v0.16.1": "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b"}


def unavailable(message):
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # in CI a missing cluster is a failure, never a skip
    pytest.skip(message)


def manifest_args(version):
    path = os.path.join(MANIFESTS, version, "metallb-native.yaml")
    if not os.path.exists(path):
        unavailable(f"upstream test data {version}/metallb-native.yaml is not available at {MANIFESTS}")
    return ["--manifest", path, "--sha256", DIGESTS[version]]


def installed_version(kubectl):
    """The MetalLB release the cluster runs (from the controller Deployment's image), or None."""
    out = kubectl("get", "deployment", "controller", "-n", NS, "--ignore-not-found",
                  "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    return out.rpartition(":")[2] or None



def service_ip(kubectl, namespace, name, timeout=60):
    """The address MetalLB assigned to a Service (waits for it)."""
    kubectl("wait", f"service/{name}", "-n", namespace, f"--timeout={timeout}s",
            "--for=jsonpath={.status.loadBalancer.ingress[0].ip}")
    return kubectl("get", "service", name, "-n", namespace, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")


def speakers(kubectl):
    """{node: speaker Pod} of the running release."""
    pods = json.loads(kubectl("get", "pods", "-n", NS, "-l", "component=speaker", "-o", "json"))["items"]
    return {p["spec"]["nodeName"]: p for p in pods if not p["metadata"].get("deletionTimestamp")}


def metallb_pid(pod):
    """pid of the real process the kubelet stand-in runs for a Pod's first container (its containerID)."""
    statuses = pod.get("status", {}).get("containerStatuses", [])
    container_id = statuses[0].get("containerID", "") if statuses else ""
    assert container_id.startswith("standin://"), f"no running container in {pod['metadata']['name']}: {statuses}"
    return int(container_id.split("//")[1])


def until(check, timeout=60, interval=0.5, what="the condition", show=None):
    """Poll check() until it returns something truthy; that value, or AssertionError naming what and the last value
    (or, given show, what show() returns then: the state behind a check that says only yes or no)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {show() if show else value!r}")


@contextmanager
def crash_looping(kubectl, selector, node=None):
    """Inside, a MetalLB Pod's process dies (SIGKILL) as soon as the kubelet stand-in has it running: a container in
    CrashLoopBackOff for as long as a test needs, whatever the machine's load. On leaving, its back-off lets the
    kubelet stand-in start it again (after up to 40 s, plus 10 s before its readiness probe passes)."""
    stop = threading.Event()

    def kill():
        while not stop.is_set():
            pods = json.loads(kubectl("get", "pods", "-n", NS, "-l", selector, "-o", "json"))["items"]
            for pod in pods:
                for status in pod.get("status", {}).get("containerStatuses", []):
                    if (node is None or pod["spec"].get("nodeName") == node) and \
                            status.get("containerID", "").startswith("standin://"):
                        try:
                            os.kill(int(status["containerID"].split("//")[1]), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            stop.wait(0.2)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
