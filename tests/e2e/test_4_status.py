"""kubectl metallb status on the real MetalLB v0.16.1: every fact it reports was written by MetalLB, the controllers
or the kubelets (kwok, the kubelet stand-in), never by the test."""

import json
import threading

import pytest
import yaml

from helpers import run_plugin

from .support import service_ip, until

APPS = "e2e-status"
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


@pytest.fixture(scope="module")
def apps(metallb, kubectl, admin):
    metallb("v0.16.1")
    kubectl("create", "namespace", APPS)
    yield APPS
    kubectl("label", "node", "node-a", f"{EXCLUDE}-", check=False)
    kubectl("delete", "namespace", APPS, "--wait=true", timeout=180)
    for pool in ("status", "tiny", "late"):
        run_plugin("pools", "delete", pool, "--yes", "--force", env=admin)


def status(admin, *args):
    return run_plugin("status", *args, env=admin)


def status_json(admin, *args):
    result = status(admin, "-o", "json", *args)
    return result, json.loads(result.stdout)


def row(doc, name):
    return next(s for s in doc["services"] if (s["namespace"], s["name"]) == (APPS, name))


def events(kubectl, name):
    found = json.loads(kubectl("get", "events", "-n", APPS, "-o", "json",
                               "--field-selector", f"involvedObject.name={name}"))["items"]
    return [(e["reason"], e["message"]) for e in found]


def test_no_pools_at_all(apps, admin, kubectl, web):
    assert kubectl("get", "ipaddresspools", "-A", "-o", "name") == ""
    web(APPS, "lonely")
    result, doc = status_json(admin)
    assert result.returncode == 1
    assert row(doc, "lonely")["reason"] == ("there is no IPAddressPool in metallb-system (MetalLB records no event "
                                            "in that case)")
    assert not [e for e in events(kubectl, "lonely") if e[0] in ("AllocationFailed", "IPAllocated")]
    explained = status(admin, "--service", f"{APPS}/lonely")
    assert explained.returncode == 1
    assert "Fix: kubectl metallb pools create NAME --addresses RANGE --l2" in explained.stdout


def test_healthy_install_with_an_assigned_service(apps, admin, kubectl):
    created = run_plugin("pools", "create", "--yes", "status", "--addresses", "198.51.100.192/29", "--l2", env=admin)
    assert created.returncode == 0, created.stderr
    ip = service_ip(kubectl, APPS, "lonely")  # MetalLB serves the waiting Service as soon as a pool exists
    owner = until(lambda: row(status_json(admin)[1], "lonely")["announcedBy"], what="an announcement")[0]["node"]
    result = status(admin)
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert out.startswith("MetalLB v0.16.1 in metallb-system (manifest, native BGP backend)")
    assert "√ controller Deployment controller: 1/1 available" in out
    assert "√ speaker DaemonSet speaker: ready on 2/2 nodes, 2/2 up to date" in out
    assert "√ webhook Service metallb-webhook-service: 1 ready endpoint" in out
    assert "√ ValidatingWebhookConfiguration metallb-webhook-configuration has a CA bundle (6 webhooks)" in out
    assert "√ Secret memberlist has secretkey" in out
    assert "√ configuration valid (3 components: Valid)" in out  # the controller's and both speakers' states
    line = next(line for line in out.splitlines() if line.startswith(APPS))
    assert line.split()[1:5] == ["lonely", "assigned", ip, "status"]
    assert f"{owner} (layer2)" in line
    assert out.rstrip().endswith("MetalLB is healthy")
    result, doc = status_json(admin)
    assert doc["verdict"] == "healthy" and doc["problems"] == []
    assert doc["components"]["controller"] == {"name": "controller", "desired": 1, "ready": 1, "updated": 1,
                                               "available": 1}
    assert set(doc) == {"namespace", "installation", "verdict", "summary", "components", "configuration",
                        "services", "bgp", "checks", "problems"}
    assert doc["bgp"] is None  # no BGPPeer: no BGP section
    result = status(admin, "-o", "yaml")
    assert result.returncode == 0 and yaml.safe_load(result.stdout)["verdict"] == "healthy"


