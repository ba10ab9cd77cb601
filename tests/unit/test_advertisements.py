"""Which advertisements announce which pools, from which nodes, for which Services."""

from metallb_plugin.core import advertisements as adv


def pool(name, labels=None):
    return {"kind": "IPAddressPool", "metadata": {"name": name, "labels": labels or {}}, "spec": {}}


def l2(name, **spec):
    return {"kind": "L2Advertisement", "metadata": {"name": name}, "spec": spec}


def bgp(name, **spec):
    return {"kind": "BGPAdvertisement", "metadata": {"name": name}, "spec": spec}


def node(name, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}}}


def test_empty_advertisement_covers_every_pool():
    assert adv.selects_pool(l2("all"), pool("a"))
    assert adv.selects_pool({"kind": "L2Advertisement", "metadata": {"name": "x"}}, pool("a"))  # no spec at all


def test_by_name_or_by_selector():
    by_name = l2("n", ipAddressPools=["a"])
    by_label = l2("s", ipAddressPoolSelectors=[{"matchLabels": {"tier": "prod"}}])
    assert adv.selects_pool(by_name, pool("a"))
    assert not adv.selects_pool(by_name, pool("b"))
    assert adv.selects_pool(by_label, pool("b", {"tier": "prod"}))
    assert not adv.selects_pool(by_label, pool("a"))
    both = l2("both", ipAddressPools=["a"], ipAddressPoolSelectors=[{"matchLabels": {"tier": "prod"}}])
    assert adv.selects_pool(both, pool("a")) and adv.selects_pool(both, pool("c", {"tier": "prod"}))


def test_covering_and_unannounced():
    advs = [l2("x", ipAddressPools=["a"]), bgp("y", ipAddressPools=["b"])]
    assert [a["metadata"]["name"] for a in adv.covering(pool("a"), advs)] == ["x"]
    assert adv.unannounced_pools([pool("c"), pool("a"), pool("b"), pool("d")], advs) == ["c", "d"]
    assert adv.unannounced_pools([pool("a")], []) == ["a"]


def test_protocol():
    assert adv.protocol(l2("x")) == "layer2"
    assert adv.protocol(bgp("x")) == "bgp"


def test_node_and_service_selectors():
    limited = l2(
        "x",
        nodeSelectors=[{"matchLabels": {"edge": "true"}}],
        serviceSelectors=[{"matchExpressions": [{"key": "expose", "operator": "Exists"}]}],
    )
    assert adv.allows_node(l2("all"), node("n1"))
    assert adv.allows_node(limited, node("n1", {"edge": "true"}))
    assert not adv.allows_node(limited, node("n2"))
    assert adv.selects_service(l2("all"), {"metadata": {}})
    assert adv.selects_service(limited, {"metadata": {"labels": {"expose": ""}}})
    assert not adv.selects_service(limited, {"metadata": {"labels": {}}})
