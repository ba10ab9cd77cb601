"""The pools table model and the objects create/delete write."""

import pytest

from metallb_plugin.core import ipam
from metallb_plugin.core import pools as model


def pool(name, addresses, labels=None, status=None, **spec):
    obj = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"addresses": addresses, **spec},
    }
    if status is not None:
        obj["status"] = status
    return obj


def advert(kind, name, **spec):
    return {"kind": kind, "metadata": {"name": name, "resourceVersion": "7"}, "spec": spec}


def svc(ns, name, ip, pool_name=None):
    annotations = {"metallb.io/ip-allocated-from-pool": pool_name} if pool_name else {}
    return {
        "metadata": {"namespace": ns, "name": name, "annotations": annotations},
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


def test_summarize_rows_and_warnings():
    pools = [
        pool("b", ["10.0.1.0/24"], avoidBuggyIPs=True, serviceAllocation={"priority": 5, "namespaces": ["x"]}),
        pool("a", ["10.0.0.0/29", "fc00::/64"], labels={"tier": "edge"}, autoAssign=False),
        pool("c", ["10.0.2.0/30"], status={"assignedIPv4": 2, "availableIPv4": 2}),
    ]
    advertisements = [
        advert("L2Advertisement", "l2", ipAddressPools=["a", "b"]),
        advert("BGPAdvertisement", "bgp", ipAddressPoolSelectors=[{"matchLabels": {"tier": "edge"}}]),
    ]
    services = [svc("n", "s1", "10.0.0.1", "a"), svc("n", "s2", "fc00::9"), svc("n", "s3", "10.0.2.1", "c")]
    rows, warnings = model.summarize(pools, advertisements, services)
    assert [r["name"] for r in rows] == ["a", "b", "c"]
    a, b, c = rows
    assert a == {
        "name": "a",
        "addresses": ["10.0.0.0/29", "fc00::/64"],
        "autoAssign": False,
        "avoidBuggyIPs": False,
        "priority": None,
        "namespaces": [],
        "size": 8 + 2**64,
        "used": 2,
        "free": 6 + 2**64,
        "ipv4": {"size": 8, "used": 1, "free": 7},
        "ipv6": {"size": 2**64, "used": 1, "free": 2**64 - 1},
        "usedFrom": "services",
        "advertised": ["L2", "BGP"],
        "advertisements": ["L2Advertisement/l2", "BGPAdvertisement/bgp"],
        "services": ["n/s1", "n/s2"],
    }
    assert (b["size"], b["used"], b["priority"], b["namespaces"], b["advertised"]) == (254, 0, 5, ["x"], ["L2"])
    assert (c["used"], c["free"], c["usedFrom"], c["advertised"], c["services"]) == (2, 2, "status", [], ["n/s3"])
    assert warnings == [
        'pool "c" is not advertised: MetalLB assigns its addresses but never announces them; add an '
        "L2Advertisement or BGPAdvertisement for it"
    ]
    assert model.table_rows(rows) == [
        ["a", "10.0.0.0/29,fc00::/64", "2^64+8", "2", "2^64+6", "false", "L2+BGP", "2"],
        ["b", "10.0.1.0/24", "254", "0", "254", "true", "L2", "0"],
        ["c", "10.0.2.0/30", "4", "2", "2", "true", "none", "1"],
    ]


def test_summarize_without_services_and_with_broken_pools():
    pools = [
        pool("ok", ["10.0.0.0/24"], status={"assignedIPv4": 3}),
        pool("plain", ["10.0.3.0/24"]),
        pool("broken", ["10.0.1.0/33"]),
        pool("clash", ["10.0.0.128/25"]),
    ]
    rows, warnings = model.summarize(pools, [advert("L2Advertisement", "all")], None)
    by_name = {r["name"]: r for r in rows}
    assert (by_name["ok"]["used"], by_name["ok"]["services"], by_name["ok"]["usedFrom"]) == (3, None, "status")
    assert (by_name["plain"]["used"], by_name["plain"]["free"], by_name["plain"]["usedFrom"]) == (None, None, "unknown")
    assert (by_name["broken"]["size"], by_name["broken"]["ipv4"]) == (None, {"size": None, "used": None, "free": None})
    assert model.table_rows([by_name["broken"]])[0][2:5] == ["?", "?", "?"]
    assert warnings == [
        'pool "broken": invalid CIDR "10.0.1.0/33": prefix length 33 is out of range for IPv4 (0-32): MetalLB rejects '
        "this configuration until it is fixed",
        '10.0.0.0/24 in pool "ok" overlaps 10.0.0.128/25 in pool "clash": MetalLB rejects overlapping pools until '
        "this is fixed",
    ]


@pytest.mark.parametrize("name", ["web", "a", "pool-1", "pool.v4", "0pool", "x" * 253])
def test_valid_names(name):
    model.validate_name(name)


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "the pool name is empty"),
        ("Web", 'invalid pool name "Web": use lower-case letters'),
        ("-web", "invalid pool name"),
        ("web_1", "invalid pool name"),
        ("web.", "invalid pool name"),
        ("x" * 254, "invalid pool name: 254 characters, at most 253 allowed"),
    ],
)
def test_invalid_names(name, message):
    with pytest.raises(ValueError) as caught:
        model.validate_name(name)
    assert str(caught.value).startswith(message)


