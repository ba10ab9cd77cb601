"""preflight --prometheus, install --prometheus and status on a Prometheus variant, in process over FakeCluster
(the cluster tests run the same on the real API server with the Prometheus operator's real CRDs)."""

import copy
import json

import pytest
import yaml
from prometheus_objects import NS, helm_prometheus, monitor_service, prometheus, service_monitor

from metallb_plugin import errors
from metallb_plugin.core import status
from metallb_plugin.core.checks import OK, SKIP, WARN
from metallb_plugin.core.snapshot import Unreadable
from metallb_plugin.core.status import prometheus as status_prom
from metallb_plugin.core.view import locate
from unit.inprocess import CORE_KINDS, FakeCluster, run_cli
from unit.test_commands import MANIFEST_OBJECTS
from unit.test_prometheus import VARIANT
from unit.test_status import healthy

MONITORING_KINDS = {
    "Prometheus": ("monitoring.coreos.com/v1", "prometheuses", True),
    "PrometheusAgent": ("monitoring.coreos.com/v1alpha1", "prometheusagents", True),
    "ServiceMonitor": ("monitoring.coreos.com/v1", "servicemonitors", True),
    "Role": ("rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings", True),
}
REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
OPERATOR_CRD = {"kind": "CustomResourceDefinition", "metadata": {"name": "servicemonitors.monitoring.coreos.com"}}


class Cluster(FakeCluster):
    """FakeCluster with the Prometheus operator's kinds and SubjectAccessReviews (answered by review(spec))."""

    def __init__(self, objects=(), review=lambda spec: True):
        self.review = review
        super().__init__([{"apiVersion": self._kind(o)[0], **o} for o in objects])

    def add(self, obj):
        obj = {"apiVersion": self._kind(obj)[0], **copy.deepcopy(obj)}
        self._stamp(obj)
        self.store[self.path_of(obj)] = obj
        return obj

    @staticmethod
    def _kind(obj):
        return {**CORE_KINDS, **MONITORING_KINDS}[obj["kind"]]

    def path_of(self, obj):
        from metallb_plugin.cluster import api_path

        api_version, plural, namespaced = self._kind(obj)
        meta = obj["metadata"]
        return api_path(obj.get("apiVersion", api_version), plural, meta.get("namespace") if namespaced else None,
                        meta["name"])  # fmt: skip

    def resource(self, api_version, kind):
        if kind in MONITORING_KINDS and MONITORING_KINDS[kind][0] == api_version:
            return MONITORING_KINDS[kind][1:]
        return super().resource(api_version, kind)

    def create(self, path, body, dry_run=False):
        if path == REVIEWS:
            self._call("POST", path)
            return {**body, "status": {"allowed": self.review(body["spec"])}}
        return super().create(path, body, dry_run)

    def without_operator(self):
        self.fail("LIST", "/apis/monitoring.coreos.com/", errors.NotFound(404, "NotFound", "not found"), times=99)
        return self


def variant_manifest(tmp_path, objects=()):
    text = yaml.safe_dump_all([*MANIFEST_OBJECTS, *(objects or VARIANT)]).replace("{tag}", "v0.16.1")
    path = tmp_path / "metallb-native-prometheus.yaml"
    path.write_text(text)
    return str(path)


def cluster_with(*prometheuses, review=lambda spec: True):
    accounts = [
        {"kind": "ServiceAccount", "metadata": {"name": p["spec"]["serviceAccountName"], "namespace": p["metadata"]["namespace"]}}
        for p in prometheuses
    ]  # fmt: skip
    return Cluster([OPERATOR_CRD, *prometheuses, *accounts], review=review)


def only_metallb_namespace(spec):
    """RBAC of a Prometheus without cluster-wide roles: /metrics allowed, nothing listed outside its namespace."""
    return "nonResourceAttributes" in spec


def checks_of(doc, category):
    return {c["id"]: c for cat in doc["categories"] if cat["id"] == category for c in cat["checks"]}


# --------------------------------------------------------------------------------------------- install --print


