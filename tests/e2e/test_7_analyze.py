"""`kubectl metallb analyze` agrees with the real MetalLB v0.16.1 (native backend): for each configuration where
MetalLB has a verdict, the test makes MetalLB give it (its webhook denies the object with that reason, its
controller marks the configuration Invalid in ConfigurationState, it fails an allocation with AllocationFailed, or
it accepts everything and never announces the address) and checks that the analyzer reports the matching code.
Where the analyzer is stricter than MetalLB (node addresses in a pool), MetalLB's acceptance is shown too."""

import json
import subprocess

import pytest
import yaml

from helpers import run_plugin

from .conftest import KUBECTL
from .support import NS, service_ip, until

APPS = "e2e-analyze"
LAN, LAN_RANGE = "an-lan", "198.51.100.128/28"  # this module's addresses: 198.51.100.128-191


def pool(name, *addresses, namespace=NS):
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": name, "namespace": namespace},
            "spec": {"addresses": list(addresses)}}


def advertisement(kind, name, **spec):
    return {"apiVersion": "metallb.io/v1beta1", "kind": kind, "metadata": {"name": name, "namespace": NS}, "spec": spec}


def peer(name, **spec):
    return {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": name, "namespace": NS},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1", **spec}}


def service(name, annotations=None, ports=(80,), **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": APPS,
                                                                  "annotations": annotations or {}},
            "spec": {"type": "LoadBalancer", "selector": {"app": name},
                     "ports": [{"name": f"p{p}", "port": p} for p in ports], **spec}}


@pytest.fixture(scope="module")
def cluster(metallb, full_cluster, kubectl, admin):
    metallb("v0.16.1")
    kubectl("create", "namespace", APPS)
    result = run_plugin("pools", "create", "--yes", LAN, "--addresses", LAN_RANGE, "--l2", env=admin)
    assert result.returncode == 0, result.stderr
    yield full_cluster
    kubectl("delete", "namespace", APPS, "--wait=true", timeout=180)
    run_plugin("pools", "delete", LAN, "--yes", "--force", env=admin)


def apply(cluster, *objects):
    """kubectl apply of these objects: the CompletedProcess (the webhook's denial is in stderr)."""
    text = yaml.safe_dump_all(objects)
    return subprocess.run([KUBECTL, "--kubeconfig", cluster.kubeconfig("admin"), "apply", "-f", "-"], input=text,
                          capture_output=True, text=True, timeout=60)


def delete(kubectl, *objects):
    kubectl("delete", "--ignore-not-found", "--wait=true", "-f", "-", input=yaml.safe_dump_all(objects), timeout=120)


def analyze(admin, *args):
    result = run_plugin("analyze", "-o", "json", *args, env=admin)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def findings(doc, code):
    return [f for f in doc["findings"] if f["code"] == code]


def warning_events(kubectl, name, reason):
    events = json.loads(kubectl("get", "events", "-n", APPS, "-o", "json", "--field-selector",
                                f"involvedObject.name={name},reason={reason}"))["items"]
    return [e["message"] for e in events]


def config_state(kubectl):
    """("Invalid" and the error summaries when a MetalLB component rejects the configuration, else "Valid"). The
    speakers (speaker-NODE) read peers, BFD profiles and communities; the controller only pools."""
    states = json.loads(kubectl("get", "configurationstates", "-n", NS, "-o", "json"))["items"]
    invalid = [s["status"].get("errorSummary", "") for s in states if s.get("status", {}).get("result") == "Invalid"]
    if invalid:
        return "Invalid", " | ".join(invalid)
    return ("Valid" if states and all(s.get("status", {}).get("result") == "Valid" for s in states) else "Unknown"), ""


# --------------------------------------------------------------------------------------------- denied by the webhook