def test_node_selector():
    assert model.parse_node_selector("kubernetes.io/hostname=node-1, zone=a") == {
        "matchLabels": {"kubernetes.io/hostname": "node-1", "zone": "a"}
    }
    assert model.parse_node_selector("role=") == {"matchLabels": {"role": ""}}
    for bad, message in (
        ("zone", "write key=value"),
        ("=a", "write key=value"),
        ("bad key=a", "not a valid label key"),
        ("Example.COM/x=a", "not a valid label key"),
        ("a=b c", "not a valid label value"),
        ("a=" + "v" * 64, "not a valid label value"),
    ):
        with pytest.raises(ValueError, match=message):
            model.parse_node_selector(bad)


def test_objects_written_by_create():
    assert model.pool_object("p", "ns", ["10.0.0.0/24"]) == {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": "p", "namespace": "ns", "labels": {"app.kubernetes.io/managed-by": "kubectl-metallb"}},
        "spec": {"addresses": ["10.0.0.0/24"]},
    }
    full = model.pool_object("p", "ns", ["a"], auto_assign=False, avoid_buggy_ips=True, priority=0, namespaces=["x"])
    assert full["spec"] == {
        "addresses": ["a"],
        "autoAssign": False,
        "avoidBuggyIPs": True,
        "serviceAllocation": {"priority": 0, "namespaces": ["x"]},
    }
    l2 = model.advertisement_object(
        "layer2", "p", "ns", "p", interfaces=["eth0"], peers=["ignored"], node_selectors=[{"matchLabels": {"a": "b"}}]
    )
    assert (l2["kind"], l2["spec"]) == (
        "L2Advertisement",
        {"ipAddressPools": ["p"], "interfaces": ["eth0"], "nodeSelectors": [{"matchLabels": {"a": "b"}}]},
    )
    bgp = model.advertisement_object("bgp", "p", "ns", "p", interfaces=["ignored"], peers=["r1"])
    assert (bgp["kind"], bgp["spec"]) == ("BGPAdvertisement", {"ipAddressPools": ["p"], "peers": ["r1"]})


def test_placement_warnings():
    nodes = [
        {
            "metadata": {"name": "n1"},
            "spec": {"podCIDRs": ["10.244.1.0/24", "fd00:244::/64"]},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": "192.168.1.10"},
                    {"type": "Hostname", "address": "n1"},
                    {"type": "ExternalIP", "address": "not-an-ip"},
                ]
            },
        },
        {"metadata": {"name": "n2"}, "spec": {"podCIDR": "10.244.2.0/24"}, "status": {}},
    ]
    ranges = ipam.parse_entries(["192.168.1.0/28", "10.244.2.128/25", "10.96.5.0/24", "10.1.0.0/24"])
    assert model.placement_warnings(ranges, nodes, ["10.96.0.0/12", "bogus"]) == [
        '192.168.1.0/28 overlaps the InternalIP of node "n1" (192.168.1.10): MetalLB would hand out addresses that '
        "are already in use",
        '10.244.2.128/25 overlaps the pod CIDR of node "n2" (10.244.2.0/24): MetalLB would hand out addresses that '
        "are already in use",
        "10.96.5.0/24 overlaps the service CIDR (10.96.0.0/12): MetalLB would hand out addresses that are already "
        "in use",
    ]
    assert model.placement_warnings(ipam.parse_entries(["172.16.0.0/24"]), nodes, ["10.96.0.0/12"]) == []


def test_cleanup_plan():
    only = advert("L2Advertisement", "only", ipAddressPools=["p"])
    shared = advert("BGPAdvertisement", "shared", ipAddressPools=["p", "q"])
    selected = advert("L2Advertisement", "sel", ipAddressPools=["p"], ipAddressPoolSelectors=[{"matchLabels": {}}])
    everything = advert("L2Advertisement", "all")
    other = advert("L2Advertisement", "other", ipAddressPools=["q"])
    delete, edit = model.cleanup_plan("p", [only, shared, selected, everything, other])
    assert delete == [only]
    assert edit == [(shared, ["q"]), (selected, [])]
