"""The analyzer's rules, one by one (a configuration that trips each and one that does not), its document and the
offline snapshot of files."""

import random

import pytest

from metallb_plugin.core import analyze, ipam
from metallb_plugin.core.analyze import RULES, Ref, addresses, files
from metallb_plugin.core.checks import SKIP
from metallb_plugin.core.snapshot import Unreadable
from metallb_plugin.defaults import HOMEPAGE

NS = "metallb-system"
V1 = "metallb.io/v1beta1"
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


def obj(kind, name, ns=NS, api=V1, labels=None, **spec):
    meta = {"name": name, **({"namespace": ns} if ns else {}), **({"labels": labels} if labels else {})}
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec}


def pool(name, *addresses, ns=NS, labels=None, **spec):
    return obj("IPAddressPool", name, ns, labels=labels, addresses=list(addresses), **spec)


def l2(name="l2", ns=NS, **spec):
    return obj("L2Advertisement", name, ns, **spec)


def bgp(name="bgp", ns=NS, **spec):
    return obj("BGPAdvertisement", name, ns, **spec)


def peer(name="router", address="192.0.2.1", ns=NS, **spec):
    return obj("BGPPeer", name, ns, api="metallb.io/v1beta2", myASN=64500, peerASN=64501, peerAddress=address, **spec)


def node(name, labels=None, addresses=(), pod_cidrs=(), conditions=()):
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"podCIDRs": list(pod_cidrs)},
        "status": {
            "addresses": [{"type": "InternalIP", "address": a} for a in addresses],
            "conditions": list(conditions),
        },
    }


def service(name, ns="apps", annotations=None, ports=((80, "TCP"),), ip=None, **spec):
    found = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": p, "protocol": proto} for p, proto in ports], **spec},
    }
    if ip:
        found["status"] = {"loadBalancer": {"ingress": [{"ip": ip}]}}
    return found


def secret(name, type_="kubernetes.io/basic-auth", keys=("password",), ns=NS):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": type_,
            "data": dict.fromkeys(keys, "eA==")}  # fmt: skip


BASE = [pool("lan", "192.168.10.240-192.168.10.250"), l2("lan", ipAddressPools=["lan"])]
NODES = [node("n1", addresses=["192.168.10.11"], pod_cidrs=["10.244.0.0/24"]), node("n2", addresses=["192.168.10.12"])]


def run(*objects, backend=None, skip=()):
    facts, _ = files.offline_facts(list(objects), NS, False)
    return analyze.analyze(analyze.Model(facts, backend=backend), skip=skip)


def codes(analysis, code=None):
    found = [f for f in analysis.findings if code is None or f.code == code]
    return found


def only(analysis, code):
    found = codes(analysis, code)
    assert len(found) == 1, [f.line() for f in analysis.findings]
    return found[0]


def test_a_sound_configuration_has_no_finding():
    analysis = run(*BASE, *NODES, service("web"), secret("pw"), peer(passwordSecret={"name": "pw"}),
                   bgp("b", ipAddressPools=["lan"], peers=["router"], communities=["65000:1"]), backend="frr-k8s")  # fmt: skip
    assert analysis.findings == []
    assert [o.check.id for o in analysis.skipped] == ["MLB0406"]  # no ServiceCIDR given
    assert analysis.to_document()["success"] is True


def test_every_code_is_registered_once_with_a_level_and_a_title():
    assert list(analyze.CODES) == sorted(analyze.CODES)
    assert analyze.CODES[0] == "MLB0101" and len(analyze.CODES) == len(RULES) == 32
    for code in analyze.CODES:
        assert RULES[code].level in analyze.LEVELS and RULES[code].title


# --------------------------------------------------------------------------------------------- references


def test_mlb0101_advertisement_names_a_missing_pool():
    found = only(run(*BASE, l2("typo", ipAddressPools=["lan", "lann"]), pool("lann", "10.1.0.0/24", ns="other")),
                 "MLB0101")  # fmt: skip
    assert found.level == "error"
    assert found.message == (
        'L2Advertisement typo announces pool "lann", which does not exist in metallb-system (one is in other, which '
        "MetalLB ignores)"
    )
    assert found.objects == (Ref("L2Advertisement", "typo", NS, "spec.ipAddressPools[1]"),)
    assert codes(run(*BASE), "MLB0101") == []


