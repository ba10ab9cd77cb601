"""Who scrapes MetalLB: the Prometheus operator's objects against MetalLB's ServiceMonitors and RoleBinding, and the
manifest transforms that fit the Prometheus variant to another Prometheus (hand-written objects, no cluster)."""

import pytest
from prometheus_objects import NS, helm_prometheus, prometheus, role, role_binding, service_monitor

from metallb_plugin.core import prometheus as prom
from metallb_plugin.core import prometheus_results as prom_results
from metallb_plugin.core.checks import OK, WARN, Skip
from metallb_plugin.core.install import prometheus as variant
from metallb_plugin.core.manifests import Manifest, ManifestError

KUBE_PROMETHEUS = prom.DEFAULT_ACCOUNT
HELM = prom.Account("observability", "kps-prometheus")


ROLE, BINDING = role(), role_binding()
VARIANT = [ROLE, BINDING, service_monitor("controller"), service_monitor("speaker")]


def verdict(found, objects=VARIANT, namespace_labels=None, allowed=None):
    return prom.assess(
        prom.instance(found) if isinstance(found, dict) else found,
        prom.monitors(o for o in objects if o["kind"] == "ServiceMonitor"),
        NS,
        namespace_labels or {},
        prom.bindings(objects),
        allowed,
    )


# --------------------------------------------------------------------------------------------- flag values


@pytest.mark.parametrize("text", ["monitoring/prometheus-k8s", "a/b.c-d", "x" * 63 + "/y"])
def test_service_account_references(text):
    assert str(prom.parse_account(text)) == text


@pytest.mark.parametrize("text", ["prometheus-k8s", "/x", "x/", "Mon/x", "a/b/c", "a b/c", "x" * 64 + "/y", ""])
def test_bad_service_account_references(text):
    with pytest.raises(ValueError, match="is not a ServiceAccount NAMESPACE/NAME"):
        prom.parse_account(text)


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("release=kps", ("release", "kps")),
        ("app.kubernetes.io/part-of=monitoring", ("app.kubernetes.io/part-of", "monitoring")),
        ("empty=", ("empty", "")),
        ("a.b_c-d=E.f_g-1", ("a.b_c-d", "E.f_g-1")),
    ],
)
def test_labels(text, parsed):
    assert prom.parse_label(text) == parsed


@pytest.mark.parametrize("text", ["release", "=x", "-a=b", "a=-b", "a=b c", "Bad_Prefix/a=b", "a=" + "v" * 64, "/a=b"])
def test_bad_labels(text):
    with pytest.raises(ValueError, match="is not a label KEY=VALUE"):
        prom.parse_label(text)


def test_flag_options():
    assert variant.options(None, None) == (None, {})
    assert variant.options("observability/kps-prometheus", ["release=kps", "team=obs", "release=kps"]) == (
        HELM,
        {"release": "kps", "team": "obs"},
    )
    with pytest.raises(ValueError, match="--servicemonitor-label: release is given twice, as kps and other"):
        variant.options(None, ["release=kps", "release=other"])
    with pytest.raises(ValueError, match="^--prometheus-service-account: 'kps' is not"):
        variant.options("kps", [])
    with pytest.raises(ValueError, match="^--servicemonitor-label: 'release' is not"):
        variant.options(None, ["release"])


# --------------------------------------------------------------------------------------------- transforms


def test_bind_account_rewrites_the_subject_and_nothing_else():
    objects, changes = variant.bind_account(VARIANT, HELM)
    assert changes == ["RoleBinding prometheus-k8s: subject monitoring/prometheus-k8s -> observability/kps-prometheus"]
    assert objects[1]["subjects"] == [
        {"kind": "ServiceAccount", "name": "kps-prometheus", "namespace": "observability"}
    ]
    assert objects[1]["metadata"]["name"] == "prometheus-k8s" and objects[1]["roleRef"]["name"] == "prometheus-k8s"
    assert objects[0] == ROLE and objects[2:] == VARIANT[2:]
    assert BINDING["subjects"][0]["namespace"] == "monitoring"  # the input is left alone


def test_bind_account_also_rewrites_the_user_name_form():
    binding = {**BINDING, "kind": "ClusterRoleBinding", "subjects": [{"kind": "User", "name": KUBE_PROMETHEUS.user}]}
    objects, changes = variant.bind_account([binding], HELM)
    assert objects[0]["subjects"] == [{"kind": "User", "name": "system:serviceaccount:observability:kps-prometheus"}]
    assert changes == [
        "ClusterRoleBinding prometheus-k8s: subject monitoring/prometheus-k8s -> observability/kps-prometheus"
    ]


def test_bind_account_refuses_a_manifest_without_the_subject():
    with pytest.raises(ManifestError, match="binds no ServiceAccount monitoring/prometheus-k8s"):
        variant.bind_account([ROLE, service_monitor("speaker")], HELM)


