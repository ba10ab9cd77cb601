from types import SimpleNamespace

import pytest

from metallb_plugin.core.install import inventory, plan, removal


def found(version="v0.15.3", backend="native", managed_by="manifest", namespace="metallb-system", **extra):
    return SimpleNamespace(version=version, backend=backend, managed_by=managed_by, namespace=namespace,
                           helm_release=extra.get("helm_release"), operator=extra.get("operator"))  # fmt: skip


@pytest.mark.parametrize("installed, version, mode, expected", [
    (None, "v0.16.1", "native", ("install", None)),
    (found("v0.16.1"), "v0.16.1", "native", ("reinstall", "v0.16.1")),
    (found("v0.16.1", backend="unknown"), "v0.16.1", "frr", ("reinstall", "v0.16.1")),
    (found("v0.16.1"), "v0.16.1", "frr-k8s", ("upgrade", "v0.16.1")),  # a mode change is an upgrade
    (found("v0.15.3"), "v0.16.1", "native", ("upgrade", "v0.15.3")),
    (found("v0.16.1"), "v0.15.3", "native", ("downgrade", "v0.16.1")),
    (found("main"), "v0.16.1", "native", ("upgrade", "main")),  # an untagged build: not known to be older
])  # fmt: skip
def test_action(installed, version, mode, expected):
    assert plan.action(installed, version, mode) == expected


def test_refusals():
    assert "installed with Helm (release lb)" in plan.refusal(found(managed_by="helm", helm_release="lb"), None, "m")
    assert "managed by metallb-operator (x/op)" in plan.refusal(None, "x/op", "metallb-system")
    assert "already runs in namespace other" in plan.refusal(found(namespace="other"), None, "metallb-system")
    assert plan.refusal(found(), None, "metallb-system") is None
    assert "remove it with `helm uninstall`" in removal.refusal(found(managed_by="helm"), "metallb-system")
    assert "was not installed by `kubectl metallb install`" in removal.refusal(found(), "metallb-system")
    assert removal.refusal(None, "metallb-system") is None


def test_kubernetes_floor_uses_git_version_when_major_minor_are_empty():
    old = {"major": "", "minor": "", "gitVersion": "v1.20.4+k3s1"}
    assert plan.kubernetes_too_old("v0.16.1", old) == (
        "MetalLB v0.16.1 needs Kubernetes 1.21 or newer; this cluster runs v1.20.4+k3s1"
    )
    assert plan.kubernetes_too_old("v0.16.1", {"major": "1", "minor": "30"}) is None
    assert plan.kubernetes_too_old(None, old) is None


def ref(kind, name, namespace=None, api_version="v1"):
    return {"apiVersion": api_version, "kind": kind, "name": name, **({"namespace": namespace} if namespace else {})}


def test_inventory_merge_stale_and_order():
    old = [
        ref("Namespace", "m"),
        ref("Service", "webhook-service", "m"),
        ref("Deployment", "controller", "m", "apps/v1"),
    ]
    new = [ref("Namespace", "m"), ref("Service", "metallb-webhook-service", "m"),
           ref("Deployment", "controller", "m", "apps/v1beta2")]  # fmt: skip
    assert [r["name"] for r in inventory.merge(old, new)] == ["m", "metallb-webhook-service", "controller",
                                                             "webhook-service"]  # fmt: skip
    assert inventory.stale(old, new) == [ref("Service", "webhook-service", "m")]  # the API version does not matter
    order = [(r["kind"], r["name"]) for r in inventory.deletion_order(new, "m")]
    assert order == [("Deployment", "controller"), ("Service", "metallb-webhook-service"),
                     ("ConfigMap", "kubectl-metallb-install"), ("Namespace", "m")]  # fmt: skip


def test_inventory_round_trip_and_corruption():
    refs = [ref("Namespace", "m")]
    cm = inventory.configmap("m", refs, {"version": "v0.16.1"})
    assert inventory.parse(cm, "m") == (refs, cm["data"]) and cm["data"]["version"] == "v0.16.1"
    assert inventory.parse(None, "m") == (None, {})
    with pytest.raises(ValueError, match="is corrupt: its objects are not JSON"):
        inventory.parse({"data": {"objects": "{"}}, "m")


def test_backup_objects_are_restorable_and_leave_status_reports_out():
    crd = {"spec": {"group": "metallb.io", "names": {"kind": "IPAddressPool"},
                    "versions": [{"name": "v1beta1", "served": True, "storage": True}]}}  # fmt: skip
    status = {"spec": {"group": "metallb.io", "names": {"kind": "ServiceL2Status"}, "versions": []}}
    pool = {"metadata": {"name": "p", "namespace": "m", "uid": "1", "resourceVersion": "5", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{}"}}, "spec": {"addresses": ["192.0.2.0/28"]},
        "status": {"assignedIPv4": 1}}  # fmt: skip
    assert removal.backup_objects([(crd, [pool]), (status, [{"metadata": {"name": "s"}}])]) == [
        {"metadata": {"name": "p", "namespace": "m"}, "spec": {"addresses": ["192.0.2.0/28"]},
         "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool"}]  # fmt: skip


def test_holders_by_range_and_by_annotation():
    from metallb_plugin.core import ipam

    pools = {"lan": [ipam.parse_entry("192.0.2.0/28")]}
    services = [
        {"metadata": {"name": "a", "namespace": "x"}, "spec": {"type": "LoadBalancer"},
         "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.3"}]}}},
        {"metadata": {"name": "b", "namespace": "x", "annotations": {"metallb.io/ip-allocated-from-pool": "gone"}},
         "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}},
        {"metadata": {"name": "c", "namespace": "x"}, "status": {}},
    ]  # fmt: skip
    assert removal.holders(pools, services) == ["x/a 192.0.2.3 (pool lan)", "x/b 198.51.100.7 (pool gone)"]