def test_mlb0102_pool_selectors_select_nothing():
    selector = [{"matchLabels": {"tier": "gold"}}]
    found = only(run(*BASE, bgp(ipAddressPoolSelectors=selector)), "MLB0102")
    assert found.level == "warning" and "(tier=gold) select no IPAddressPool" in found.message
    gold = pool("gold", "10.2.0.0/24", labels={"tier": "gold"})
    assert codes(run(*BASE, gold, bgp(ipAddressPoolSelectors=selector)), "MLB0102") == []


def test_mlb0103_peer_uses_a_missing_bfd_profile():
    found = only(run(*BASE, peer(bfdProfile="fast"), backend="frr"), "MLB0103")
    assert found.objects == (Ref("BGPPeer", "router", NS, "spec.bfdProfile"),)
    assert "MetalLB rejects the whole configuration" in found.message
    assert codes(run(*BASE, peer(bfdProfile="fast"), obj("BFDProfile", "fast"), backend="frr"), "MLB0103") == []


@pytest.mark.parametrize(
    "community, problem",
    [
        ("nope", "is no Community alias in metallb-system and no community value"),
        ("70000:1", "is not a valid value (each part of ASN:VALUE must be at most 65535)"),
        ("large:1:2", "is not a valid value (it is neither ASN:VALUE nor large:ASN:VALUE:VALUE)"),
        ("big:1:2:3", 'is not a valid value (a large community starts with "large:")'),
        ("65000:x", "is not a valid value (a part of it is not a number)"),
    ],
)
def test_mlb0104_unknown_or_invalid_communities(community, problem):
    found = only(run(*BASE, bgp(communities=["65000:1", community])), "MLB0104")
    assert (
        found.message
        == f'BGPAdvertisement bgp: community "{community}" {problem}: MetalLB rejects the whole configuration'
    )
    assert found.objects[0].field == "spec.communities[1]"


def test_mlb0104_aliases_and_values_pass():
    aliases = obj("Community", "communities", communities=[{"name": "no-export", "value": "65535:65281"}])
    good = bgp(communities=["no-export", "65000:1", "large:64500:1:2"])
    assert codes(run(*BASE, aliases, good), "MLB0104") == []


@pytest.mark.parametrize(
    "objects, problem",
    [
        ((secret("other"),), 'uses password Secret "pw", which does not exist in metallb-system'),
        ((secret("pw", type_="Opaque"),), 'uses Secret "pw" of type Opaque; MetalLB needs kubernetes.io/basic-auth'),
        ((secret("pw", keys=("username",)),), 'uses Secret "pw", which has no key "password"'),
        ((secret("pw", ns="other"),), 'uses password Secret "pw", which does not exist in metallb-system'),
    ],
)
def test_mlb0105_password_secret_problems(objects, problem):
    found = only(run(*BASE, peer(passwordSecret={"name": "pw"}), *objects), "MLB0105")
    assert found.message == f"BGPPeer router {problem}: MetalLB rejects the whole configuration"
    assert codes(run(*BASE, peer(passwordSecret={"name": "pw"}), secret("pw")), "MLB0105") == []


def test_mlb0105_needs_the_secrets():
    analysis = run(*BASE, peer(passwordSecret={"name": "pw"}))
    skipped = {o.check.id: o.result.message for o in analysis.skipped}
    assert skipped["MLB0105"].startswith("no Secret in the files (-f)")


def test_mlb0106_advertisement_names_a_missing_peer():
    found = only(run(*BASE, peer(), bgp(peers=["router", "rooter"])), "MLB0106")
    assert found.objects == (Ref("BGPAdvertisement", "bgp", NS, "spec.peers[1]"),)
    assert codes(run(*BASE, peer(), bgp(peers=["router"])), "MLB0106") == []


def test_mlb0107_service_asks_for_a_missing_pool():
    asking = service("web", annotations={"metallb.universe.tf/address-pool": "nope"})
    found = only(run(*BASE, asking), "MLB0107")
    assert found.objects == (Ref("Service", "web", "apps", "metadata.annotations[metallb.universe.tf/address-pool]"),)
    fine = service("web", annotations={"metallb.io/address-pool": "lan"})
    assert codes(run(*BASE, fine), "MLB0107") == []
    other_class = service("web", annotations={"metallb.io/address-pool": "nope"}, loadBalancerClass="x.io/lb")
    assert codes(run(*BASE, other_class), "MLB0107") == []  # not MetalLB's Service


