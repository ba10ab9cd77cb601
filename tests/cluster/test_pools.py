"""kubectl metallb pools, end to end on the shared API server with the real v0.16.1 metallb.io CRDs.

No MetalLB controller runs here: where MetalLB would assign an address, the test writes the Service's
status.loadBalancer.ingress and the metallb.io/ip-allocated-from-pool annotation itself, as the controller does,
for what the real MetalLB on the full cluster cannot show: dual-stack assignments (that cluster is IPv4 only),
Services without the annotation (releases before it existed), and many Services for a request count. Use counted
from MetalLB's own pool status and a delete guarded by real assignments are tested there (tests/e2e/test_3_pools.py).
Every MetalLB object lives in a namespace of this module (-n NS); nothing cluster-wide is changed.
"""

import json
import os
import pty
import subprocess
import sys
import textwrap
import uuid

import pytest

from helpers import REPO, run_plugin
from metallb_plugin import cli, cluster


@pytest.fixture(scope="module")
def client(controlplane):
    """The admin's API client, for setting up and checking what the plugin did."""
    _, args = cli.parse(["version", "--kubeconfig", controlplane.kubeconfig("admin")])
    return cluster.connect(args, environ={})


@pytest.fixture(scope="module")
def env(controlplane):
    return {"KUBECONFIG": controlplane.kubeconfig("admin")}


