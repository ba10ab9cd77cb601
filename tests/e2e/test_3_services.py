"""What the real MetalLB v0.16.1 decides, and how the plugin explains it: webhook denials, AllocationFailed,
Services without endpoints, pools nothing announces."""

import ipaddress
import json

import pytest

from helpers import run_plugin

from .support import NS, service_ip, until

POOL, RANGE = "services", "198.51.100.224/29"


@pytest.fixture(scope="module")
def pool(metallb, admin):
    metallb("v0.16.1")
    result = run_plugin("pools", "create", "--yes", POOL, "--addresses", RANGE, "--l2", env=admin)
    assert result.returncode == 0, result.stderr
    yield POOL
    run_plugin("pools", "delete", POOL, "--yes", "--force", env=admin)


def warning_events(kubectl, namespace, name):
    events = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json",
                                "--field-selector", f"involvedObject.name={name},type=Warning"))["items"]
    return [(e["reason"], e["message"]) for e in events]


def explain(admin, namespace, name, *extra):
    return run_plugin("status", "--service", f"{namespace}/{name}", *extra, env=admin)


def test_the_real_webhook_denies_what_metallb_rejects_and_the_plugin_says_so(pool, admin, kubectl):
    duplicate = run_plugin("pools", "create", "--yes", "twice", "--addresses", "198.51.100.208/30", "--namespaces", "a,a",
                           env=admin)
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip().splitlines()[-1] == (
        f"error: ipaddresspool.metallb.io/twice in {NS}: MetalLB rejected it: parsing address pool twice: duplicate "
        "definition in namespaces field. Nothing was changed")
    kubectl("create", "namespace", "e2e-elsewhere")
    try:
        elsewhere = run_plugin("pools", "create", "--yes", "elsewhere", "-n", "e2e-elsewhere", "--addresses",
                               "198.51.100.212/30", "--l2", env=admin)
        assert elsewhere.returncode == 1
        assert elsewhere.stderr.strip().splitlines()[-1] == (  # both were dry-run: both are named
            "error: 2 objects cannot be written: ipaddresspool.metallb.io/elsewhere in e2e-elsewhere: MetalLB "
            "rejected it: resource must be created in metallb-system namespace; l2advertisement.metallb.io/elsewhere "
            "in e2e-elsewhere: MetalLB rejected it: resource must be created in metallb-system namespace. Nothing "
            "was changed")
    finally:
        kubectl("delete", "namespace", "e2e-elsewhere", "--wait=false")
    # nothing was left behind by the refused creations
    pools = kubectl("get", "ipaddresspools", "-A", "-o", "name").split()
    assert pools.count(f"ipaddresspool.metallb.io/{POOL}") == 1 and len([p for p in pools if "twice" in p]) == 0


def test_a_healthy_service_step_by_step(pool, admin, kubectl, web, namespace, lan):
    web(namespace, "shop", replicas=2, annotations={"metallb.io/address-pool": POOL})
    ip = service_ip(kubectl, namespace, "shop")
    macs = {lan.mac(node): node for node in ("node-a", "node-b")}
    owner = macs[lan.wait_for(ip, set(macs), timeout=30)]
    # served as soon as one Pod is ready: wait for the second one too, whose readiness may come later
    result = until(lambda: (r := explain(admin, namespace, "shop")).returncode == 0
                   and "√ endpoints: 2 ready on" in r.stdout and r, timeout=30,
                   what="the Service to be reported served, with both Pods ready")
    out = result.stdout
    assert f"√ address: {ip} from pool {POOL}" in out
    assert f'      event Normal IPAllocated: Assigned IP ["{ip}"]' in out
    assert f'      event Normal nodeAssigned: announcing from node "{owner}" with protocol "layer2"' in out
    assert f"√ announced by {owner} (layer2)" in out
    doc = json.loads(run_plugin("status", "-o", "json", env=admin).stdout)
    row = next(s for s in doc["services"] if (s["namespace"], s["name"]) == (namespace, "shop"))
    assert row["announcedBy"] == [{"node": owner, "protocol": "layer2", "source": "ServiceL2Status"}]