def test_mlb0108_service_asks_for_an_address_outside_the_pools():
    found = only(run(*BASE, service("web", loadBalancerIP="10.9.9.9")), "MLB0108")
    assert found.message == "Service apps/web asks for 10.9.9.9, which no IPAddressPool in metallb-system holds"
    assert found.objects[0].field == "spec.loadBalancerIP"
    both = service("web", annotations={"metallb.io/loadBalancerIPs": "10.3.0.5", "metallb.io/address-pool": "lan"})
    found = only(run(*BASE, pool("other", "10.3.0.0/24"), both), "MLB0108")
    assert "which pool lan, which it also asks for, does not hold" in found.message
    assert codes(run(*BASE, service("web", annotations={"metallb.io/loadBalancerIPs": "192.168.10.241"})),
                 "MLB0108") == []  # fmt: skip


# --------------------------------------------------------------------------------------------- native backend


def test_mlb0201_bfd_on_the_native_backend():
    analysis = run(*BASE, obj("BFDProfile", "fast"), peer(bfdProfile="fast"), backend="native")
    found = codes(analysis, "MLB0201")
    assert [f.objects[0] for f in found] == [
        Ref("BFDProfile", "fast", NS),
        Ref("BGPPeer", "router", NS, "spec.bfdProfile"),
    ]
    assert codes(run(*BASE, obj("BFDProfile", "fast"), peer(bfdProfile="fast"), backend="frr-k8s"), "MLB0201") == []


def test_native_rules_skip_without_a_backend():
    analysis = run(*BASE, obj("BFDProfile", "fast"))
    skipped = {o.check.id: o.result.message for o in analysis.skipped}
    assert skipped["MLB0201"] == "MetalLB's BGP backend is not known (no installation found): pass --backend"


def test_mlb0202_ipv6_over_bgp_on_the_native_backend():
    v6 = pool("v6", "fc00::/120")
    found = only(run(*BASE, v6, bgp(ipAddressPools=["v6"]), backend="native"), "MLB0202")
    assert found.objects == (Ref("IPAddressPool", "v6", NS, "spec.addresses[0]"),)
    assert codes(run(*BASE, v6, bgp(ipAddressPools=["lan"]), backend="native"), "MLB0202") == []
    assert codes(run(*BASE, v6, bgp(ipAddressPools=["v6"]), backend="frr"), "MLB0202") == []


def test_mlb0203_frr_only_features_on_the_native_backend():
    analysis = run(
        *BASE,
        peer(vrf="red", keepaliveTime="0s", enableGracefulRestart=True),
        bgp(communities=["large:1:2:3"]),
        obj("Community", "c", communities=[{"name": "big", "value": "large:4:5:6"}]),
        backend="native",
    )
    fields = [f.objects[0].field for f in codes(analysis, "MLB0203")]
    assert fields == ["spec.vrf", "spec.enableGracefulRestart", "spec.communities[0]", "spec.communities[0].value"]
    assert codes(run(*BASE, peer(holdTime="90s"), bgp(communities=["1:2"]), backend="native"), "MLB0203") == []


# --------------------------------------------------------------------------------------------- announcement


def test_mlb0301_pool_nothing_announces():
    found = only(run(*BASE, pool("dark", "10.4.0.0/24")), "MLB0301")
    assert found.level == "warning" and found.objects == (Ref("IPAddressPool", "dark", NS),)
    assert RULES["MLB0301"].shown_by == "config.announced-pools"
    assert codes(run(*BASE, pool("dark", "10.4.0.0/24"), l2("all")), "MLB0301") == []  # empty spec: every pool


def test_mlb0302_node_selectors_select_no_node():
    edge = l2("edge", nodeSelectors=[{"matchLabels": {"edge": "true"}}])
    found = only(run(*BASE, *NODES, edge), "MLB0302")
    assert found.message == (
        "L2Advertisement edge: its nodeSelectors (edge=true) select none of the 2 nodes, so it announces nothing"
    )
    labelled = [node("n1", labels={"edge": "true"})]
    assert codes(run(*BASE, *labelled, edge), "MLB0302") == []
    skipped = {o.check.id for o in run(*BASE, edge).skipped}
    assert "MLB0302" in skipped  # no Node in the files: not decided