def test_label_monitors_refuses_to_change_a_label_the_manifest_sets():
    with pytest.raises(ManifestError, match="ServiceMonitor speaker-monitor already has component=speaker"):
        variant.label_monitors(VARIANT, {"component": "controller"})
    objects, changes = variant.label_monitors(VARIANT, {"release": "kps"})
    assert [o["metadata"]["labels"] for o in objects[2:]] == [
        {"component": "controller", "release": "kps"},
        {"component": "speaker", "release": "kps"},
    ]
    assert changes == [
        "ServiceMonitor controller-monitor: labels +release=kps",
        "ServiceMonitor speaker-monitor: labels +release=kps",
    ]
    with pytest.raises(ManifestError, match="the manifest has no ServiceMonitor"):
        variant.label_monitors([ROLE, BINDING], {"release": "kps"})


def test_fit_changes_a_manifest_in_place():
    manifest = Manifest(list(VARIANT), NS)
    changes = variant.fit(manifest, HELM, {"release": "kps"})
    assert len(changes) == 3
    assert prom.bindings(manifest.objects) == {HELM: prom.RELEASE_GRANTS}
    assert variant.fit(manifest, None, {}) == []


# --------------------------------------------------------------------------------------------- discovery


def test_kube_prometheus_defaults_work_as_shipped():
    found = verdict(prometheus())
    assert found.selects and found.bound and found.scrapes
    assert found.unselected == {} and found.missing == [] and found.steps == []
    assert prom.flags(found, {}) == []
    assert prom_results.describe(found.instance) == (
        "Prometheus monitoring/k8s runs as monitoring/prometheus-k8s; selects ServiceMonitors <all> in namespaces <all>"
    )


def test_a_helm_style_prometheus_is_detected_and_the_flags_proposed():
    found = verdict(helm_prometheus())
    assert not found.selects and not found.bound and not found.scrapes
    assert found.unselected == {
        "controller-monitor": "its serviceMonitorSelector release=kps does not match labels component=controller",
        "speaker-monitor": "its serviceMonitorSelector release=kps does not match labels component=speaker",
    }
    assert found.missing == [f"list {r} in {NS}" for r in ("services", "pods", "endpoints")]
    assert found.steps == []
    assert prom.flags(found, {}) == [
        "--prometheus-service-account observability/kps-prometheus",
        "--servicemonitor-label release=kps",
    ]
    # the manifest fitted with those flags is selected and bound
    manifest = Manifest(list(VARIANT), NS)
    variant.fit(manifest, HELM, {"release": "kps"})
    fitted = verdict(helm_prometheus(), manifest.objects)
    assert fitted.selects and fitted.bound and fitted.scrapes and fitted.missing == []
    assert prom.flags(fitted, {"release": "kps"}) == prom.flags(found, {})


def test_selectors_with_expressions():
    selector = {
        "matchLabels": {"release": "kps"},
        "matchExpressions": [
            {"key": "team", "operator": "In", "values": ["net", "obs"]},
            {"key": "scrape", "operator": "Exists"},
            {"key": "tier", "operator": "NotIn", "values": ["test"]},
        ],
    }
    assert prom.labels_for(selector, {"component": "speaker"}) == (
        {"release": "kps", "team": "net", "scrape": "true"},
        [],
    )
    add, impossible = prom.labels_for(selector, {"release": "other", "team": "dev", "tier": "test"})
    assert add == {"scrape": "true"}
    assert impossible == [
        "release=kps (it has release=other)",
        "team in (net,obs) (it has team=dev)",
        "tier notin (test) (it has tier=test)",
    ]
    found = verdict(prometheus(selector={"matchLabels": {"component": "controller"}}))
    assert list(found.unselected) == ["speaker-monitor"]
    assert found.steps == [
        "speaker-monitor cannot match Prometheus monitoring/k8s: it needs component=controller (it has component=speaker)"
    ]


def test_namespace_selectors():
    own = verdict(prometheus("main", "observability", ns_selector=False))
    assert own.unselected["speaker-monitor"] == (
        "it looks only in its own namespace observability (no serviceMonitorNamespaceSelector)"
    )
    assert own.steps[0].startswith("set spec.serviceMonitorNamespaceSelector of Prometheus observability/main")
    assert verdict(prometheus("main", NS, ns_selector=False)).selects  # a Prometheus in MetalLB's namespace
    by_name = verdict(prometheus(ns_selector={"matchLabels": {"kubernetes.io/metadata.name": NS}}))
    assert by_name.selects
    labelled = verdict(prometheus(ns_selector={"matchLabels": {"monitoring": "on"}}))
    assert not labelled.selects
    assert labelled.steps == [f"kubectl label namespace {NS} monitoring=on"]
    assert verdict(
        prometheus(ns_selector={"matchLabels": {"monitoring": "on"}}), namespace_labels={"monitoring": "on"}
    ).selects


def test_a_null_monitor_selector_selects_nothing():
    found = verdict(prometheus(selector=False))
    assert found.unselected["controller-monitor"] == "it has no serviceMonitorSelector"
    assert "set spec.serviceMonitorSelector of Prometheus monitoring/k8s" in found.steps[0]


