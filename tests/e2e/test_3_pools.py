"""kubectl metallb pools on the real MetalLB v0.16.1: use counted from the pool status MetalLB writes, and a delete
guarded by the Services MetalLB gave addresses (which lose them for real when it is forced)."""

import json

import pytest

from helpers import run_plugin

from .support import NS, service_ip, until

APPS = "e2e-pools"
BUSY, OTHER = "198.51.100.176/29", "198.51.100.184/29"


@pytest.fixture(scope="module")
def busy(metallb, admin, kubectl):
    """Pool busy (L2, and BGP through an advertisement shared with pool other) and four Services from it, two of
    them sharing an address."""
    metallb("v0.16.1")
    created = run_plugin("pools", "create", "--yes", "busy", "--addresses", BUSY, "--l2", env=admin)
    assert created.returncode == 0, created.stderr
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "other", "namespace": NS},
         "spec": {"addresses": [OTHER], "autoAssign": False}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
         "metadata": {"name": "shared", "namespace": NS}, "spec": {"ipAddressPools": ["busy", "other"]}}]}))
    kubectl("create", "namespace", APPS)
    shared = {"metallb.io/address-pool": "busy", "metallb.io/allow-shared-ip": "shop"}
    services = [("db", {"metallb.io/address-pool": "busy"}, "TCP", 5432),
                ("cache", {"metallb.io/address-pool": "busy"}, "TCP", 6379),
                ("shop", shared, "TCP", 80), ("shop-udp", shared, "UDP", 53)]
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": APPS, "annotations": notes},
         "spec": {"type": "LoadBalancer", "selector": {"app": "shop"},
                  "ports": [{"port": port, "protocol": protocol}]}} for name, notes, protocol, port in services]}))
    ips = {name: service_ip(kubectl, APPS, name) for name, *_ in services}
    assert ips["shop"] == ips["shop-udp"] and len(set(ips.values())) == 3
    yield ips
    kubectl("delete", "namespace", APPS, "--wait=true", timeout=180)
    for pool in ("busy", "other"):
        run_plugin("pools", "delete", pool, "--yes", "--force", "--overwrite", env=admin)


def pool_status(kubectl, name):
    return json.loads(kubectl("get", "ipaddresspool", name, "-n", NS, "-o", "json")).get("status", {})


def test_list_counts_what_metallb_reports_in_the_pool_status(busy, admin, kubectl):
    until(lambda: pool_status(kubectl, "busy").get("assignedIPv4") == 3, what="MetalLB to count busy's addresses")
    result = run_plugin("pools", "-o", "json", env=admin)
    assert result.returncode == 0, result.stderr
    pools = {p["name"]: p for p in json.loads(result.stdout)["pools"]}
    mine = pools["busy"]
    assert (mine["size"], mine["used"], mine["free"], mine["usedFrom"]) == (8, 3, 5, "status")
    assert sorted(mine["advertised"]) == ["BGP", "L2"]
    assert mine["services"] == [f"{APPS}/cache", f"{APPS}/db", f"{APPS}/shop", f"{APPS}/shop-udp"]
    other = pools["other"]
    assert (other["used"], other["autoAssign"], other["services"]) == (0, False, [])
    table = run_plugin("pools", env=admin).stdout
    assert any(line.split()[:6] == ["busy", BUSY, "8", "3", "5", "true"] for line in table.splitlines()), table


def test_delete_guarded_then_forced(busy, admin, kubectl):
    guarded = run_plugin("pools", "delete", "busy", "--yes", env=admin)
    assert guarded.returncode == 1
    assert guarded.stderr == (f'error: pool "busy" still has addresses in use by 4 Service(s): {APPS}/cache, '
                              f"{APPS}/db, {APPS}/shop, {APPS}/shop-udp. Move or delete them first, or pass --force\n")
    # "shared" is an advertisement of the user's own: deleting the pool changes it only with --overwrite
    refused = run_plugin("pools", "delete", "busy", "--force", "--yes", env=admin)
    assert refused.returncode == 1
    assert (f"error: bgpadvertisement.metallb.io/shared in {NS}: it names pool busy but was not made for it by kubectl "
            "metallb pools create. Nothing was changed; --overwrite changes objects") in refused.stderr
    assert pool_status(kubectl, "busy").get("assignedIPv4") == 3  # still there, still serving
    forced = run_plugin("pools", "delete", "busy", "--force", "--overwrite", "--yes", env=admin)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == ("ipaddresspool.metallb.io/busy deleted\nl2advertisement.metallb.io/busy deleted\n"
                             "bgpadvertisement.metallb.io/shared changed\n")
    assert "--force: 4 Service(s) lose their address" in forced.stderr
    assert json.loads(kubectl("get", "bgpadvertisement", "shared", "-n", NS, "-o", "json"))["spec"][
        "ipAddressPools"] == ["other"]
    # and they do: MetalLB's controller takes the addresses back and says why it cannot give new ones
    until(lambda: not json.loads(kubectl("get", "service", "db", "-n", APPS, "-o", "json"))["status"].get(
        "loadBalancer", {}).get("ingress"), what="MetalLB to withdraw db's address")
    explained = run_plugin("status", "--service", f"{APPS}/db", env=admin)
    assert explained.returncode == 1
    assert f'Failed to allocate IP for "{APPS}/db": unknown pool "busy"' in explained.stdout