def test_mlb0303_only_excluded_nodes():
    nodes = [node("cp", labels={EXCLUDE: "", "role": "cp"}), node("w1")]
    cp_only = l2("cp", nodeSelectors=[{"matchLabels": {"role": "cp"}}])
    found = only(run(*BASE, *nodes, cp_only), "MLB0303")
    assert found.objects == (
        Ref("L2Advertisement", "cp", NS, "spec.nodeSelectors"),
        Ref("Node", "cp", "", f"metadata.labels[{EXCLUDE}]"),
    )
    assert "kubectl label node cp node.kubernetes.io/exclude-from-external-load-balancers-" in found.fix
    single = [node("solo", labels={EXCLUDE: ""})]
    assert len(codes(run(*BASE, *single), "MLB0303")) == 1  # a single-node kubeadm cluster: the default advertisement
    assert codes(run(*BASE, *nodes), "MLB0303") == []  # w1 can announce


def test_mlb0304_interfaces_metallb_never_announces_on():
    analysis = run(*BASE, l2("ifs", interfaces=["eth0", "docker0", "lo"]))
    assert [f.objects[0].field for f in codes(analysis, "MLB0304")] == ["spec.interfaces[1]", "spec.interfaces[2]"]
    found = codes(analysis, "MLB0304")[0]
    assert found.message.endswith("(MetalLB's default metallb-excludel2 ConfigMap)")
    custom = obj("ConfigMap", "metallb-excludel2", api="v1")
    custom["data"] = {"excludel2.yaml": 'announcedInterfacesToExclude: ["^eth1$"]'}
    analysis = run(*BASE, custom, l2("ifs", interfaces=["docker0", "eth1"]))
    assert [f.objects[0].field for f in codes(analysis, "MLB0304")] == ["spec.interfaces[1]"]
    assert codes(run(*BASE, l2("ifs", interfaces=["eth0", "bond0"])), "MLB0304") == []


# --------------------------------------------------------------------------------------------- addresses


def test_mlb0401_objects_outside_metallbs_namespace():
    analysis = run(*BASE, pool("stray", "10.5.0.0/24", ns="metallb"), l2("stray", ns="metallb"))
    assert [str(f.objects[0]) for f in codes(analysis, "MLB0401")] == [
        "IPAddressPool metallb/stray",
        "L2Advertisement metallb/stray",
    ]
    assert codes(run(*BASE), "MLB0401") == []


def test_mlb0402_overlapping_pools_in_any_namespace():
    analysis = run(*BASE, pool("dup", "192.168.10.248/29"), pool("far", "192.168.10.250/32", ns="other"))
    found = codes(analysis, "MLB0402")
    assert found[0].message == (
        "192.168.10.240-192.168.10.250 of IPAddressPool metallb-system/lan overlaps 192.168.10.248/29 of IPAddressPool "
        "metallb-system/dup: MetalLB refuses overlapping pools"
    )
    assert found[0].objects == (
        Ref("IPAddressPool", "lan", NS, "spec.addresses[0]"),
        Ref("IPAddressPool", "dup", NS, "spec.addresses[0]"),
    )
    assert len(found) == 3 and not found[2].message.endswith("refuses overlapping pools")  # other: ignored anyway
    assert codes(run(*BASE, pool("next", "192.168.10.251/32")), "MLB0402") == []


def test_mlb0403_invalid_entries():
    found = codes(run(*BASE, pool("bad", "10.0.0.0/24", "10.1.0.9-10.1.0.1"), pool("empty")), "MLB0403")
    assert [f.objects[0].field for f in found] == ["spec.addresses[1]", "spec.addresses"]
    assert "the start 10.1.0.9 is after the end 10.1.0.1" in found[0].message
    assert codes(run(*BASE, pool("hostbits", "10.0.0.5/24")), "MLB0403") == []  # MetalLB accepts host bits


def test_mlb0404_special_ranges():
    found = codes(run(*BASE, pool("odd", "127.0.0.1/32", "0.0.0.0/0", "fe80::/64", "10.0.0.0/24")), "MLB0404")
    assert [f.objects[0].field for f in found] == ["spec.addresses[0]", "spec.addresses[1]", "spec.addresses[2]"]
    assert "0.0.0.0/0 is every IPv4 address" in found[1].message
    assert codes(run(*BASE), "MLB0404") == []