DENIED = {
    "MLB0402": ([pool("an-overlap", "198.51.100.130/32")], "overlaps with already defined CIDR"),
    # Go reads an IPv4-mapped IPv6 CIDR as the IPv4 CIDR it maps: 198.51.100.128/28, the module's pool
    "MLB0402 ipv4-mapped": ([pool("an-mapped", "::ffff:198.51.100.128/124")], "overlaps with already defined CIDR"),
    "MLB0401": ([pool("an-elsewhere", "198.51.100.150/32", namespace=APPS)],
                "resource must be created in metallb-system namespace"),
    "MLB0403": ([pool("an-backwards", "198.51.100.140-198.51.100.135")], "is after the end IP"),
    "MLB0501": ([advertisement("BGPAdvertisement", "an-wide", ipAddressPools=[LAN], aggregationLength=24)],
                "invalid aggregation length 24: prefix 28 in this pool is more specific than the aggregation length"),
    "MLB0203": ([peer("an-vrf", vrf="red")], "has vrf set on native bgp mode"),
}


@pytest.mark.parametrize("case", sorted(DENIED))
def test_what_the_webhook_denies_the_analyzer_reports_before_it_is_applied(cluster, admin, kubectl, tmp_path, case):
    objects, reason = DENIED[case]
    code = case.split()[0]
    denied = apply(cluster, *objects)
    assert denied.returncode != 0 and "denied the request" in denied.stderr and reason in denied.stderr, denied.stderr
    change = tmp_path / "change.yaml"
    change.write_text(yaml.safe_dump_all(objects))
    doc = analyze(admin, "-f", str(change), "--overlay")
    assert findings(doc, code), (code, [f["message"] for f in doc["findings"]])
    assert doc["metallb"] == {"version": "v0.16.1", "backend": "native"}


def test_ipv6_over_bgp_on_the_native_backend(cluster, admin, kubectl, tmp_path):
    v6 = pool("an-v6", "2001:db8:1::/120")
    assert apply(cluster, v6).returncode == 0  # no BGPAdvertisement announces it yet
    try:
        ad = advertisement("BGPAdvertisement", "an-v6", ipAddressPools=["an-v6"])
        denied = apply(cluster, ad)
        assert denied.returncode != 0
        assert 'pool "an-v6" has ipv6 CIDR 2001:db8:1::/120, native bgp mode does not support ipv6' in denied.stderr
        change = tmp_path / "ad.yaml"
        change.write_text(yaml.safe_dump(ad))
        found = findings(analyze(admin, "-f", str(change), "--overlay"), "MLB0202")
        assert found[0]["objects"] == [{"kind": "IPAddressPool", "namespace": NS, "name": "an-v6",
                                        "field": "spec.addresses[0]"}]
    finally:
        delete(kubectl, v6)


def test_conflicting_local_preferences(cluster, admin, kubectl, tmp_path):
    first = advertisement("BGPAdvertisement", "an-pref1", ipAddressPools=[LAN], localPref=100)
    assert apply(cluster, first).returncode == 0
    try:
        second = advertisement("BGPAdvertisement", "an-pref2", ipAddressPools=[LAN], localPref=200)
        denied = apply(cluster, second)
        assert denied.returncode != 0 and "invalid local preference 200" in denied.stderr, denied.stderr
        change = tmp_path / "ad.yaml"
        change.write_text(yaml.safe_dump(second))
        found = findings(analyze(admin, "-f", str(change), "--overlay"), "MLB0502")
        assert [o["name"] for o in found[0]["objects"]] == ["an-pref1", "an-pref2"]
        assert findings(analyze(admin), "MLB0502") == []  # as applied, the cluster has no conflict
    finally:
        delete(kubectl, first)


# --------------------------------------------------------------------------------------------- ConfigurationState

INVALID = {
    "MLB0103": ([peer("an-bfd-peer", bfdProfile="an-missing")], "bfd-profile set on native bgp mode"),
    "MLB0201": ([{"apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile", "metadata": {"name": "an-bfd",
                                                                                      "namespace": NS}}],
                "bfd profiles section set"),
    "MLB0105": ([peer("an-secret-peer", passwordSecret={"name": "an-no-such-secret"})], "secret ref not found"),
    "MLB0104": ([advertisement("BGPAdvertisement", "an-alias", ipAddressPools=[LAN], communities=["an-alias"])],
                "an-alias"),
}