def test_an_unknown_pool_is_explained_with_metallbs_own_event(pool, admin, kubectl, web, namespace):
    web(namespace, "nopool", annotations={"metallb.io/address-pool": "does-not-exist"})
    message = f'Failed to allocate IP for "{namespace}/nopool": unknown pool "does-not-exist"'
    until(lambda: ("AllocationFailed", message) in warning_events(kubectl, namespace, "nopool"),
          what="MetalLB's AllocationFailed event")
    result = explain(admin, namespace, "nopool")
    assert result.returncode == 1
    assert f"event Warning AllocationFailed: {message}" in result.stdout
    assert f'Most likely cause: no IPAddressPool can serve it: {POOL}: the Service asks for pool "does-not-exist"' \
        in result.stdout
    assert "Fix: create pool does-not-exist in metallb-system or fix the metallb.io/address-pool annotation" \
        in result.stdout


def test_an_address_outside_every_pool_is_explained_with_metallbs_own_event(pool, admin, kubectl, web, namespace):
    web(namespace, "outside", annotations={"metallb.io/loadBalancerIPs": "192.0.2.77"})
    message = f'Failed to allocate IP for "{namespace}/outside": ["192.0.2.77"] is not allowed in config'
    until(lambda: ("AllocationFailed", message) in warning_events(kubectl, namespace, "outside"),
          what="MetalLB's AllocationFailed event")
    result = explain(admin, namespace, "outside", "-o", "json")
    doc = json.loads(result.stdout)
    assert result.returncode == 1 and doc["state"] == "pending"
    assert doc["cause"] == {"summary": f"no IPAddressPool can serve it: {POOL}: requested address 192.0.2.77 is "
                                       "not in this pool",
                            "fix": "request an address inside a pool, or add it to one"}
    row = next(s for s in json.loads(run_plugin("status", "-o", "json", env=admin).stdout)["services"]
               if (s["namespace"], s["name"]) == (namespace, "outside"))
    assert row["state"] == "pending" and row["reason"] == f"AllocationFailed: {message}"


def test_a_service_without_endpoints_gets_an_address_but_no_announcement(pool, admin, kubectl, namespace, lan):
    kubectl("create", "service", "loadbalancer", "idle", "--tcp=80:8080", "-n", namespace)  # selects no Pod
    ip = service_ip(kubectl, namespace, "idle")
    assert lan.who_has(ip, timeout=1.0) is None  # MetalLB does not answer for it
    result = explain(admin, namespace, "idle")
    assert result.returncode == 1
    assert "× endpoints: none ready" in result.stdout
    assert ("Most likely cause: the Service has no ready endpoints, and MetalLB only announces Services that have "
            "some") in result.stdout


def test_a_pool_nothing_announces(pool, admin, kubectl, web, namespace, lan):
    created = run_plugin("pools", "create", "--yes", "dark", "--addresses", "198.51.100.232/30", "--no-auto-assign",
                         env=admin)
    assert created.returncode == 0, created.stderr
    try:
        web(namespace, "hidden", annotations={"metallb.io/address-pool": "dark"})
        ip = service_ip(kubectl, namespace, "hidden")
        assert lan.who_has(ip, timeout=1.0) is None
        result = explain(admin, namespace, "hidden")
        assert result.returncode == 1
        assert "× advertisements for pool dark: none" in result.stdout
        assert "Most likely cause: pool dark is not announced: no L2Advertisement or BGPAdvertisement covers it" \
            in result.stdout
    finally:
        kubectl("delete", "service", "hidden", "-n", namespace, "--wait=true")
        run_plugin("pools", "delete", "dark", "--yes", "--force", env=admin)
    assert "dark" not in kubectl("get", "ipaddresspools", "-n", NS, "-o", "name")


def test_pools_create_warns_about_node_addresses_and_pod_cidrs(pool, admin, kubectl):
    node = json.loads(kubectl("get", "node", "node-a", "-o", "json"))
    pod_cidr = node["spec"]["podCIDR"]  # allocated by the controller-manager
    first = ipaddress.ip_network(pod_cidr)[2]
    inside = f"{first}-{first + 3}"
    result = run_plugin("pools", "create", "--yes", "risky", "--addresses", f"198.51.100.8/29,{inside}", "--l2", "--dry-run",
                        env=admin)
    assert result.returncode == 0, result.stderr
    assert ('warning: 198.51.100.8/29 overlaps the InternalIP of node "node-a" (198.51.100.11): MetalLB would hand '
            "out addresses that are already in use") in result.stderr
    assert f'warning: {inside} overlaps the pod CIDR of node "node-a" ({pod_cidr})' in result.stderr
    assert "(server dry run)" in result.stdout  # the real webhook saw it and allowed it; nothing was written
    assert "risky" not in kubectl("get", "ipaddresspools", "-n", NS, "-o", "name")