def test_mlb0405_to_0407_addresses_in_use_elsewhere():
    cidr = obj("ServiceCIDR", "kubernetes", ns=None, api="networking.k8s.io/v1", cidrs=["10.96.0.0/12"])
    pools = [pool("nodes", "192.168.10.0/28"), pool("svc", "10.100.0.0/24"), pool("pods", "10.244.0.128/25")]
    analysis = run(*BASE, *NODES, cidr, *pools)
    assert [f.message.split(":")[1] for f in codes(analysis, "MLB0405")] == [
        ' 192.168.10.0/28 overlaps the InternalIP of node "n1" (192.168.10.11)',
        ' 192.168.10.0/28 overlaps the InternalIP of node "n2" (192.168.10.12)',
    ]
    assert "overlaps the service CIDR (10.96.0.0/12)" in only(analysis, "MLB0406").message
    assert 'overlaps the pod CIDR of node "n1" (10.244.0.0/24)' in only(analysis, "MLB0407").message
    clean = run(*BASE, *NODES, cidr)
    assert [f.code for f in clean.findings] == []


def test_mlb0406_without_servicecidrs_uses_clusterips():
    facts, _ = files.offline_facts([*BASE, pool("svc", "10.96.0.0/28"), service("dns", type="ClusterIP",
                                    clusterIP="10.96.0.10")], NS, False)  # fmt: skip
    facts.objects["servicecidrs"] = None  # an older server that does not serve ServiceCIDR
    found = only(analyze.analyze(analyze.Model(facts)), "MLB0406")
    assert "overlaps the ClusterIP of Service apps/dns (10.96.0.10)" in found.message


# --------------------------------------------------------------------------------------------- bgp


def test_mlb0501_aggregation_length():
    analysis = run(*BASE, bgp("wide", ipAddressPools=["lan"], aggregationLength=24), bgp("v6", aggregationLengthV6=130))
    found = codes(analysis, "MLB0501")
    assert len(found) == 2
    assert any("aggregationLength 24 is less specific than /29 of pool lan" in f.message for f in found)
    assert any("aggregationLengthV6 130 is no IPv6 prefix length" in f.message for f in found)
    assert codes(run(*BASE, bgp("ok", ipAddressPools=["lan"], aggregationLength=29)), "MLB0501") == []


def test_mlb0502_local_preference_conflicts():
    one, two = bgp("one", localPref=100), bgp("two", localPref=200)
    found = only(run(*BASE, *NODES, one, two), "MLB0502")
    assert found.objects == (Ref("BGPAdvertisement", "one", NS, "spec.localPref"),
                             Ref("BGPAdvertisement", "two", NS, "spec.localPref"))  # fmt: skip
    apart = bgp("two", localPref=200, nodeSelectors=[{"matchLabels": {"kubernetes.io/hostname": "n9"}}])
    assert codes(run(*BASE, *NODES, one, apart), "MLB0502") == []  # no common node
    assert codes(run(*BASE, *NODES, bgp("one", localPref=100, peers=["a"]), bgp("two", localPref=200, peers=["b"])),
                 "MLB0502") == []  # fmt: skip
    assert codes(run(*BASE, *NODES, one, bgp("two", localPref=200, aggregationLength=30)), "MLB0502") == []
    assert codes(run(*BASE, *NODES, one, bgp("two", localPref=100)), "MLB0502") == []


def test_mlb0503_duplicate_peers():
    found = only(run(*BASE, *NODES, peer("a"), peer("b")), "MLB0503")
    assert found.level == "warning" and "both peer with 192.0.2.1 from the same nodes" in found.message
    assert codes(run(*BASE, *NODES, peer("a"), peer("b", vrf="red")), "MLB0503") == []
    apart = peer("b", nodeSelectors=[{"matchLabels": {"kubernetes.io/hostname": "n9"}}])
    assert codes(run(*BASE, *NODES, peer("a"), apart), "MLB0503") == []


# --------------------------------------------------------------------------------------------- services


def shared(name, ip=None, key="k", ports=((80, "TCP"),), **spec):
    annotations = {"metallb.io/allow-shared-ip": key, **({"metallb.io/loadBalancerIPs": ip} if ip else {})}
    return service(name, annotations=annotations, ports=ports, **spec)


