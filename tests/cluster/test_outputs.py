"""-o json and -o yaml for every command, as a script reads them: each output is parsed, on a real API server.

This module runs its own API server (install, strict-arp and uninstall change cluster-wide state) and its tests
build on each other in file order: reads on an empty cluster, kube-proxy's ConfigMap, an install without waiting,
status, uninstall. The pools commands run on the shared server in a namespace of their own, with MetalLB's CRDs.
"""

import json
import os

import pytest
import yaml

from cluster.reliability.common import V0161_NATIVE, kube_proxy
from helpers import run_plugin


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


@pytest.fixture(scope="module")
def env(controlplane):
    return {"KUBECONFIG": controlplane.kubeconfig("admin")}


@pytest.fixture(scope="module")
def manifest(upstream_manifest):
    return ["--manifest", upstream_manifest("v0.16.1"), "--sha256", V0161_NATIVE]


def parsed(*argv, env, code=0, fmt="json"):
    result = run_plugin(*argv, "-o", fmt, env=env)
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout) if fmt == "json" else yaml.safe_load(result.stdout)


def test_version(env):
    assert parsed("version", env=env)["serverVersion"]["gitVersion"].startswith("v1.")
    assert parsed("version", "--client", env=env, fmt="yaml")["clientVersion"]["gitVersion"].startswith("v0.")


def test_preflight(env):
    doc = parsed("preflight", "--addresses", "192.0.2.0/28", env=env, code=1)  # no kube-proxy, no nodes: fails
    assert {c["id"] for c in doc["categories"]} >= {"kubernetes", "planned-addresses"}
    assert doc["success"] is False


def test_strict_arp_report_dry_run_and_change(controlplane, env):
    kube_proxy(controlplane)
    assert parsed("strict-arp", env=env)["strictARP"] is False
    dry = parsed("strict-arp", "--enable", "--dry-run", env=env)
    assert (dry["dryRun"], dry["changed"], dry["strictARP"]) == (True, True, True)  # what applying it would do
    assert "+  strictARP: true" in dry["diff"]
    done = parsed("strict-arp", "--enable", "--yes", "--no-restart", env=env)
    assert (done["dryRun"], done["changed"]) == (False, True)
    again = parsed("strict-arp", "--enable", "--dry-run", env=env)
    assert again["changed"] is False  # already set: nothing would change


def test_install_print_list_versions_and_dry_run(env, manifest):
    printed = parsed("install", "--print", *manifest, env={})  # never contacts a cluster
    assert printed["kind"] == "List" and {o["kind"] for o in printed["items"]} >= {"Namespace", "Deployment"}
    as_yaml = run_plugin("install", "--print", *manifest, "-o", "yaml")  # what GitOps repositories take
    assert [d["kind"] for d in yaml.safe_load_all(as_yaml.stdout) if d] == [o["kind"] for o in printed["items"]]
    assert any(r["default"] for r in parsed("install", "--list-versions", env={})["releases"])
    dry = parsed("install", "--dry-run", "--yes", *manifest, env=env)
    assert dry["objects"]


def test_install(env, manifest):
    doc = parsed("install", "--no-wait", "--yes", *manifest, env=env)
    assert doc["objects"]


def test_status_overview_and_one_service(env, kubectl):
    doc = parsed("status", env=env, code=1)  # no controllers run here: not healthy
    assert doc["installation"]["version"] == "v0.16.1"
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}))
    explained = parsed("status", "--service", "default/web", env=env, code=1)
    assert explained["service"] == "default/web" and explained["steps"]


def test_uninstall(env, tmp_path):
    backup = tmp_path / "backup.yaml"  # not the default: the current directory is the repository
    # --keep-crds keeps the namespace too: only the namespace controller (not running here) could finalize it
    doc = parsed("uninstall", "--yes", "--keep-crds", "--backup", str(backup), env=env)
    assert doc["namespace"] == "metallb-system" and doc["objects"]
    assert doc["backup"] == str(backup) and backup.exists()


def test_completion_prints_no_data_and_refuses_o(env):
    result = run_plugin("completion", "bash", "-o", "json", env=env)
    assert result.returncode == 2
    assert "completion does not print data: -o json does not apply to it" in result.stderr
