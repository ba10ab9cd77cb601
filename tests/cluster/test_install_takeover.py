"""Taking over MetalLB installed the way its docs say (`kubectl apply -f metallb-native.yaml`).

A module of its own because it needs an API server where MetalLB was installed by kubectl, not by the plugin.
"""

import json

import pytest

from helpers import run_plugin

V0149_NATIVE = "951065e85692aa106f1bb5d5a487d9306154923a794ab1d82122881cbaf588e4"


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


def versions(kubectl):
    items = json.loads(kubectl("get", "deployment,daemonset,configmap,service", "-n", "metallb-system",
                               "-o", "json"))["items"]
    crds = json.loads(kubectl("get", "crd", "-o", "json"))["items"]
    return {(i["kind"], i["metadata"]["name"]): i["metadata"]["resourceVersion"] for i in items + crds}


def test_takeover_of_a_kubectl_apply_install(admin, kubectl, upstream_manifest):
    manifest = upstream_manifest("v0.14.9")
    kubectl("apply", "-f", manifest)  # client-side apply, as MetalLB's installation page does it
    before = versions(kubectl)

    refused = run_plugin("install", "--no-wait", "--yes", "--manifest", manifest, "--sha256", V0149_NATIVE,
                         env=admin)
    assert refused.returncode == 1
    # every object exists and was made by kubectl: none is install's to change
    assert "deployment.apps/controller refused: it exists and was not installed by kubectl metallb" in refused.stderr
    assert ("note: MetalLB v0.14.9 in metallb-system was installed another way (kubectl apply?): install takes its "
            "objects over only with --force-conflicts") in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("error: 24 objects cannot be written: ")
    assert "--force-conflicts changes objects kubectl metallb does not own" in refused.stderr
    assert versions(kubectl) == before

    taken = run_plugin("install", "--no-wait", "--yes", "--force-conflicts", "--manifest", manifest, "--sha256",
                       V0149_NATIVE, env=admin)
    assert taken.returncode == 0, taken.stderr
    assert "MetalLB v0.14.9 (native) re-applied in metallb-system: 0 created, 24 changed" in taken.stderr
    record = json.loads(kubectl("get", "configmap", "kubectl-metallb-install", "-n", "metallb-system", "-o", "json"))
    assert record["data"]["version"] == "v0.14.9"

    again = run_plugin("install", "--no-wait", "--manifest", manifest, "--sha256", V0149_NATIVE, env=admin)
    assert again.returncode == 0, again.stderr
    assert "nothing changed (0 created, 0 changed, 24 unchanged)" in again.stderr