def test_mlb0601_shared_address_with_colliding_ports():
    found = only(run(*BASE, shared("a", "192.168.10.241"), shared("b", "192.168.10.241", ports=((80, "TCP"), (53, "UDP")))),
                 "MLB0601")  # fmt: skip
    assert found.message == (
        "Services apps/a and apps/b (allow-shared-ip k) ask for 192.168.10.241 and use the same port (80/TCP by apps/a "
        'and apps/b): MetalLB refuses all but the first ("port ... is already in use")'
    )
    udp = shared("b", "192.168.10.241", ports=((80, "UDP"),))
    assert codes(run(*BASE, shared("a", "192.168.10.241"), udp), "MLB0601") == []


def test_mlb0602_shared_address_with_different_backends():
    local = shared("b", "192.168.10.241", ports=((81, "TCP"),), externalTrafficPolicy="Local", selector={"app": "b"})
    found = only(run(*BASE, shared("a", "192.168.10.241"), local), "MLB0602")
    assert (
        "(externalTrafficPolicy Cluster: apps/a; externalTrafficPolicy Local, selector app=b: apps/b)" in found.message
    )
    same = [shared(n, "192.168.10.241", ports=((p, "TCP"),), externalTrafficPolicy="Local", selector={"app": "x"})
            for n, p in (("a", 80), ("b", 81))]  # fmt: skip
    assert codes(run(*BASE, *same), "MLB0602") == []


def test_mlb0603_group_that_cannot_share_gets_separate_addresses():
    found = only(run(*BASE, shared("a"), shared("b")), "MLB0603")
    assert found.level == "warning"
    assert "cannot all share one address: they use the same port (80/TCP by apps/a and apps/b)" in found.message
    group = run(*BASE, shared("a"), shared("b"), shared("c", ports=((443, "TCP"),)), shared("d"))
    found = only(group, "MLB0603")  # one finding for the group, not one per pair
    assert "(80/TCP by apps/a, apps/b and apps/d)" in found.message and len(found.objects) == 4
    assert codes(run(*BASE, shared("a"), shared("b", ports=((443, "TCP"),))), "MLB0603") == []
    assert codes(run(*BASE, shared("a", "192.168.10.241"), shared("b", "192.168.10.242")), "MLB0603") == []


def test_mlb0604_deprecated_annotations():
    found = only(run(*BASE, service("old", annotations={"metallb.universe.tf/allow-shared-ip": "k"})), "MLB0604")
    assert found.fix.startswith("rename it to metallb.io/allow-shared-ip")
    assert codes(run(*BASE, service("new", annotations={"metallb.io/allow-shared-ip": "k"})), "MLB0604") == []


def test_mlb0605_and_mlb0606_load_balancer_ip():
    found = only(run(*BASE, service("old", loadBalancerIP="192.168.10.241")), "MLB0605")
    assert found.fix == (
        "kubectl -n apps annotate service old metallb.io/loadBalancerIPs=192.168.10.241, then remove spec.loadBalancerIP"
    )
    both = service(
        "both", loadBalancerIP="192.168.10.241", annotations={"metallb.io/loadBalancerIPs": "192.168.10.242"}
    )
    analysis = run(*BASE, both)
    assert only(analysis, "MLB0606").level == "error" and codes(analysis, "MLB0605") == []
    assert codes(run(*BASE, service("new")), "MLB0605") == []


def test_mlb0607_classes_metallb_ignores():
    found = only(run(*BASE, service("cilium", loadBalancerClass="io.cilium/l2-announcer", ip="10.0.0.9")), "MLB0607")
    assert found.level == "info" and found.message.startswith(
        "MetalLB ignores Service apps/cilium: its loadBalancerClass"
    )
    assert "its address 10.0.0.9 comes from that implementation" in found.message
    assert codes(run(*BASE, service("web")), "MLB0607") == []


# --------------------------------------------------------------------------------------------- document, files


def test_document_threshold_and_links():
    analysis = run(*BASE, pool("dark", "10.4.0.0/24"))
    doc = analysis.to_document("warning")
    assert doc["success"] is False and doc["counts"] == {"error": 0, "warning": 1, "info": 0}
    assert doc["findings"][0]["documentation"] == f"{HOMEPAGE}/blob/main/docs/analyzers.md#mlb0301"
    assert analysis.to_document("error")["success"] is True
    assert not analysis.reaches("error") and analysis.reaches("warning") and analysis.reaches("info")