def test_a_prometheus_that_refuses_token_files():
    found = verdict(prometheus(arbitraryFSAccessThroughSMs={"deny": True}))
    assert not found.selects
    assert "refuses ServiceMonitors that read a bearer token file" in found.unselected["speaker-monitor"]
    assert "arbitraryFSAccessThroughSMs.deny" in found.steps[0]


def test_endpoint_slice_discovery_needs_more_than_the_release_role():
    found = verdict(prometheus(serviceDiscoveryRole="EndpointSlice"))
    assert found.selects and not found.bound
    assert found.missing == [f"list endpointslices.discovery.k8s.io in {NS}"]
    allowed = {(KUBE_PROMETHEUS, f"list endpointslices.discovery.k8s.io in {NS}"): True}
    assert verdict(prometheus(serviceDiscoveryRole="EndpointSlice"), allowed=allowed).missing == []


def test_access_reviews_count_cluster_roles_and_the_metrics_path():
    reviews = prom.access_reviews(
        [{"account": "observability/kps-prometheus", "what": f"list {r} in {NS}", "allowed": True}
         for r in ("services", "pods", "endpoints")]
        + [{"account": "observability/kps-prometheus", "what": "get /metrics", "allowed": False}]
    )  # fmt: skip
    manifest = Manifest(list(VARIANT), NS)
    variant.fit(manifest, None, {"release": "kps"})
    found = verdict(helm_prometheus(), manifest.objects, allowed=reviews)
    assert found.selects and not found.bound and found.scrapes
    assert found.missing == ["get /metrics"]
    result = prom_results.access_result([found], prom.bindings(manifest.objects), NS)
    assert result.status == WARN
    assert (
        result.message
        == "Prometheus's ServiceAccount may not GET /metrics: MetalLB's metrics endpoints refuse its scrapes (403)"
    )
    assert "kps-prometheus-metrics-reader" in prom_results.metrics_grant(HELM)


def test_access_reviews_are_what_prometheus_does():
    specs = dict(prom.reviews(prom.instance(helm_prometheus()), NS))
    assert list(specs) == [f"list services in {NS}", f"list pods in {NS}", f"list endpoints in {NS}", "get /metrics"]
    assert specs["get /metrics"] == {
        "user": "system:serviceaccount:observability:kps-prometheus",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:observability", "system:authenticated"],
        "nonResourceAttributes": {"verb": "get", "path": "/metrics"},
    }
    assert specs[f"list pods in {NS}"]["resourceAttributes"] == {
        "verb": "list", "group": "", "resource": "pods", "namespace": NS
    }  # fmt: skip


def test_results_and_the_proposed_command():
    monitors = prom.monitors(VARIANT[2:])
    with pytest.raises(Skip, match="no Prometheus object"):
        prom_results.selection_result([], monitors, NS)
    good = prom_results.selection_result([verdict(prometheus())], monitors, NS)
    assert good.status == OK
    assert good.details == (f"Prometheus monitoring/k8s selects controller-monitor, speaker-monitor in {NS}",)
    helm = verdict(helm_prometheus())
    bad = prom_results.selection_result([helm], monitors, NS)
    assert bad.status == WARN
    assert bad.message == (
        "no Prometheus selects MetalLB's ServiceMonitors (controller-monitor, speaker-monitor): nothing will scrape "
        "MetalLB's metrics"
    )
    access = prom_results.access_result([helm], prom.bindings(VARIANT), NS)
    assert access.status == WARN
    assert (
        access.message
        == f"the RoleBinding in {NS} binds monitoring/prometheus-k8s, not the ServiceAccount Prometheus runs as"
    )
    assert prom_results.install_command(helm, {}, "kubectl metallb install --prometheus --version v0.15.3") == (
        "kubectl metallb install --prometheus --version v0.15.3 --prometheus-service-account "
        "observability/kps-prometheus --servicemonitor-label release=kps"
    )
    assert prom.best([verdict(prometheus(selector=False)), helm]) is helm  # fewest steps


def test_plan_without_a_manifest_is_what_every_release_ships():
    plan = prom.plan(NS, account=HELM, labels={"release": "kps"})
    assert [(m.name, dict(m.labels)) for m in plan.monitors] == [
        ("controller-monitor", {"component": "controller", "release": "kps"}),
        ("speaker-monitor", {"component": "speaker", "release": "kps"}),
    ]
    assert plan.granted == {HELM: prom.RELEASE_GRANTS}
    assert prom.plan(NS).granted == prom.bindings(VARIANT)  # the hand-written Role grants what RELEASE_GRANTS says


def test_agents_and_the_default_service_account():
    found = prom.instances([prometheus(account=None)], [{**prometheus("agent", "obs"), "kind": "PrometheusAgent"}])
    assert [str(i) for i in found] == ["Prometheus monitoring/k8s", "PrometheusAgent obs/agent"]
    assert found[0].account == prom.Account("monitoring", "default")