@pytest.mark.parametrize("code", sorted(INVALID))
def test_what_the_controller_rejects_the_analyzer_reports(cluster, admin, kubectl, code):
    objects, reason = INVALID[code]
    assert config_state(kubectl)[0] == "Valid"
    applied = apply(cluster, *objects)
    assert applied.returncode == 0, applied.stderr  # the webhook lets it through
    try:
        result, summary = until(lambda: (s := config_state(kubectl))[0] == "Invalid" and s, timeout=30,
                                what="MetalLB's ConfigurationState to turn Invalid")
        assert reason in summary, summary
        doc = analyze(admin)
        assert findings(doc, code), [f["message"] for f in doc["findings"]]
        status = json.loads(run_plugin("status", "-o", "json", env=admin).stdout)
        analyzer = next(c for cat in status["checks"]["categories"] for c in cat["checks"] if c["id"] == "config.analyzer")
        assert analyzer["result"] == "fail" and any(d.startswith(code) for d in analyzer["details"])
    finally:
        delete(kubectl, *objects)
        until(lambda: config_state(kubectl)[0] == "Valid", timeout=30, what="the configuration to be Valid again")


# --------------------------------------------------------------------------------------------- AllocationFailed

def test_what_the_controller_cannot_allocate_the_analyzer_reports(cluster, admin, kubectl):
    services = [
        service("nopool", {"metallb.io/address-pool": "an-no-such-pool"}),
        service("outside", {"metallb.io/loadBalancerIPs": "198.51.100.190"}),
        service("share-a", {"metallb.io/allow-shared-ip": "k", "metallb.io/loadBalancerIPs": "198.51.100.131"}),
        service("share-b", {"metallb.io/allow-shared-ip": "k", "metallb.io/loadBalancerIPs": "198.51.100.131"}),
        service("mixed-a", {"metallb.io/allow-shared-ip": "m", "metallb.io/loadBalancerIPs": "198.51.100.132"}),
        service("mixed-b", {"metallb.io/allow-shared-ip": "m", "metallb.io/loadBalancerIPs": "198.51.100.132"},
                ports=(81,), externalTrafficPolicy="Local"),
        service("both", {"metallb.io/loadBalancerIPs": "198.51.100.133"}, loadBalancerIP="198.51.100.134"),
        service("old", {"metallb.universe.tf/address-pool": LAN}),
    ]
    assert apply(cluster, *services).returncode == 0
    expected = {
        ("nopool", "AllocationFailed"): 'unknown pool "an-no-such-pool"',
        ("outside", "AllocationFailed"): '["198.51.100.190"] is not allowed in config',
        ("both", "AllocationFailed"): "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP",
        ("old", "deprecatedAnnotation"): "Service uses deprecated annotation metallb.universe.tf/address-pool",
    }
    for (name, reason), text in expected.items():
        until(lambda: any(text in m for m in warning_events(kubectl, name, reason)), what=f"{reason} for {name}")
    port = until(lambda: [m for n in ("share-a", "share-b") for m in warning_events(kubectl, n, "AllocationFailed")],
                 what="AllocationFailed for the second Service on 198.51.100.131")
    assert "is already in use on" in port[0]
    backend = until(lambda: [m for n in ("mixed-a", "mixed-b") for m in warning_events(kubectl, n, "AllocationFailed")],
                    what="AllocationFailed for the second Service on 198.51.100.132")
    # MetalLB's backend check fails, and it words the refusal as a change of the address's sharing key
    assert "can't change sharing key for" in backend[0] and "address also in use by" in backend[0]
    doc = analyze(admin)
    about = {(f["code"], o["name"]) for f in doc["findings"] for o in f["objects"] if o["namespace"] == APPS}
    assert {("MLB0107", "nopool"), ("MLB0108", "outside"), ("MLB0601", "share-a"), ("MLB0601", "share-b"),
            ("MLB0602", "mixed-a"), ("MLB0602", "mixed-b"), ("MLB0606", "both"), ("MLB0604", "old")} <= about
    delete(kubectl, *services)


# --------------------------------------------------------------------------------------------- accepted, never announced

def l2_statuses(kubectl, name):
    items = json.loads(kubectl("get", "servicel2statuses", "-n", NS, "-l", f"metallb.io/service-name={name}",
                               "-o", "json"))["items"]
    return [i["status"].get("node") for i in items if i["status"].get("serviceNamespace") == APPS]


