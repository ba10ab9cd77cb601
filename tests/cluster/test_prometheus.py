"""The Prometheus variants on a real API server with the Prometheus operator's real CRDs and real RBAC.

The CRDs come from the operator's Go module (example/prometheus-operator-crd/, version pinned in
tools/controlplane/prometheus/go.mod), read from Go's module cache. The MetalLB manifest is the unmodified upstream
v0.16.1 native manifest with the objects a Prometheus variant adds (tests/prometheus_objects.py). The scenarios
build on each other, in file order: no Prometheus at all; a Helm-style Prometheus (other namespace, other
ServiceAccount, a `release` label selector): detected, the flags proposed, the install fitted with exactly those
flags selected and bound; then kube-prometheus's layout, which the variant fits as shipped. Whether a ServiceAccount
may list MetalLB's Services or GET /metrics is what the API server's own SubjectAccessReviews answer.
No operator or Prometheus runs here: status says it cannot ask one (the full cluster's tests scrape for real).
"""

import json
import os
import shlex

import pytest
import yaml

import prometheus_objects as objects
from helpers import run_plugin

from . import scenarios

NS = objects.NS


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane  # CRDs, ClusterRoles and an install: cluster-wide state


@pytest.fixture(scope="module")
def kubectl(controlplane):
    return scenarios.Kubectl(controlplane.kubeconfig("admin"))


@pytest.fixture(scope="module")
def env(controlplane):
    return {"KUBECONFIG": controlplane.kubeconfig("admin")}


@pytest.fixture(scope="module", autouse=True)
def operator_crds(kubectl):
    """The Prometheus operator's CRDs from Go's module cache."""
    directory, names = objects.operator_crds()
    if directory is None:
        if os.environ.get("CI") == "true":
            pytest.fail(names)
        pytest.skip(names)
    # kubectl reads them (PyYAML's safe loader refuses the `=` some of their enums hold, a YAML 1.1 value tag)
    kubectl("apply", "--server-side", "--field-manager=test-setup", "-f", directory)
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in names])
    return names


@pytest.fixture(scope="module")
def variant_manifest(upstream_manifest, tmp_path_factory):
    """The upstream v0.16.1 native manifest plus the objects its Prometheus variant adds."""
    with open(upstream_manifest("v0.16.1")) as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d]
    path = tmp_path_factory.mktemp("manifests") / "metallb-native-prometheus.yaml"
    path.write_text(yaml.safe_dump_all(objects.variant_manifest(docs)))
    return str(path)


def preflight(env, *args):
    result = run_plugin("preflight", "--prometheus", "-o", "json", *args, env=env)
    doc = json.loads(result.stdout)
    return {c["id"]: c for cat in doc["categories"] if cat["id"] == "prometheus" for c in cat["checks"]}


def status_checks(env):
    result = run_plugin("status", "-o", "json", env=env)
    doc = json.loads(result.stdout)
    return {c["id"]: c for cat in doc["checks"]["categories"] if cat["id"] == "metrics" for c in cat["checks"]}


def server_object(kubectl, kind, name):
    return json.loads(kubectl("get", kind, name, "-n", NS, "-o", "json"))


def test_the_operator_crds_are_served(kubectl, operator_crds):
    assert "servicemonitors.monitoring.coreos.com" in operator_crds
    assert "prometheuses.monitoring.coreos.com" in operator_crds
    assert kubectl("get", "prometheuses", "-A", "-o", "name") == ""


# --------------------------------------------------------------------------------------------- no Prometheus


def test_no_prometheus_warns_that_nothing_will_scrape(env):
    found = preflight(env)
    assert found["prometheus-operator"]["result"] == "ok"
    assert found["prometheus-instances"]["result"] == "warn"
    assert found["prometheus-instances"]["message"] == (
        "no Prometheus object in the cluster: nothing will scrape MetalLB's ServiceMonitors"
    )
    assert found["prometheus-selection"]["result"] == "skip"


def test_install_refuses_what_nothing_will_scrape_without_yes(env, kubectl, variant_manifest):
    result = run_plugin("install", "--manifest", variant_manifest, "--no-wait", env=env)
    assert result.returncode == 2
    assert "error: nothing will scrape MetalLB's metrics (see above); pass --yes" in result.stderr
    assert kubectl("get", "namespace", NS, "--ignore-not-found", "-o", "name") == ""  # nothing was written


# --------------------------------------------------------------------------------------------- Helm-style