def test_print_shows_the_fitted_variant_without_a_cluster(tmp_path):
    result = run_cli(
        "install", "--print", "-v", "--manifest", variant_manifest(tmp_path),
        "--prometheus-service-account", "observability/kps-prometheus", "--servicemonitor-label", "release=kps",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kps-prometheus", "namespace": "observability"}]
    assert [d["metadata"]["labels"]["release"] for d in docs if d["kind"] == "ServiceMonitor"] == ["kps", "kps"]
    assert "RoleBinding prometheus-k8s: subject monitoring/prometheus-k8s -> observability/kps-prometheus" in (
        result.stderr
    )
    assert "ServiceMonitor speaker-monitor: labels +release=kps" in result.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--prometheus-service-account", "a/b"], "fit the Prometheus variant: add --prometheus"),
        (["--servicemonitor-label", "release=kps"], "fit the Prometheus variant: add --prometheus"),
        (["--prometheus", "--prometheus-service-account", "prometheus"], "'prometheus' is not a ServiceAccount"),
        (["--prometheus", "--servicemonitor-label", "release"], "'release' is not a label KEY=VALUE"),
    ],
)
def test_bad_fitting_flags_are_usage_errors(argv, message):
    result = run_cli("install", "--print", *argv)
    assert result.code == 2 and message in result.stderr, result.stderr


def test_fitting_a_manifest_that_is_not_a_variant_is_refused(tmp_path):
    path = tmp_path / "native.yaml"
    path.write_text(yaml.safe_dump_all(MANIFEST_OBJECTS).replace("{tag}", "v0.16.1"))
    result = run_cli("install", "--print", "--manifest", str(path), "--servicemonitor-label", "release=kps")
    assert result.code == 2
    assert "error: --servicemonitor-label: the manifest has no ServiceMonitor" in result.stderr


# --------------------------------------------------------------------------------------------- preflight


def test_preflight_kube_prometheus_defaults_work_as_is():
    result = run_cli("preflight", "--prometheus", "-o", "json", cluster=cluster_with(prometheus()))
    found = checks_of(json.loads(result.stdout), "prometheus")
    assert {k: c["result"] for k, c in found.items()} == {
        "prometheus-operator": OK,
        "prometheus-instances": OK,
        "prometheus-selection": OK,
        "prometheus-service-account": OK,
    }
    assert found["prometheus-service-account"]["details"] == [
        "the RoleBinding in metallb-system binds monitoring/prometheus-k8s",
        "Prometheus monitoring/k8s runs as monitoring/prometheus-k8s: bound by it",
    ]


def test_preflight_helm_style_prometheus_gets_the_flags_that_fit():
    fake = cluster_with(helm_prometheus(), review=only_metallb_namespace)
    result = run_cli("preflight", "--prometheus", "--version", "v0.15.3", cluster=fake)
    fix = (
        "kubectl metallb install --prometheus --version v0.15.3 --prometheus-service-account "
        "observability/kps-prometheus --servicemonitor-label release=kps"
    )
    assert f"    see {fix}" in result.stderr + result.stdout
    text = result.stdout
    assert "‼ a Prometheus selects MetalLB's ServiceMonitors" in text
    assert "its serviceMonitorSelector release=kps does not match labels component=controller" in text
    assert "the RoleBinding in metallb-system binds monitoring/prometheus-k8s, not the ServiceAccount" in text
    assert "which may not list services in metallb-system, list pods in metallb-system" in text
    # with those flags, preflight is content
    fitted = run_cli("preflight", "--prometheus", "--prometheus-service-account", "observability/kps-prometheus",
                     "--servicemonitor-label", "release=kps", "-o", "json", cluster=fake)  # fmt: skip
    found = checks_of(json.loads(fitted.stdout), "prometheus")
    assert found["prometheus-selection"]["result"] == OK and found["prometheus-service-account"]["result"] == OK


def test_preflight_without_prometheus_objects_warns_that_nothing_will_scrape():
    doc = json.loads(run_cli("preflight", "--prometheus", "-o", "json", cluster=Cluster([OPERATOR_CRD])).stdout)
    found = checks_of(doc, "prometheus")
    assert found["prometheus-instances"]["result"] == WARN
    assert found["prometheus-instances"]["message"] == (
        "no Prometheus object in the cluster: nothing will scrape MetalLB's ServiceMonitors"
    )
    assert found["prometheus-selection"]["result"] == SKIP and found["prometheus-selection"]["message"] == (
        "no Prometheus object"
    )
    assert "fail" not in [c["result"] for c in found.values()]  # warnings: MetalLB itself works


def test_preflight_without_the_reviews_permission_judges_by_the_role_binding_only():
    def forbidden(spec):
        raise errors.Forbidden(403, "Forbidden", "no")

    doc = json.loads(
        run_cli("preflight", "--prometheus", "-o", "json", cluster=cluster_with(prometheus(), review=forbidden)).stdout
    )
    found = checks_of(doc, "prometheus")
    assert found["prometheus-service-account"]["result"] == OK


def test_preflight_leaves_prometheus_out_unless_asked():
    doc = json.loads(run_cli("preflight", "-o", "json", cluster=cluster_with(helm_prometheus())).stdout)
    assert "prometheus" not in [c["id"] for c in doc["categories"]]