def test_configurations_metallb_accepts_but_never_announces(cluster, admin, kubectl, web, lan):
    objects = [
        pool("an-dark", "198.51.100.144/29"),
        advertisement("L2Advertisement", "an-typo", ipAddressPools=["an-darkk"]),
        pool("an-nowhere", "198.51.100.152/29"),
        advertisement("L2Advertisement", "an-nowhere", ipAddressPools=["an-nowhere"],
                      nodeSelectors=[{"matchLabels": {"an.example.com/role": "edge"}}]),
        pool("an-cp", "198.51.100.160/29"),
        advertisement("L2Advertisement", "an-cp", ipAddressPools=["an-cp"],
                      nodeSelectors=[{"matchLabels": {"kubernetes.io/hostname": "node-a"}}]),
        pool("an-ifs", "198.51.100.168/29"),
        advertisement("L2Advertisement", "an-ifs", ipAddressPools=["an-ifs"], interfaces=["an-missing0"]),
    ]
    kubectl("label", "node", "node-a", "node.kubernetes.io/exclude-from-external-load-balancers=")
    applied = apply(cluster, *objects)
    assert applied.returncode == 0, applied.stderr
    try:
        for name, pool_name in (("dark", "an-dark"), ("nowhere", "an-nowhere"), ("cponly", "an-cp"),
                                ("ifs", "an-ifs"), ("control", LAN)):
            web(APPS, name, annotations={"metallb.io/address-pool": pool_name})
        control = service_ip(kubectl, APPS, "control")
        lan.wait_for(control, {lan.mac("node-b")}, timeout=30)  # MetalLB announces: node-a is excluded
        until(lambda: warning_events(kubectl, "ifs", "announceFailed"), what="MetalLB's announceFailed for ifs")
        for name in ("dark", "nowhere", "cponly", "ifs"):
            ip = service_ip(kubectl, APPS, name)
            assert l2_statuses(kubectl, name) == [] and lan.who_has(ip) is None, name  # assigned, never announced
        doc = analyze(admin)
        refs = {(f["code"], o["kind"], o["name"]) for f in doc["findings"] for o in f["objects"]}
        assert {("MLB0301", "IPAddressPool", "an-dark"), ("MLB0101", "L2Advertisement", "an-typo"),
                ("MLB0302", "L2Advertisement", "an-nowhere"), ("MLB0303", "L2Advertisement", "an-cp"),
                ("MLB0304", "Service", "ifs")} <= refs
        explained = json.loads(run_plugin("status", "--service", f"{APPS}/nowhere", "-o", "json", env=admin).stdout)
        assert explained["cause"]["summary"].startswith(
            "MLB0302 L2Advertisement an-nowhere: its nodeSelectors (an.example.com/role=edge) select none of the 2 nodes")
        assert "remove the label" not in explained["cause"]["fix"]
        explained = json.loads(run_plugin("status", "--service", f"{APPS}/ifs", "-o", "json", env=admin).stdout)
        assert explained["cause"]["summary"].startswith(f"MLB0304 Service {APPS}/ifs is not announced: node ")
    finally:
        kubectl("label", "node", "node-a", "node.kubernetes.io/exclude-from-external-load-balancers-")
        kubectl("delete", "services,deployments", "--all", "-n", APPS, "--wait=true", timeout=120)
        delete(kubectl, *objects)


def test_where_the_analyzer_is_stricter_than_metallb(cluster, admin, kubectl):
    """A pool holding a node's address: MetalLB v0.16.1 accepts it (v0.15.0's check was reverted); the analyzer
    warns, as MetalLB would hand the node's own address to a Service."""
    node_pool = pool("an-node", "198.51.100.11/32")
    applied = apply(cluster, node_pool)
    try:
        assert applied.returncode == 0, applied.stderr
        found = findings(analyze(admin), "MLB0405")
        assert found and found[0]["level"] == "warning" and 'the InternalIP of node "node-a"' in found[0]["message"]
    finally:
        delete(kubectl, node_pool)