@pytest.fixture(scope="module")
def make_ns(client):
    made = []

    def make():
        name = f"pools-{uuid.uuid4().hex[:8]}"
        client.create(cluster.api_path("v1", "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                                              "metadata": {"name": name}})
        made.append(name)
        return name

    yield make
    for name in made:
        client.delete(cluster.api_path("v1", "namespaces", name=name))


def apply(client, text):
    import yaml

    for doc in yaml.safe_load_all(textwrap.dedent(text)):
        client.apply(client.object_path(doc), doc, force=True)


def get(client, plural, ns, name=None):
    path = cluster.api_path("metallb.io/v1beta2" if plural == "bgppeers" else "metallb.io/v1beta1", plural, ns, name)
    return client.get(path) if name else {"items": client.list(path)}


def lb_service(client, ns, name, ip=None, pool=None):
    """A LoadBalancer Service; with ip, its status and annotation written the way MetalLB's controller does."""
    meta = {"name": name, "namespace": ns}
    if pool:
        meta["annotations"] = {"metallb.io/ip-allocated-from-pool": pool}
    client.create(cluster.api_path("v1", "services", ns), {
        "apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]}})
    if ip:
        client.patch(cluster.api_path("v1", "services", ns, name, "status"),
                     {"status": {"loadBalancer": {"ingress": [{"ip": i, "ipMode": "VIP"} for i in ip.split(",")]}}})


# --------------------------------------------------------------------------------------------- list


@pytest.fixture(scope="module")
def populated(metallb_crds, client, make_ns):
    """Three pools (L2, BGP, unannounced), one with v0.15+ status counters, and Services using them."""
    ns, apps = make_ns(), make_ns()
    apply(client, f"""\
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {{name: web, namespace: {ns}}}
        spec: {{addresses: [192.0.2.0/24, "2001:db8:10::/64"], avoidBuggyIPs: true}}
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {{name: edge, namespace: {ns}, labels: {{tier: edge}}}}
        spec: {{addresses: [203.0.113.1-203.0.113.10], autoAssign: false}}
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {{name: spare, namespace: {ns}}}
        spec: {{addresses: [203.0.113.16/28]}}
        ---
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: {{name: web-l2, namespace: {ns}}}
        spec: {{ipAddressPools: [web]}}
        ---
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata: {{name: by-label, namespace: {ns}}}
        spec: {{ipAddressPoolSelectors: [{{matchLabels: {{tier: edge}}}}]}}
        """)
    # MetalLB v0.15+ writes counters into the pool's status; the edge pool has them, the others do not
    client.patch(cluster.api_path("metallb.io/v1beta1", "ipaddresspools", ns, "edge", "status"),
                 {"status": {"assignedIPv4": 3, "assignedIPv6": 0, "availableIPv4": 7, "availableIPv6": 0}})
    lb_service(client, apps, "shop", "192.0.2.5,2001:db8:10::5", pool="web")
    lb_service(client, apps, "shop-udp", "192.0.2.5", pool="web")  # shares the IP: counted once
    lb_service(client, apps, "blog", "192.0.2.6")  # no annotation: found by its address
    lb_service(client, apps, "api", "203.0.113.2", pool="edge")
    lb_service(client, apps, "pending")  # no address yet
    return ns, apps


def test_list_json_shape(populated, env):
    ns, apps = populated
    result = run_plugin("pools", "-n", ns, "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["namespace"] == ns
    by_name = {p["name"]: p for p in doc["pools"]}
    assert [p["name"] for p in doc["pools"]] == ["edge", "spare", "web"]
    web = by_name["web"]
    assert web == {
        "name": "web", "addresses": ["192.0.2.0/24", "2001:db8:10::/64"], "autoAssign": True, "avoidBuggyIPs": True,
        "priority": None, "namespaces": [],
        # 2^53 and above: decimal strings, which jq and JavaScript keep exactly
        "size": str(254 + 2 ** 64), "used": 3, "free": str(254 + 2 ** 64 - 3),
        "ipv4": {"size": 254, "used": 2, "free": 252},
        "ipv6": {"size": str(2 ** 64), "used": 1, "free": str(2 ** 64 - 1)},
        "usedFrom": "services", "advertised": ["L2"], "advertisements": ["L2Advertisement/web-l2"],
        "services": [f"{apps}/blog", f"{apps}/shop", f"{apps}/shop-udp"]}
    edge = by_name["edge"]
    assert (edge["size"], edge["used"], edge["free"], edge["usedFrom"]) == (10, 3, 7, "status")
    assert (edge["autoAssign"], edge["advertised"], edge["services"]) == (False, ["BGP"], [f"{apps}/api"])
    spare = by_name["spare"]
    assert (spare["size"], spare["used"], spare["advertised"], spare["services"]) == (16, 0, [], [])
    assert doc["warnings"] == ['pool "spare" is not advertised: MetalLB assigns its addresses but never announces '
                               "them; add an L2Advertisement or BGPAdvertisement for it"]


def test_list_table(populated, env):
    ns, _ = populated
    result = run_plugin("pools", "list", "-n", ns, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESSES", "SIZE", "USED", "FREE", "AUTO-ASSIGN", "ADVERTISED", "SERVICES"]
    assert lines[1].split() == ["edge", "203.0.113.1-203.0.113.10", "10", "3", "7", "false", "BGP", "1"]
    assert lines[2].split() == ["spare", "203.0.113.16/28", "16", "0", "16", "true", "none", "0"]
    assert lines[3].split() == ["web", "192.0.2.0/24,2001:db8:10::/64", "2^64+254", "3", "2^64+251", "true", "L2", "3"]
    assert 'warning: pool "spare" is not advertised' in result.stderr


def test_list_yaml_and_empty_namespace(populated, env, make_ns):
    import yaml

    ns, _ = populated
    doc = yaml.safe_load(run_plugin("pools", "-n", ns, "-o", "yaml", env=env).stdout)
    assert [p["name"] for p in doc["pools"]] == ["edge", "spare", "web"]
    empty = make_ns()
    result = run_plugin("pools", "-n", empty, env=env)
    assert result.returncode == 0 and result.stdout == ""
    assert f"No address pools in namespace {empty}." in result.stderr
    assert json.loads(run_plugin("pools", "-n", empty, "-o", "json", env=env).stdout)["pools"] == []


def test_reader_can_list(populated, controlplane):
    ns, _ = populated
    result = run_plugin("pools", "-n", ns, "-o", "json", "--kubeconfig", controlplane.kubeconfig("reader"))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["pools"]) == 3


def test_nobody_gets_a_clear_403(populated, controlplane):
    ns, _ = populated
    result = run_plugin("pools", "-n", ns, "--kubeconfig", controlplane.kubeconfig("nobody"))
    assert result.returncode == 3
    assert result.stderr.startswith('error: permission denied: ipaddresspools.metallb.io is forbidden: User "nobody"')


# --------------------------------------------------------------------------------------------- create


def test_create_l2(metallb_crds, env, client, make_ns):
    ns = make_ns()
    result = run_plugin("pools", "create", "--yes", "lan", "-n", ns, "--addresses", "203.0.113.0/28, 203.0.113.100-203.0.113.110",
                        "--l2", "--interfaces", "eth0,eth1", "--node-selector", "kubernetes.io/os=linux,zone=a",
                        "--avoid-buggy-ips", "--priority", "10", "--namespaces", "web,shop", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("ipaddresspool.metallb.io/lan created\nl2advertisement.metallb.io/lan created\n")
    pool = get(client, "ipaddresspools", ns, "lan")
    assert pool["spec"] == {"addresses": ["203.0.113.0/28", "203.0.113.100-203.0.113.110"], "autoAssign": True,
                            "avoidBuggyIPs": True, "serviceAllocation": {"priority": 10, "namespaces": ["web", "shop"]}}
    assert pool["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubectl-metallb"}
    l2 = get(client, "l2advertisements", ns, "lan")
    assert l2["spec"] == {"ipAddressPools": ["lan"], "interfaces": ["eth0", "eth1"],
                          "nodeSelectors": [{"matchLabels": {"kubernetes.io/os": "linux", "zone": "a"}}]}
    listed = json.loads(run_plugin("pools", "-n", ns, "-o", "json", env=env).stdout)["pools"][0]
    assert (listed["size"], listed["advertised"]) == (16 - 1 + 11, ["L2"])  # .0 of the /28 is skipped


def test_create_bgp_yaml_output(metallb_crds, env, client, make_ns):
    import yaml

    ns = make_ns()
    result = run_plugin("pools", "create", "--yes", "wan", "-n", ns, "--addresses", "2001:db8:20::/120", "--addresses",
                        "198.51.100.0/24", "--bgp", "--peer", "spine-1", "--no-auto-assign", "-o", "yaml", env=env)
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(result.stdout)  # the plan, carried out
    assert doc["operation"] == "pools create" and doc["dryRun"] is False
    assert [(o["kind"], o["name"], o["result"]) for o in doc["objects"]] == [
        ("IPAddressPool", "wan", "created"), ("BGPAdvertisement", "wan", "created")]
    assert f"warning: no BGPPeer named spine-1 in namespace {ns}" in result.stderr
    assert get(client, "ipaddresspools", ns, "wan")["spec"] == {
        "addresses": ["2001:db8:20::/120", "198.51.100.0/24"], "autoAssign": False, "avoidBuggyIPs": False}
    assert get(client, "bgpadvertisements", ns, "wan")["spec"] == {
        "ipAddressPools": ["wan"], "peers": ["spine-1"], "aggregationLength": 32,
        "aggregationLengthV6": 128}  # the CRD's defaults, as the server returns them


def test_create_without_advertisement_warns(metallb_crds, env, client, make_ns):
    ns = make_ns()
    result = run_plugin("pools", "create", "--yes", "quiet", "-n", ns, "--addresses", "203.0.113.48/29", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ipaddresspool.metallb.io/quiet created\n"
    assert 'warning: no advertisement announces pool "quiet"' in result.stderr
    # an advertisement covering every pool (empty spec) announces the next one: no warning
    apply(client, f"""\
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: {{name: all, namespace: {ns}}}
        """)
    result = run_plugin("pools", "create", "--yes", "covered", "-n", ns, "--addresses", "203.0.113.56/29", env=env)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr


def test_create_dry_run_writes_nothing(metallb_crds, env, client, make_ns):
    ns = make_ns()
    result = run_plugin("pools", "create", "--yes", "try", "-n", ns, "--addresses", "203.0.113.64/29", "--l2", "--dry-run",
                        env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("ipaddresspool.metallb.io/try created (server dry run)\n"
                             "l2advertisement.metallb.io/try created (server dry run)\n")
    assert get(client, "ipaddresspools", ns)["items"] == [] and get(client, "l2advertisements", ns)["items"] == []


def test_create_refuses_overlap_with_another_pool(metallb_crds, env, client, make_ns):
    ns = make_ns()
    assert run_plugin("pools", "create", "--yes", "first", "-n", ns, "--addresses", "10.20.0.0/24", "--l2",
                      env=env).returncode == 0
    result = run_plugin("pools", "create", "--yes", "second", "-n", ns, "--addresses", "10.20.0.200-10.20.1.10", "--l2",
                        env=env)
    assert result.returncode == 1
    assert result.stderr == ('error: 10.20.0.0/24 in pool "first" overlaps 10.20.0.200-10.20.1.10 in pool "second": '
                             "MetalLB rejects overlapping pools; choose addresses no other pool has (see kubectl "
                             "metallb pools)\n")
    again = run_plugin("pools", "create", "--yes", "first", "-n", ns, "--addresses", "10.30.0.0/24", env=env)
    assert again.returncode == 1 and f'pool "first" already exists in namespace {ns}' in again.stderr
    assert [p["metadata"]["name"] for p in get(client, "ipaddresspools", ns)["items"]] == ["first"]


@pytest.mark.parametrize("addresses, message", [
    ("10.0.0.5/24", 'error: invalid CIDR "10.0.0.5/24": host bits are set after /24; did you mean 10.0.0.0/24 '
                    "(or 10.0.0.5/32 for the single address)?"),
    ("10.0.0.9-10.0.0.1", 'error: invalid range "10.0.0.9-10.0.0.1": the start 10.0.0.9 is after the end 10.0.0.1'),
    ("10.0.0.0/33", 'error: invalid CIDR "10.0.0.0/33": prefix length 33 is out of range for IPv4 (0-32)'),
    ("10.0.0.1", 'error: invalid address "10.0.0.1": a single address needs a prefix length, like 10.0.0.1/32'),
    ("10.0.0.0/24,,10.0.1.0/24", "error: empty address entry"),
])
def test_create_refuses_invalid_addresses(metallb_crds, env, client, make_ns, addresses, message):
    ns = make_ns()
    result = run_plugin("pools", "create", "--yes", "bad", "-n", ns, "--addresses", addresses, "--l2", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert get(client, "ipaddresspools", ns)["items"] == []


def test_create_warns_about_the_service_cidr(metallb_crds, env, make_ns):
    ns = make_ns()
    result = run_plugin("pools", "create", "--yes", "clash", "-n", ns, "--addresses", "10.96.100.0/24", "--l2", env=env)
    assert result.returncode == 0, result.stderr
    assert ("warning: 10.96.100.0/24 overlaps the service CIDR (10.96.0.0/12): MetalLB would hand out addresses "
            "that are already in use") in result.stderr


def test_reader_gets_a_clear_403_on_create(metallb_crds, controlplane, make_ns, client):
    ns = make_ns()
    result = run_plugin("pools", "create", "--yes", "mine", "-n", ns, "--addresses", "10.60.0.0/24", "--l2",
                        "--kubeconfig", controlplane.kubeconfig("reader"))
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"  create ipaddresspools.metallb.io in namespace {ns}", f"  create l2advertisements.metallb.io in namespace {ns}",
        "error: permission denied: 2 permission(s) this needs are missing (listed above); nothing was changed. Ask a "
        "cluster admin for them, or use a --context with more rights"]
    assert get(client, "ipaddresspools", ns)["items"] == []


# --------------------------------------------------------------------------------------------- delete


def test_delete_unknown_pool(metallb_crds, env, make_ns):
    ns = make_ns()
    result = run_plugin("pools", "delete", "ghost", "-n", ns, "--yes", env=env)
    assert result.returncode == 1
    assert result.stderr == f'error: no pool "ghost" in namespace {ns} (pools there: none)\n'


def test_delete_dry_run(metallb_crds, env, client, make_ns):
    ns = make_ns()
    assert run_plugin("pools", "create", "--yes", "keep", "-n", ns, "--addresses", "10.80.0.0/24", "--bgp",
                      env=env).returncode == 0
    result = run_plugin("pools", "delete", "keep", "-n", ns, "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("ipaddresspool.metallb.io/keep deleted (server dry run)\n"
                             "bgpadvertisement.metallb.io/keep deleted (server dry run)\n")
    assert get(client, "ipaddresspools", ns, "keep") and get(client, "bgpadvertisements", ns, "keep")


# --------------------------------------------------------------------------------------------- migrate

LEGACY = """\
peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
  hold-time: 120s
  bfd-profile: Fast_BFD
  node-selectors:
  - match-labels: {rack: r1}
address-pools:
- name: Production_Pool
  protocol: bgp
  addresses: [198.51.100.0/24]
  bgp-advertisements:
  - aggregation-length: 32
    localpref: 100
    communities: [no-advertise, "64500:1"]
- name: lan
  protocol: layer2
  addresses: [203.0.113.200-203.0.113.210]
  avoid-buggy-ips: true
bgp-communities:
  no-advertise: 65535:65282
bfd-profiles:
- name: Fast_BFD
  receive-interval: 100
  transmit-interval: 100
"""


def legacy_configmap(ns):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config", "namespace": ns},
            "data": {"config": LEGACY}}


def test_migrate_prints_yaml_from_the_cluster(metallb_crds, env, client, make_ns):
    import yaml

    ns = make_ns()
    client.create(cluster.api_path("v1", "configmaps", ns), legacy_configmap(ns))
    result = run_plugin("pools", "migrate", "-n", ns, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# Converted from ConfigMap {ns}/config by kubectl metallb pools migrate.\n")
    docs = list(yaml.safe_load_all(result.stdout))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("BGPPeer", "peer1"), ("IPAddressPool", "production-pool"), ("IPAddressPool", "lan"),
        ("BGPAdvertisement", "bgpadvertisement1"), ("L2Advertisement", "l2advertisement1"),
        ("BFDProfile", "fast-bfd"), ("Community", "communities")]
    assert {d["metadata"]["namespace"] for d in docs} == {ns}
    assert docs[0]["spec"]["bfdProfile"] == "fast-bfd" and docs[0]["spec"]["holdTime"] == "2m0s"
    assert 'note: IPAddressPool "Production_Pool" is named "production-pool"' in result.stderr
    nothing = get(client, "ipaddresspools", ns)["items"]
    assert nothing == []  # printing writes nothing


def test_migrate_apply_round_trip(metallb_crds, env, client, make_ns):
    ns = make_ns()
    client.create(cluster.api_path("v1", "configmaps", ns), legacy_configmap(ns))
    result = run_plugin("pools", "migrate", "--from-configmap", f"{ns}/config", "--apply", "--yes", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "bfdprofile.metallb.io/fast-bfd created", "community.metallb.io/communities created",
        "ipaddresspool.metallb.io/production-pool created", "ipaddresspool.metallb.io/lan created",
        "bgppeer.metallb.io/peer1 created", "bgpadvertisement.metallb.io/bgpadvertisement1 created",
        "l2advertisement.metallb.io/l2advertisement1 created"]
    assert f"remove it: kubectl delete configmap -n {ns} config" in result.stderr
    peer = get(client, "bgppeers", ns, "peer1")
    assert peer["spec"]["nodeSelectors"] == [{"matchLabels": {"rack": "r1"}}] and peer["spec"]["myASN"] == 64500
    assert get(client, "communities", ns, "communities")["spec"]["communities"] == [
        {"name": "no-advertise", "value": "65535:65282"}]
    assert get(client, "bfdprofiles", ns, "fast-bfd")["spec"]["receiveInterval"] == 100
    assert get(client, "bgpadvertisements", ns, "bgpadvertisement1")["spec"]["communities"] == ["no-advertise", "64500:1"]
    listed = json.loads(run_plugin("pools", "-n", ns, "-o", "json", env=env).stdout)
    assert [(p["name"], p["size"], p["advertised"]) for p in listed["pools"]] == [
        ("lan", 11, ["L2"]), ("production-pool", 256, ["BGP"])]
    again = run_plugin("pools", "migrate", "-n", ns, "--apply", "--yes", "-o", "json", env=env)  # idempotent
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["operation"] == "pools migrate" and doc["summary"]["unchanged"] == 7


def test_migrate_from_file_with_another_namespace(metallb_crds, env, client, make_ns, tmp_path):
    ns = make_ns()
    path = tmp_path / "config.yaml"
    path.write_text(LEGACY)  # only the data, as in configmaptocrs -only-data
    result = run_plugin("pools", "migrate", "--file", str(path), "-n", ns, "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert {i["metadata"]["namespace"] for i in json.loads(result.stdout)["items"]} == {ns}


def test_migrate_refuses_invalid_config_and_overlap(metallb_crds, env, client, make_ns, tmp_path):
    ns = make_ns()
    bad = tmp_path / "bad.yaml"
    bad.write_text(LEGACY.replace("198.51.100.0/24", "198.51.100.0/33"))
    result = run_plugin("pools", "migrate", "--file", str(bad), env=env)
    assert result.returncode == 2
    assert result.stderr == ('error: invalid legacy configuration: address-pools[0].addresses[0]: invalid CIDR '
                             '"198.51.100.0/33": prefix length 33 is out of range for IPv4 (0-32)\n')
    assert run_plugin("pools", "create", "--yes", "taken", "-n", ns, "--addresses", "203.0.113.192/27",
                      env=env).returncode == 0
    good = tmp_path / "good.yaml"
    good.write_text(LEGACY)
    clash = run_plugin("pools", "migrate", "--file", str(good), "-n", ns, "--apply", "--yes", env=env)
    assert clash.returncode == 1
    assert "overlap pools already in namespace" in clash.stderr and "nothing was applied" in clash.stderr
    assert [p["metadata"]["name"] for p in get(client, "ipaddresspools", ns)["items"]] == ["taken"]


def test_migrate_missing_configmap(metallb_crds, env, make_ns):
    ns = make_ns()
    result = run_plugin("pools", "migrate", "-n", ns, env=env)
    assert result.returncode == 1
    assert result.stderr == (f"error: no ConfigMap {ns}/config: pass --from-configmap NS/NAME (Helm installs name it "
                             "after the release) or --file FILE\n")


# --------------------------------------------------------------------------------------------- cost


def test_request_count_does_not_grow_with_services(metallb_crds, controlplane, env, client, make_ns):
    ns, apps = make_ns(), make_ns()
    apply(client, f"""\
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {{name: big, namespace: {ns}}}
        spec: {{addresses: [10.100.0.0/16]}}
        """)

    def requests():
        result = run_plugin("pools", "-n", ns, "-v", "-o", "json", env=env)
        assert result.returncode == 0, result.stderr
        return int(result.stderr.strip().splitlines()[-1].split()[0]), json.loads(result.stdout)["pools"][0]["used"]

    counts, made = [], 0
    for total in (10, 120):
        for i in range(made, total):
            lb_service(client, apps, f"svc-{i}", f"10.100.{i // 250}.{i % 250 + 1}", pool="big")
        made = total
        counts.append(requests())
    assert counts[0][1] == 10 and counts[1][1] == 120
    assert counts[0][0] == counts[1][0] == 4  # one LIST per kind: pools, L2 and BGP advertisements, Services


def on_terminal(env, answer, *args):
    """Run the plugin with a terminal as stdin (so it asks) and type answer."""
    leader, follower = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    full_env.update(env)
    with subprocess.Popen([sys.executable, "-m", "metallb_plugin", *args], cwd=REPO, env=full_env, stdin=follower,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        os.close(follower)
        os.write(leader, answer.encode())
        out, err = proc.communicate(timeout=120)
    os.close(leader)
    assert "Traceback" not in err, err
    return proc.returncode, out, err


def test_delete_asks_on_a_terminal(metallb_crds, env, client, make_ns):
    ns = make_ns()
    assert run_plugin("pools", "create", "--yes", "ask", "-n", ns, "--addresses", "10.90.0.0/24", "--l2",
                      env=env).returncode == 0
    code, out, err = on_terminal(env, "n\n", "pools", "delete", "ask", "-n", ns)
    assert (code, out) == (1, "")
    assert (f"Delete ipaddresspool.metallb.io/ask, l2advertisement.metallb.io/ask in namespace {ns}? [y/N] "
            in err and "pools delete cancelled; nothing was changed" in err)
    assert get(client, "ipaddresspools", ns, "ask")
    code, out, err = on_terminal(env, "y\n", "pools", "delete", "ask", "-n", ns)
    assert code == 0, err
    assert out == "ipaddresspool.metallb.io/ask deleted\nl2advertisement.metallb.io/ask deleted\n"
    assert get(client, "ipaddresspools", ns)["items"] == []