def test_preflight_manifest_that_is_a_variant_is_judged(tmp_path):
    fake = cluster_with(helm_prometheus(), review=only_metallb_namespace)
    doc = json.loads(run_cli("preflight", "--manifest", variant_manifest(tmp_path), "-o", "json", cluster=fake).stdout)
    assert checks_of(doc, "prometheus")["prometheus-selection"]["result"] == WARN
    native = tmp_path / "native.yaml"
    native.write_text(yaml.safe_dump_all(MANIFEST_OBJECTS).replace("{tag}", "v0.16.1"))
    refused = run_cli("preflight", "--prometheus", "--manifest", str(native), cluster=fake)
    assert refused.code == 2 and "is not a Prometheus variant: it has no ServiceMonitor" in refused.stderr


# --------------------------------------------------------------------------------------------- install --prometheus


def test_install_proposes_the_flags_and_applies_the_fitted_variant(tmp_path):
    fake = cluster_with(helm_prometheus(), review=only_metallb_namespace)
    path = variant_manifest(tmp_path)
    dry = run_cli("install", "--manifest", path, "--dry-run", cluster=fake)
    assert dry.code == 0, dry.stderr
    assert "‼ Prometheus: no Prometheus selects MetalLB's ServiceMonitors (controller-monitor, speaker-monitor)" in (
        dry.stderr
    )
    assert (
        f"  to fit it: kubectl metallb install --manifest {path} --prometheus-service-account "
        "observability/kps-prometheus --servicemonitor-label release=kps"
    ) in dry.stderr
    assert "dry run: nothing would scrape MetalLB's metrics" in dry.stderr
    fitted = run_cli("install", "--manifest", path, "--no-wait", "--yes", "--prometheus-service-account",
                     "observability/kps-prometheus", "--servicemonitor-label", "release=kps", cluster=fake)  # fmt: skip
    assert fitted.code == 0, fitted.stderr
    assert "√ Prometheus: a Prometheus selects MetalLB's ServiceMonitors" in fitted.stderr
    binding = fake.object(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings/prometheus-k8s")
    assert binding["subjects"][0]["namespace"] == "observability"
    monitor = fake.object(f"/apis/monitoring.coreos.com/v1/namespaces/{NS}/servicemonitors/speaker-monitor")
    assert monitor["metadata"]["labels"] == {"component": "speaker", "release": "kps"}


def test_install_asks_before_installing_what_nothing_will_scrape(tmp_path):
    path = variant_manifest(tmp_path)
    fake = Cluster()
    refused = run_cli("install", "--manifest", path, "--no-wait", cluster=fake)
    assert refused.code == 2
    assert "‼ Prometheus: no Prometheus object in the cluster: nothing will scrape" in refused.stderr
    assert "error: nothing will scrape MetalLB's metrics (see above); pass --yes to install" in refused.stderr
    declined = run_cli("install", "--manifest", path, "--no-wait", cluster=fake, stdin="n\n", tty=True)
    assert declined.code == 1 and "install cancelled; nothing was changed" in declined.stderr
    assert "Nothing will scrape MetalLB's metrics. Install the Prometheus variant anyway? [y/N]" in declined.stderr
    assert fake.writes() == [(m, p) for m, p in fake.writes() if p == REVIEWS]  # only reviews, no object written
    accepted = run_cli("install", "--manifest", path, "--no-wait", "--yes", cluster=fake)
    assert accepted.code == 0, accepted.stderr


def test_install_without_the_operator_fails_before_writing(tmp_path):
    fake = Cluster().without_operator()
    result = run_cli("install", "--manifest", variant_manifest(tmp_path), "--yes", cluster=fake)
    assert result.code == 1
    assert "the Prometheus variants need the Prometheus operator's CRDs (monitoring.coreos.com)" in result.stderr
    assert fake.writes() == []


# --------------------------------------------------------------------------------------------- status


def monitor_services():
    return [monitor_service(c) for c in ("controller", "speaker")]


def variant_facts(*prometheuses, objects=VARIANT, access=None, targets=None):
    facts = healthy()
    facts.objects["services"] += monitor_services()
    facts.objects["servicemonitors"] = [o for o in objects if o["kind"] == "ServiceMonitor"]
    facts.objects["rolebindings"] = [o for o in objects if o["kind"] == "RoleBinding"]
    facts.objects["roles"] = [o for o in objects if o["kind"] == "Role"]
    facts.objects["prometheuses"] = list(prometheuses)
    facts.objects["prometheusagents"] = []
    facts.objects["prometheus_access"] = access if access is not None else Unreadable("no permission")
    facts.objects["prometheus_targets"] = targets if targets is not None else []
    return locate(facts)


def up(service, instance, value=True, error=""):
    return {"service": service, "instance": instance, "job": service, "up": value, "error": error}


def results(report):
    return {o.check.id: o.result for o in report.outcomes if o.check.category == "metrics"}


def test_status_of_a_scraped_variant():
    targets = [
        up("controller-monitor-service", "203.0.113.130:9120"),
        up("speaker-monitor-service", "198.51.100.11:9120"),
    ]
    report = status.evaluate(variant_facts(prometheus(), targets=targets))
    found = results(report)
    assert {k: r.status for k, r in found.items()} == {
        "prometheus.monitors": OK,
        "prometheus.selected": OK,
        "prometheus.access": OK,
        "prometheus.targets": OK,
    }
    assert found["prometheus.targets"].details == (
        "asked Prometheus monitoring/k8s",
        "controller-monitor-service: up == 1 for 1 of 1 targets",
        "speaker-monitor-service: up == 1 for 1 of 1 targets",
    )
    assert report.healthy


def test_status_of_a_variant_nobody_scrapes_says_how_to_fit_it():
    report = status.evaluate(variant_facts(helm_prometheus()))
    found = results(report)
    assert found["prometheus.selected"].status == WARN and found["prometheus.access"].status == WARN
    assert found["prometheus.targets"].status == SKIP
    hint = next(o.check.hint for o in report.outcomes if o.check.id == "prometheus.selected")
    assert hint == (
        "kubectl metallb install --prometheus --version v0.16.1 --mode native --prometheus-service-account "
        "observability/kps-prometheus --servicemonitor-label release=kps"
    )
    assert report.healthy  # warnings: MetalLB itself serves


def test_status_of_down_targets_and_missing_monitors():
    targets = [
        up("controller-monitor-service", "203.0.113.130:9120", False, "server returned HTTP status 403 Forbidden")
    ]
    found = results(status.evaluate(variant_facts(prometheus(), targets=targets)))
    assert found["prometheus.targets"].status == WARN
    assert found["prometheus.targets"].details[:2] == (
        "controller-monitor-service 203.0.113.130:9120: down: server returned HTTP status 403 Forbidden",
        "speaker-monitor-service: no target (yet: Prometheus monitoring/k8s loads new ServiceMonitors within a minute)",
    )
    missing = results(status.evaluate(variant_facts(prometheus(), objects=[*VARIANT[:2], service_monitor("speaker")])))
    assert missing["prometheus.monitors"].message == "ServiceMonitors missing in metallb-system: controller-monitor"
    unreadable = results(status.evaluate(variant_facts(prometheus(), targets=Unreadable("no permission to ask"))))
    assert unreadable["prometheus.targets"].status == SKIP


def test_status_leaves_metrics_out_for_other_installs():
    report = status.evaluate(healthy())
    assert not [o for o in report.outcomes if o.check.category == "metrics"]
    assert not status_prom.is_variant(healthy().objects["services"], NS)


def test_status_reads_the_variant_and_asks_prometheus_through_the_service_proxy():
    fake = Cluster(
        [
            *[{**o, "kind": o["kind"]} for o in healthy().objects["deployments"] + healthy().objects["daemonsets"]],
            *monitor_services(),
            *VARIANT,
            prometheus(),
        ]
    )
    proxy = "/api/v1/namespaces/monitoring/services/prometheus-operated:web/proxy/api/v1"
    fake.store[f"{proxy}/query"] = {
        "status": "success",
        "data": {"resultType": "vector", "result": [
            {"metric": {"service": "controller-monitor-service", "instance": "a:9120"}, "value": [1, "1"]},
            {"metric": {"service": "speaker-monitor-service", "instance": "b:9120"}, "value": [1, "0"]},
        ]},
    }  # fmt: skip
    fake.store[f"{proxy}/targets"] = {
        "data": {"activeTargets": [{"labels": {"service": "speaker-monitor-service", "instance": "b:9120"},
                                    "lastError": "connection refused"}]}
    }  # fmt: skip
    result = run_cli("status", "-o", "json", cluster=fake)
    doc = json.loads(result.stdout)
    found = {c["id"]: c for cat in doc["checks"]["categories"] if cat["id"] == "metrics" for c in cat["checks"]}
    assert found["prometheus.targets"]["details"][0] == "speaker-monitor-service b:9120: down: connection refused"
    assert ("GET", f"{proxy}/query") in fake.calls