def test_a_helm_style_prometheus_is_detected_and_the_fitting_flags_proposed(env, kubectl, variant_manifest):
    helm = objects.helm_prometheus()
    kubectl.apply(objects.runs_as(helm) + [helm])
    found = preflight(env)
    assert found["prometheus-instances"]["details"] == [
        "Prometheus observability/kps-prometheus runs as observability/kps-prometheus; selects ServiceMonitors "
        "release=kps in namespaces <all>"
    ]
    assert found["prometheus-selection"]["result"] == "warn"
    assert found["prometheus-service-account"]["result"] == "warn"
    # the API server's own answer: the ServiceAccount may GET /metrics (its ClusterRole) but list nothing in
    # metallb-system, which the release's RoleBinding would grant to monitoring/prometheus-k8s only
    assert found["prometheus-service-account"]["details"] == [
        "Prometheus observability/kps-prometheus runs as observability/kps-prometheus, which may not list services "
        "in metallb-system, list pods in metallb-system, list endpoints in metallb-system"
    ]
    proposed = "kubectl metallb install --prometheus --prometheus-service-account observability/kps-prometheus " \
               "--servicemonitor-label release=kps"  # fmt: skip
    assert found["prometheus-selection"]["hint"] == proposed
    # install proposes the same flags for its manifest
    dry = run_plugin("install", "--manifest", variant_manifest, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert (f"to fit it: kubectl metallb install --manifest {variant_manifest} --prometheus-service-account "
            "observability/kps-prometheus --servicemonitor-label release=kps") in dry.stderr  # fmt: skip


def test_the_install_fitted_with_the_proposed_flags_is_selected_and_bound(env, kubectl, variant_manifest):
    hint = preflight(env)["prometheus-selection"]["hint"]
    flags = shlex.split(hint)[len(shlex.split("kubectl metallb install --prometheus")) :]
    assert preflight(env, *flags)["prometheus-selection"]["result"] == "ok"  # preflight agrees before installing
    result = run_plugin("install", "--manifest", variant_manifest, "--no-wait", "--yes", *flags, env=env)
    assert result.returncode == 0, result.stderr
    assert "√ Prometheus: a Prometheus selects MetalLB's ServiceMonitors" in result.stderr
    binding = server_object(kubectl, "rolebinding", "prometheus-k8s")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kps-prometheus", "namespace": "observability"}]
    for name in ("controller-monitor", "speaker-monitor"):
        assert server_object(kubectl, "servicemonitor", name)["metadata"]["labels"]["release"] == "kps"
    found = status_checks(env)
    assert {k: c["result"] for k, c in found.items()} == {
        "prometheus.monitors": "ok",
        "prometheus.selected": "ok",
        "prometheus.access": "ok",
        "prometheus.targets": "skip",
    }
    assert found["prometheus.access"]["details"] == [
        "the RoleBinding in metallb-system binds observability/kps-prometheus",
        "Prometheus observability/kps-prometheus runs as observability/kps-prometheus: bound by it",
    ]
    assert found["prometheus.targets"]["message"] == (  # no operator runs here, so no Prometheus Pod
        "Prometheus observability/kps-prometheus did not answer through the API server: no endpoints available for "
        'service "prometheus-operated"'
    )
    # the ServiceAccount really may list what Prometheus's discovery lists, now that the RoleBinding binds it
    allowed = kubectl("auth", "can-i", "list", "endpoints", "-n", NS,
                      "--as=system:serviceaccount:observability:kps-prometheus", check=False)  # fmt: skip
    assert allowed.strip() == "yes"


# --------------------------------------------------------------------------------------------- kube-prometheus


def test_kube_prometheus_defaults_need_no_flags(env, kubectl, variant_manifest):
    kubectl.delete([objects.helm_prometheus()])
    default = objects.prometheus()
    kubectl.apply(objects.runs_as(default) + [default])
    # the install fitted for the Helm Prometheus no longer fits: status says so, and how to fix it
    found = status_checks(env)
    assert found["prometheus.selected"]["result"] == "ok"  # kube-prometheus selects every ServiceMonitor
    assert found["prometheus.access"]["result"] == "warn"
    assert found["prometheus.access"]["message"] == (
        "the RoleBinding in metallb-system binds observability/kps-prometheus, not the ServiceAccount Prometheus "
        "runs as"
    )
    assert found["prometheus.access"]["hint"] == (
        "kubectl metallb install --prometheus --version v0.16.1 --mode native --servicemonitor-label release=kps"
    )
    # preflight of the variant as shipped: nothing to fit
    assert {k: c["result"] for k, c in preflight(env).items()} == {
        "prometheus-operator": "ok",
        "prometheus-instances": "ok",
        "prometheus-selection": "ok",
        "prometheus-service-account": "ok",
    }
    result = run_plugin("install", "--manifest", variant_manifest, "--no-wait", "--yes", "--servicemonitor-label",
                        "release=kps", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rolebinding.rbac.authorization.k8s.io/prometheus-k8s changed" in result.stdout
    assert server_object(kubectl, "rolebinding", "prometheus-k8s")["subjects"][0]["namespace"] == "monitoring"
    found = status_checks(env)
    assert [found[k]["result"] for k in ("prometheus.monitors", "prometheus.selected", "prometheus.access")] == [
        "ok"
    ] * 3


def test_without_permission_for_access_reviews_the_role_binding_still_counts(controlplane):
    reader = {"KUBECONFIG": controlplane.kubeconfig("reader")}
    found = status_checks(reader)
    assert found["prometheus.access"]["result"] == "ok"
    assert found["prometheus.access"]["details"][-1] == (
        "Prometheus monitoring/k8s runs as monitoring/prometheus-k8s: bound by it"
    )
