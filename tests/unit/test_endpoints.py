"""EndpointSlices reduced to what the checks read of them, and the readiness of a Service's endpoints."""

import json
import sys

import pytest

from metallb_plugin.core.endpoints import Endpoint, Slice, readiness, ready, reduce

# every field of an EndpointSlice (discovery.k8s.io/v1, v1.37)
FULL = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {
        "name": "web-x7k2p",
        "namespace": "shop",
        "generateName": "web-",
        "uid": "0b6f1a9e-2c53-4d0c-8c57-53e1b1a2d0f4",
        "resourceVersion": "12345",
        "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "x"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "1"}],
    },
    "addressType": "IPv4",
    "endpoints": [
        {
            "addresses": ["10.244.1.5"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "hostname": "web-0",
            "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-0", "uid": "2"},
            "nodeName": "node-a",
            "zone": "zone-1",
            "hints": {"forZones": [{"name": "zone-1"}], "forNodes": [{"name": "node-a"}]},
            "deprecatedTopology": {"topology.kubernetes.io/zone": "zone-1"},
        },
        {"addresses": ["10.244.2.7", "10.244.2.8"], "conditions": {"ready": False, "serving": True}},
    ],
    "ports": [{"name": "http", "protocol": "TCP", "port": 8080, "appProtocol": "http"}],
}


def test_keeps_the_service_and_each_endpoints_addresses_node_and_conditions():
    assert reduce(FULL) == Slice(
        "shop",
        "web-x7k2p",
        "web",
        (
            Endpoint(("10.244.1.5",), "node-a", True, True, False),
            Endpoint(("10.244.2.7", "10.244.2.8"), None, False, True, None),
        ),
    )


@pytest.mark.parametrize(
    "obj",
    [
        None,
        "text",
        {},
        {"metadata": None, "endpoints": None},
        {"metadata": {"labels": ["web"]}, "endpoints": "web"},
        {"endpoints": [None, "odd", {"addresses": "10.0.0.1", "conditions": [], "nodeName": 5}]},
        {"endpoints": [{"addresses": [None, "10.0.0.1"], "conditions": {"ready": "yes"}}]},
    ],
)
def test_fields_of_the_wrong_type_count_as_absent(obj):
    found = reduce(obj)
    assert found.namespace == found.name == found.service == ""
    assert all(isinstance(a, str) for e in found.endpoints for a in e.addresses)
    assert all(e.node is None and e.ready is None for e in found.endpoints)


def test_node_names_and_namespaces_are_kept_once():
    first, second = (reduce(json.loads(json.dumps(FULL))) for _ in range(2))
    assert first.endpoints[0].node is second.endpoints[0].node is sys.intern("node-a")
    assert first.namespace is second.namespace


def test_ready_lists_the_addresses_of_ready_endpoints_with_their_nodes():
    unset = reduce({"endpoints": [{"addresses": ["10.244.3.1"], "nodeName": "node-b"}]})
    assert ready([reduce(FULL), unset]) == [("10.244.1.5", "node-a"), ("10.244.3.1", "node-b")]
    assert ready(None) == ready([]) == []


def test_readiness_counts_ready_endpoints_with_an_address():
    not_ready = reduce({"endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": False}}]})
    unset = reduce({"endpoints": [{"addresses": ["10.0.0.5"]}]})
    no_address = reduce({"endpoints": [{"conditions": {"ready": True}}]})
    assert readiness([]) == readiness(None) == (False, "no endpoints (no EndpointSlice yet)")
    assert readiness([not_ready]) == (False, "no ready endpoints")
    assert readiness([reduce({"endpoints": None}), no_address]) == (False, "no ready endpoints")
    assert readiness([not_ready, unset]) == (True, "1 ready endpoint")
    assert readiness([reduce(FULL), unset]) == (True, "2 ready endpoints")