def test_pending_services_each_with_the_reason_metallb_gave(apps, admin, kubectl, web):
    created = run_plugin("pools", "create", "--yes", "tiny", "--addresses", "198.51.100.200/32", "--l2", "--no-auto-assign",
                         env=admin)
    assert created.returncode == 0, created.stderr
    web(APPS, "first", annotations={"metallb.io/address-pool": "tiny"})
    service_ip(kubectl, APPS, "first")
    web(APPS, "full", annotations={"metallb.io/address-pool": "tiny"})
    web(APPS, "badpool", annotations={"metallb.io/address-pool": "nope"})
    web(APPS, "classy", loadBalancerClass="example.com/other-lb")
    until(lambda: all(any(r == "AllocationFailed" for r, _ in events(kubectl, n)) for n in ("full", "badpool")),
          what="MetalLB's AllocationFailed events")
    result, doc = status_json(admin)
    assert result.returncode == 1
    full = row(doc, "full")
    assert full["state"] == "pending"
    assert full["reason"].startswith(f'AllocationFailed: Failed to allocate IP for "{APPS}/full": ')
    assert row(doc, "badpool")["hint"] == ("the metallb.io/address-pool annotation names a pool that does not exist "
                                           "in metallb-system")
    assert row(doc, "classy")["state"] == "ignored" and row(doc, "classy")["problem"] is None
    assert "services.pending" in {p["id"] for p in doc["problems"]}
    text = status(admin).stdout
    assert "√ 1 Service left to other implementations (loadBalancerClass)" in text
    explained = status(admin, "--service", f"{APPS}/classy")
    assert explained.returncode == 1
    assert ("Most likely cause: MetalLB does not handle it: its loadBalancerClass example.com/other-lb belongs to "
            "another load balancer") in explained.stdout


def test_deprecated_annotations_and_a_node_excluded_from_announcing(apps, admin, kubectl, web):
    kubectl("label", "node", "node-a", f"{EXCLUDE}=")
    web(APPS, "legacy", annotations={"metallb.universe.tf/allow-shared-ip": "k", "metallb.io/address-pool": "status"})
    ip = service_ip(kubectl, APPS, "legacy")
    result = until(lambda: (r := status(admin, "--service", f"{APPS}/legacy")).returncode == 0 and r, timeout=30,
                   what="the Service to be served")
    out = result.stdout
    assert "      deprecated annotations (use metallb.io/): metallb.universe.tf/allow-shared-ip" in out
    assert "√ nodes that may announce it: 1 of 2" in out
    assert f"      × node-a: labelled {EXCLUDE} (the speaker's --ignore-exclude-lb is off)" in out
    assert f"Most likely cause: none: MetalLB assigned {ip} and node-b announces it" in out


def test_local_traffic_policy_with_endpoints_only_on_an_excluded_node(apps, admin, kubectl, web):
    web(APPS, "local", node="node-a", externalTrafficPolicy="Local",
        annotations={"metallb.io/address-pool": "status"})
    service_ip(kubectl, APPS, "local")
    result = status(admin, "--service", f"{APPS}/local", "-o", "json")
    doc = json.loads(result.stdout)
    assert result.returncode == 1 and doc["ok"] is False
    assert doc["cause"]["summary"] == (
        f"no node may announce it: node-a: labelled {EXCLUDE} (the speaker's --ignore-exclude-lb is off); node-b: no "
        "ready endpoint (externalTrafficPolicy Local)")
    kubectl("label", "node", "node-a", f"{EXCLUDE}-")


def test_wait_for_one_service_to_be_served(apps, admin, web):
    web(APPS, "late", annotations={"metallb.io/address-pool": "late"})

    def pool_arrives():
        run_plugin("pools", "create", "--yes", "late", "--addresses", "198.51.100.204/30", "--l2", env=admin)

    timer = threading.Timer(3, pool_arrives)
    timer.start()
    try:
        result = status(admin, "--service", f"{APPS}/late", "--wait", "--timeout", "90s")
    finally:
        timer.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.splitlines()[0].startswith(f"waiting for Service {APPS}/late to be served: ")
    assert "Most likely cause: none: MetalLB assigned 198.51.100.204 and" in result.stdout


def test_service_lookup_errors_and_the_wrong_namespace(apps, admin, kubectl):
    kubectl("create", "service", "clusterip", "plain", "--tcp=80:80", "-n", APPS)
    result = status(admin, "--service", f"{APPS}/plain")
    assert result.returncode == 1
    assert f"Most likely cause: {APPS}/plain is of type ClusterIP; MetalLB only serves type LoadBalancer" \
        in result.stdout
    missing = status(admin, "--service", f"{APPS}/nothing")
    assert missing.returncode == 1 and missing.stderr.strip() == f"error: Service {APPS}/nothing not found"
    result, doc = status_json(admin, "-n", "default")
    assert result.returncode == 1 and doc["installation"] is None
    assert doc["problems"][0]["message"] == ("no MetalLB in namespace default (-n); found one in metallb-system: use "
                                             "-n metallb-system or leave -n out")


def test_permissions(apps, admin, full_cluster):
    # a read-only user sees everything status needs: the same report as the admin's
    reader = run_plugin("status", "-o", "json", "--kubeconfig", full_cluster.kubeconfig("reader"))
    assert reader.stderr == ""
    as_admin = status_json(admin)[1]
    assert json.loads(reader.stdout)["services"] == as_admin["services"]
    assert json.loads(reader.stdout)["verdict"] == as_admin["verdict"]
    # one who may read nothing gets a report whose verdict is unknown, with the reason
    nobody = run_plugin("status", "--kubeconfig", full_cluster.kubeconfig("nobody"))
    assert nobody.returncode == 1, nobody.stderr
    assert ("MetalLB's health is unknown: no permission to list Deployments in namespace metallb-system"
            in nobody.stdout)
