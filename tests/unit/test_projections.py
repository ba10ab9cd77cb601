"""The projections of Services, Nodes and ServiceL2Status/ServiceBGPStatus objects: what they keep, and that no code
reads a field they drop."""

import ast
import json
import pathlib

import pytest

from metallb_plugin.core import projections
from metallb_plugin.core.snapshot import project

PACKAGE = pathlib.Path(projections.__file__).resolve().parents[1]

# names a projection drops that the code does use, but of other kinds only: the test cannot tell kinds apart
OTHER_KINDS = {
    "uid": "objects the write paths list themselves (kube-proxy's ConfigMap, what uninstall removes)",
    "resourceVersion": "objects the write paths replace (conflict-safe updates)",
    "generation": "Deployments and DaemonSets (rollout progress)",
    "selfLink": "objects uninstall backs up",
    "managedFields": "dropped from every listed object (Client.list)",
    "config": "ConfigMaps' data key (MetalLB's legacy configuration)",
    "images": "the images of manifests (install)",
    "hostname": "a Service's load-balancer ingress (status.loadBalancer.ingress[].hostname)",
}

METADATA = {
    "name": "web",
    "namespace": "shop",
    "generateName": "web-",
    "uid": "0b6f1a9e-2c53-4d0c-8c57-53e1b1a2d0f4",
    "resourceVersion": "12345",
    "generation": 2,
    "creationTimestamp": "2026-01-01T00:00:00Z",
    "deletionTimestamp": "2026-01-02T00:00:00Z",
    "labels": {"app": "web"},
    "annotations": {"metallb.io/ip-allocated-from-pool": "blue"},
    "ownerReferences": [{"apiVersion": "v1", "kind": "Thing", "name": "owner", "uid": "1"}],
    "finalizers": ["service.kubernetes.io/load-balancer-cleanup"],
    "managedFields": [{"manager": "kubectl"}],
    "selfLink": "/api/v1/namespaces/shop/services/web",
}

# every field of a Service (v1.37)
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": METADATA,
    "spec": {
        "type": "LoadBalancer",
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}],
        "selector": {"app": "web"},
        "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"],
        "externalIPs": ["192.0.2.1"],
        "externalName": "",
        "externalTrafficPolicy": "Local",
        "internalTrafficPolicy": "Cluster",
        "healthCheckNodePort": 31000,
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "loadBalancerClass": "metallb.io/metallb",
        "loadBalancerIP": "198.51.100.10",
        "loadBalancerSourceRanges": ["203.0.113.0/24"],
        "allocateLoadBalancerNodePorts": True,
        "publishNotReadyAddresses": False,
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
        "trafficDistribution": "PreferClose",
    },
    "status": {
        "loadBalancer": {"ingress": [{"ip": "198.51.100.10", "ipMode": "VIP"}]},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}

# every field of a Node (v1.37)
NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": METADATA,
    "spec": {
        "podCIDR": "10.244.0.0/24",
        "podCIDRs": ["10.244.0.0/24"],
        "providerID": "kind://node-a",
        "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
        "unschedulable": True,
    },
    "status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "InternalIP", "address": "198.51.100.11"}],
        "nodeInfo": {"kubeletVersion": "v1.37.2", "kubeProxyVersion": "", "operatingSystem": "linux"},
        "capacity": {"cpu": "2"},
        "allocatable": {"cpu": "2"},
        "images": [{"names": ["quay.io/metallb/speaker:v0.16.1"], "sizeBytes": 1}],
        "volumesInUse": ["kubernetes.io/csi/x"],
        "volumesAttached": [{"name": "kubernetes.io/csi/x", "devicePath": ""}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "config": {"active": {}},
        "runtimeHandlers": [{"name": "runc"}],
        "features": {"supplementalGroupsPolicy": True},
    },
}

# every field of a ServiceL2Status (a ServiceBGPStatus has peers where this has interfaces)
SERVICE_STATUS = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "ServiceL2Status",
    "metadata": METADATA,
    "spec": {},
    "status": {"node": "node-a", "serviceName": "web", "serviceNamespace": "shop", "interfaces": [{"name": "eth0"}]},
}


def _dropped(full, kept, path=()):
    """(path, name) of every field of full that kept does not have whole; a list's first object stands for all."""
    for name, value in full.items():
        if name not in kept:
            yield ".".join((*path, name)), name
        elif isinstance(value, dict) and kept[name] != value:
            yield from _dropped(value, kept[name], (*path, name))
        elif isinstance(value, list) and value and isinstance(value[0], dict) and kept[name] != value:
            yield from _dropped(value[0], kept[name][0], (*path, f"{name}[]"))


def _literals():
    names = set()
    for source in PACKAGE.rglob("*.py"):
        if source.name == "projections.py":
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    return names


# metadata a status object is not read for: the code reads these names of Services, Pods and workloads, but of a
# status object only the Service and node it names (view.status_target) and its BGP peers
NOT_OF_STATUS_OBJECTS = {"creationTimestamp", "deletionTimestamp", "annotations", "ownerReferences", "finalizers"}


@pytest.mark.parametrize(
    "full,fields,elsewhere",
    [
        (SERVICE, projections.SERVICE, set()),
        (NODE, projections.NODE, set()),
        (SERVICE_STATUS, projections.SERVICE_STATUS, NOT_OF_STATUS_OBJECTS),
    ],
    ids=["Service", "Node", "ServiceL2Status"],
)
def test_no_code_reads_a_dropped_field(full, fields, elsewhere):
    dropped = list(_dropped(full, project(full, fields)))
    assert dropped  # the projection does drop something
    read = _literals()
    offending = [path for path, name in dropped if name in read and name not in {*OTHER_KINDS, *elsewhere}]
    assert not offending, f"code reads {offending}, which core/projections.py drops: keep them there"


def test_keeps_what_is_listed_and_nothing_else():
    service = project(SERVICE, projections.SERVICE)
    assert service["metadata"] == {k: METADATA[k] for k in projections.METADATA}
    assert service["status"] == SERVICE["status"]
    assert "sessionAffinity" not in service["spec"] and service["spec"]["ports"] == SERVICE["spec"]["ports"]
    assert "images" not in project(NODE, projections.NODE)["status"]


def test_absent_fields_stay_absent_and_odd_values_are_kept_as_they_are():
    assert project({"metadata": {"name": "a"}}, projections.SERVICE) == {"metadata": {"name": "a"}}
    assert project({"metadata": None, "spec": "x"}, projections.SERVICE) == {"metadata": None, "spec": "x"}


def test_a_string_value_repeated_across_objects_is_kept_once():
    first, second = (project(json.loads(json.dumps(SERVICE)), projections.SERVICE) for _ in range(2))
    assert first["spec"]["type"] == "LoadBalancer" and first["spec"]["type"] is second["spec"]["type"]
    assert first["metadata"]["namespace"] is second["metadata"]["namespace"]
