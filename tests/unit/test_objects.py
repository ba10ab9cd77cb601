import os

import pytest

from metallb_plugin import errors
from metallb_plugin.backup import write_backup
from metallb_plugin.core import objects as k8s


def test_accessors_tolerate_missing_and_null_fields():
    for obj in ({}, {"metadata": None, "spec": None, "status": None}):
        assert (k8s.meta(obj), k8s.name(obj), k8s.namespace(obj), k8s.labels(obj)) == ({}, "", "", {})
        assert (k8s.annotations(obj), k8s.spec(obj), k8s.status(obj), k8s.containers(obj)) == ({}, {}, {}, [])
        assert k8s.main_container(obj, "x") == {}
    pod = {"metadata": {"name": "p", "namespace": "ns"}}
    assert (k8s.key(pod), k8s.qualified(pod), k8s.qualified({"metadata": {"name": "n1"}})) == ("ns/p", "ns/p", "n1")


def test_pod_spec_of_a_pod_and_of_a_workload_template():
    pod = {"spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]}}
    deployment = {"spec": {"template": {"spec": pod["spec"]}}}
    for obj in (pod, deployment):
        assert [c["name"] for c in k8s.containers(obj)] == ["a"]
        assert [c["name"] for c in k8s.containers(obj, init=True)] == ["a", "i"]
    assert k8s.main_container(deployment, "missing") == {"name": "a"}  # the first one


@pytest.mark.parametrize(
    "argv, flag, value",
    [
        (["--lb-class=x"], "--lb-class", "x"),
        (["--lb-class", "x"], "lb-class", "x"),
        (["-lb-class", "x"], "--lb-class", "x"),  # Go's flag package accepts one dash too
        (["--lb-class=a", "--lb-class", "b"], "--lb-class", "b"),  # the last one wins
        (["--lb-class"], "--lb-class", None),  # no value to take
        (["--lb-classes=x"], "--lb-class", None),
        ([], "--lb-class", None),
    ],
)
def test_flag_value(argv, flag, value):
    assert k8s.flag_value(argv, flag) == value


def test_flag_values_repeatable_and_split():
    argv = ["server", "--disable", "traefik,servicelb", "--disable=metrics-server", "--disable-cloud-controller"]
    assert k8s.flag_values(argv, "disable") == ["traefik,servicelb", "metrics-server"]
    assert k8s.flag_values(argv, "disable", ",") == ["traefik", "servicelb", "metrics-server"]


@pytest.mark.parametrize(
    "argv, value",
    [
        (["--ignore-exclude-lb"], True),
        (["--ignore-exclude-lb=true"], True),
        (["--ignore-exclude-lb=T"], True),
        (["--ignore-exclude-lb=1"], True),
        (["--ignore-exclude-lb=false"], False),
        (["--ignore-exclude-lb=0"], False),
        (["--ignore-exclude-lb=maybe"], None),
        ([], None),
        (["--ignore-exclude-lb", "--ignore-exclude-lb=false"], False),
    ],
)
def test_flag_switch(argv, value):
    assert k8s.flag_switch(argv, "--ignore-exclude-lb") is value


def test_json_argv():
    assert k8s.json_argv('["server", 1]') == ["server", "1"]
    assert k8s.json_argv("{}") is None and k8s.json_argv("not json") is None and k8s.json_argv(None) is None


@pytest.mark.parametrize(
    "toleration, taint, tolerated",
    [
        ({"operator": "Exists"}, {"key": "a", "effect": "NoSchedule"}, True),  # empty key + Exists: everything
        ({"key": "a", "operator": "Exists"}, {"key": "a", "value": "x", "effect": "NoExecute"}, True),
        ({"key": "a", "value": "x"}, {"key": "a", "value": "x", "effect": "NoSchedule"}, True),  # operator Equal
        ({"key": "a", "value": "y"}, {"key": "a", "value": "x", "effect": "NoSchedule"}, False),
        ({"key": "a", "operator": "Exists", "effect": "NoExecute"}, {"key": "a", "effect": "NoSchedule"}, False),
        ({"key": "b", "operator": "Exists"}, {"key": "a", "effect": "NoSchedule"}, False),
        ({"value": "x"}, {"key": "a", "value": "x", "effect": "NoSchedule"}, False),  # empty key needs Exists
    ],
)
def test_tolerates(toleration, taint, tolerated):
    assert k8s.tolerates(toleration, taint) is tolerated


def _node(*taints):
    return {"metadata": {"name": "n"}, "spec": {"taints": list(taints)}}


def test_daemon_pods_tolerate_what_the_daemonset_controller_adds():
    cordoned = _node({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
    no_network = _node({"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"})
    assert k8s.blocking_taints(cordoned, k8s.daemon_tolerations({})) == []
    assert k8s.blocking_taints(no_network, k8s.daemon_tolerations({})) != []
    assert k8s.blocking_taints(no_network, k8s.daemon_tolerations({"hostNetwork": True})) == []
    # not-ready as NoSchedule (the kubelet's) is not among the DaemonSet controller's tolerations ...
    not_ready = _node({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"})
    assert [k8s.taint_text(t) for t in k8s.blocking_taints(not_ready, k8s.daemon_tolerations({}))] == [
        "node.kubernetes.io/not-ready:NoSchedule"
    ]
    # ... but it is transient: a check about the future leaves it out
    assert k8s.blocking_taints(not_ready, (), ignore=k8s.TRANSIENT_TAINTS) == []


def test_only_scheduling_effects_block():
    node = _node({"key": "a", "value": "1", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "NoExecute"})
    assert [k8s.taint_text(t) for t in k8s.blocking_taints(node, ())] == ["b:NoExecute"]


@pytest.mark.parametrize(
    "versions, chosen",
    [
        ([{"name": "v1beta1", "served": True}, {"name": "v1beta2", "served": True, "storage": True}], "v1beta2"),
        (
            [{"name": "v1", "served": True}, {"name": "v2", "served": False, "storage": True}],
            "v1",
        ),  # storage not served
        ([{"name": "v1", "served": False}], None),
        ([], None),
    ],
)
def test_crd_version(versions, chosen):
    assert k8s.crd_version({"spec": {"versions": versions}}) == chosen


@pytest.mark.parametrize(
    "doc, version",
    [
        ({"major": "1", "minor": "31"}, (1, 31)),
        ({"major": "1", "minor": "27+", "gitVersion": "v1.27.3-eks-1"}, (1, 27)),
        ({"major": "", "minor": "", "gitVersion": "v1.30.2+k3s1"}, (1, 30)),  # some distributions leave them empty
        ({"gitVersion": "v1.29.0-rc.1"}, (1, 29)),
        ({"gitVersion": "unknown"}, None),
        (None, None),
    ],
)
def test_kubernetes_version(doc, version):
    assert k8s.kubernetes_version(doc) == version


def test_pool_ranges_strict_and_lenient():
    pool = {"spec": {"addresses": ["192.0.2.0/30", "not-an-address", "198.51.100.1-198.51.100.2"]}}
    ranges, error = k8s.pool_ranges(pool)
    assert ranges == [] and "not-an-address" in error  # MetalLB rejects the whole pool
    ranges, error = k8s.pool_ranges(pool, lenient=True)
    assert [str(r) for r in ranges] == ["192.0.2.0/30", "198.51.100.1-198.51.100.2"] and "not-an-address" in error
    ranges, error = k8s.pool_ranges({"spec": {"addresses": ["192.0.2.1/24"]}})  # host bits: MetalLB accepts them
    assert len(ranges) == 1 and error is None


def test_listing():
    assert k8s.listing(["a", "b"]) == "a, b"
    assert k8s.listing([str(i) for i in range(8)]) == "0, 1, 2, 3, 4 and 3 more"


def test_backup_is_new_and_private(tmp_path):
    path = tmp_path / "backup.yaml"
    write_backup(str(path), "a: 1\n")
    assert path.read_text() == "a: 1\n" and oct(os.stat(path).st_mode & 0o777) == "0o600"
    with pytest.raises(errors.UsageError, match="the file exists"):
        write_backup(str(path), "b: 2\n")
    assert path.read_text() == "a: 1\n"
    write_backup(str(path), "b: 2\n", rewrite=True)  # a retry replaces its own backup
    assert path.read_text() == "b: 2\n"
    with pytest.raises(errors.UsageError, match="nothing was changed"):
        write_backup(str(tmp_path / "missing" / "x.yaml"), "")
