"""A real Prometheus scrapes the real MetalLB v0.16.1, installed as the Prometheus variant fitted to it.

The full cluster's Prometheus add-on (tools/controlplane/prometheus/addon.py) runs the real Prometheus operator,
whose CRDs come from its Go module; the operator turns the Prometheus object into a StatefulSet and a generated
configuration, kwok runs its Pod and the add-on runs that Pod's containers: the real Prometheus and config reloader.
This Prometheus is laid out as the kube-prometheus-stack Helm chart lays it out: namespace observability,
ServiceAccount kps-prometheus, it selects only ServiceMonitors labelled release=kps; it may GET /metrics only once
the last test grants it. preflight proposes the flags, install applies the variant fitted with them, and status
reports what Prometheus itself says: MetalLB's 403 first, then up == 1 for the controller and for both speakers, scraped over HTTPS with Prometheus's ServiceAccount token,
which MetalLB checks with a TokenReview and a SubjectAccessReview. Afterwards the plain v0.16.1 is reinstalled.
"""

import json
import os
import shlex
import subprocess
import sys

import pytest
import yaml

import prometheus_objects as objects
from helpers import REPO, run_plugin

from .support import manifest_args, unavailable, until

sys.path.insert(0, os.path.join(REPO, "tools", "controlplane", "prometheus"))
from addon import PrometheusAddon  # noqa: E402

HELM = objects.helm_prometheus()


def metrics_checks(admin):
    doc = json.loads(run_plugin("status", "-o", "json", env=admin).stdout)
    return {c["id"]: c for cat in doc["checks"]["categories"] if cat["id"] == "metrics" for c in cat["checks"]}


def targets_say(admin, done, what):
    """The metrics checks once done(status's prometheus.targets) holds (Prometheus loads new ServiceMonitors
    within a minute and scrapes every 30 s)."""
    return until(lambda: (lambda c: c if done(c["prometheus.targets"]) else None)(metrics_checks(admin)),
                 timeout=240, interval=5, what=what)


def scraped(targets):
    """The details of Prometheus's failed scrapes, once it has tried the controller and both speakers."""
    down = [d for d in targets["details"] if ": down: " in d]
    return down if len(down) == 3 else None


def apply(kubectl, docs):
    kubectl("apply", "--server-side", "--field-manager=e2e", "-f", "-", input=yaml.safe_dump_all(docs))


@pytest.fixture(scope="module")
def prometheus(full_cluster, metallb, kubectl, admin, tmp_path_factory):
    """The operator's CRDs, the add-on, the Helm-style Prometheus (not yet allowed to GET /metrics); yields the
    path of the v0.16.1 Prometheus variant."""
    metallb("v0.16.1")
    crds, names = objects.operator_crds()
    if crds is None:
        unavailable(names)
    kubectl("apply", "--server-side", "--field-manager=e2e", "-f", crds)
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in names])
    try:
        addon = PrometheusAddon(full_cluster).up()
    except (OSError, subprocess.CalledProcessError) as exc:
        unavailable(f"cannot build or start the Prometheus add-on: {exc}")
    helm = {**HELM, "spec": {**HELM["spec"], "version": addon.prometheus_version()}}
    apply(kubectl, objects.runs_as(helm)[:2] + [helm])  # its namespace and ServiceAccount, and itself
    with open(manifest_args("v0.16.1")[1]) as handle:
        native = [d for d in yaml.safe_load_all(handle) if d]
    path = tmp_path_factory.mktemp("manifests") / "metallb-native-prometheus.yaml"
    path.write_text(yaml.safe_dump_all(objects.variant_manifest(native)))
    yield str(path)
    kubectl("delete", "prometheus", HELM["metadata"]["name"], "-n", "observability", "--wait=true", timeout=120)
    addon.down()
    result = run_plugin("install", *manifest_args("v0.16.1"), "--yes", env=admin, timeout=400)
    assert result.returncode == 0, result.stderr  # the plain release again: the variant's objects are removed
    kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=yaml.safe_dump_all(objects.runs_as(HELM)))
    kubectl("delete", "--ignore-not-found", "-f", crds)


def test_preflight_proposes_the_flags_for_the_helm_style_prometheus(prometheus, admin):
    doc = json.loads(run_plugin("preflight", "--prometheus", "-o", "json", env=admin).stdout)
    found = {c["id"]: c for cat in doc["categories"] if cat["id"] == "prometheus" for c in cat["checks"]}
    assert found["prometheus-selection"]["result"] == "warn"
    assert found["prometheus-selection"]["hint"] == (
        "kubectl metallb install --prometheus --prometheus-service-account observability/kps-prometheus "
        "--servicemonitor-label release=kps"
    )
    assert "get /metrics" in found["prometheus-service-account"]["details"][0]  # the API server's answer


def test_metallb_refuses_a_scraper_that_may_not_get_metrics(prometheus, admin):
    doc = json.loads(run_plugin("preflight", "--prometheus", "-o", "json", env=admin).stdout)
    hint = next(c["hint"] for cat in doc["categories"] for c in cat["checks"] if c["id"] == "prometheus-selection")
    flags = shlex.split(hint)[len(shlex.split("kubectl metallb install --prometheus")) :]
    result = run_plugin("install", "--manifest", prometheus, "--yes", *flags, env=admin, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "√ Prometheus: a Prometheus selects MetalLB's ServiceMonitors" in result.stderr
    found = targets_say(admin, scraped, "Prometheus to scrape the 3 targets")  # its own answer: refused with 403
    assert found["prometheus.targets"]["result"] == "warn"
    assert all("403" in d for d in scraped(found["prometheus.targets"])), found["prometheus.targets"]["details"]
    assert found["prometheus.selected"]["result"] == "ok"
    assert found["prometheus.access"]["result"] == "warn"
    assert found["prometheus.access"]["hint"].startswith("kubectl create clusterrole metrics-reader")


def test_the_real_prometheus_scrapes_every_target_once_it_may(prometheus, admin, kubectl):
    apply(kubectl, objects.metrics_grant(HELM))
    found = targets_say(admin, lambda targets: targets["result"] == "ok", "prometheus.targets to be ok")
    assert found["prometheus.targets"]["details"] == [
        "asked Prometheus observability/kps-prometheus",
        "controller-monitor-service: up == 1 for 1 of 1 targets",
        "speaker-monitor-service: up == 1 for 2 of 2 targets",
    ]
    assert [found[k]["result"] for k in ("prometheus.monitors", "prometheus.selected", "prometheus.access")] == [
        "ok"
    ] * 3
    text = run_plugin("status", env=admin).stdout
    assert "√ Prometheus scrapes the controller and the speakers" in text