def test_findings_sorted_most_severe_first_and_skip():
    analysis = run(*BASE, pool("dark", "10.4.0.0/24"), l2("typo", ipAddressPools=["nope"]))
    assert [f.code for f in analysis.findings] == ["MLB0101", "MLB0301"]
    skipped = run(*BASE, pool("dark", "10.4.0.0/24"), skip={"MLB0301"})
    assert codes(skipped, "MLB0301") == [] and "MLB0301" in {o.check.id for o in skipped.skipped}


def test_offline_snapshot_defaults_namespaces_and_expands_lists():
    listed = {"apiVersion": "v1", "kind": "List", "items": [pool("p", "10.0.0.0/24", ns=None), service("s", ns=None)]}
    unknown = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "x"}}
    foreign = {"apiVersion": "example.com/v1", "kind": "IPAddressPool", "metadata": {"name": "other"}}
    facts, ignored = files.offline_facts([listed, unknown, foreign], NS, False)
    assert facts.objects["ipaddresspools"][0]["metadata"]["namespace"] == NS
    assert facts.objects["services"][0]["metadata"]["namespace"] == "default"
    assert ignored == ["StatefulSet x/db", "IPAddressPool other"]
    assert facts.objects["l2advertisements"] == [] and isinstance(facts.objects["nodes"], Unreadable)


def test_overlay_replaces_and_adds_and_keeps_unreadable():
    facts, _ = files.offline_facts([*BASE, *NODES], NS, False)
    facts.objects["secrets"] = Unreadable("no permission to list Secrets")
    files.overlay(facts, [pool("lan", "10.7.0.0/24"), l2("more"), secret("pw")])
    assert [p["spec"]["addresses"] for p in facts.objects["ipaddresspools"]] == [["10.7.0.0/24"]]
    assert [a["metadata"]["name"] for a in facts.objects["l2advertisements"]] == ["lan", "more"]
    assert isinstance(facts.objects["secrets"], Unreadable)


def test_unreadable_kinds_skip_their_rules_never_pass():
    facts, _ = files.offline_facts(list(BASE), NS, False)
    facts.objects["ipaddresspools"] = Unreadable("no permission to list IPAddressPools in all namespaces")
    analysis = analyze.analyze(analyze.Model(facts))
    skipped = {o.check.id: o.result for o in analysis.skipped}
    assert skipped["MLB0402"].status == SKIP
    assert skipped["MLB0402"].message == "no permission to list IPAddressPools in all namespaces"


def test_every_code_has_its_section_in_the_documentation():
    import os
    import re

    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "analyzers.md")
    with open(path) as handle:
        text = handle.read()
    sections = re.findall(r"^## (MLB\d{4})\n\n\*\*(.+)\*\* \((error|warning|info)\)$", text, re.M)
    assert [code for code, _, _ in sections] == list(analyze.CODES)
    for code, _, level in sections:
        assert RULES[code].level == level, code
    mentioned = set(re.findall(r"MLB\d{4}", text))
    assert mentioned == set(analyze.CODES)


def test_documentation_links_point_at_the_repository_krew_names():
    import os
    import re

    path = os.path.join(os.path.dirname(__file__), "..", "..", ".krew.yaml")
    with open(path) as handle:
        repository = re.search(r'\$repository := "([^"]+)"', handle.read()).group(1)
    assert f"https://github.com/{repository}" == HOMEPAGE
    assert analyze.doc_url("MLB0402") == f"https://github.com/{repository}/blob/main/docs/analyzers.md#mlb0402"


def test_the_overlap_index_finds_what_comparing_every_pair_finds():
    rng = random.Random(7)

    def some_range():
        if rng.random() < 0.2:  # IPv6, and IPv4-mapped addresses that count as IPv4
            return ipam.parse_entry(rng.choice(["2001:db8::/120", "2001:db8::5/128", "::ffff:192.0.2.7/128"]))
        first = rng.randrange(0, 256)
        return ipam.parse_entry(f"192.0.2.{first}-192.0.2.{min(255, first + rng.choice([0, 0, 3, 40, 200]))}")

    for _ in range(50):
        ranges = [some_range() for _ in range(rng.randrange(0, 30))]
        overlapping = addresses._index(ranges)
        for _ in range(10):
            probe = some_range()
            assert overlapping(probe) == [i for i, r in enumerate(ranges) if probe.overlaps(r)]
