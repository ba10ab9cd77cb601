"""The full cluster itself: hermetic by construction, real controllers and scheduler, kwok nodes on a LAN."""

import errno
import json
import os
import socket
import subprocess
import sys

import pytest

from helpers import REPO

from .support import until

sys.path.insert(0, os.path.join(REPO, "tools", "controlplane"))
import netns  # noqa: E402
from fullcluster import FullCluster  # noqa: E402

CONTROLPLANE = os.path.join(REPO, "tools", "controlplane", "controlplane.py")


def test_no_namespace_has_a_default_route(full_cluster):
    for name in full_cluster.namespaces():
        assert netns.exists(name)
        assert netns.default_routes(name) == [], name


@pytest.mark.parametrize("where", ["cp", "node"])
def test_nothing_outside_the_lan_is_reachable(full_cluster, where):
    name = full_cluster.cp_netns if where == "cp" else full_cluster.nodes["node-a"]["netns"]
    for address in ("192.0.2.1", "8.8.8.8"):
        sock = netns.socket_in(name, socket.AF_INET, socket.SOCK_DGRAM)
        with sock, pytest.raises(OSError) as raised:
            sock.connect((address, 53))
        assert raised.value.errno == errno.ENETUNREACH


def test_the_api_server_runs_inside_the_cluster_namespace(full_cluster):
    with open(full_cluster.path("apiserver.pid")) as handle:
        pid = int(handle.read())
    assert pid in netns.pids(full_cluster.cp_netns)


def test_nodes_are_ready_with_their_lan_addresses(full_cluster, kubectl):
    nodes = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    seen = {n["metadata"]["name"]: n for n in nodes}
    assert sorted(seen) == ["node-a", "node-b"]
    for name, node in seen.items():
        addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
        assert addresses["InternalIP"] == full_cluster.nodes[name]["ip"]
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"


def test_a_deployment_rolls_out_through_the_real_controllers(kubectl, namespace):
    kubectl("create", "deployment", "hello", "--image=registry.k8s.io/pause:3.10", "--replicas=3", "-n", namespace)
    kubectl("rollout", "status", "deployment/hello", "-n", namespace, "--timeout=60s")
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json"))["items"]
    assert len(pods) == 3
    assert {p["spec"]["nodeName"] for p in pods} <= {"node-a", "node-b"}  # placed by the scheduler
    assert all(p["status"]["podIP"].startswith("203.0.113.") for p in pods)  # given an address by kwok
    # the real ServiceAccount and namespace controllers ran too
    assert "default" in kubectl("get", "serviceaccounts", "-n", namespace, "-o", "name")


def test_a_second_up_on_a_running_directory_is_refused(full_cluster):
    done = subprocess.run([sys.executable, CONTROLPLANE, "up", "--full", full_cluster.dir], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: a cluster is already running in {full_cluster.dir}; stop it first with: "
        f"python3 tools/controlplane/controlplane.py down {full_cluster.dir}"]
    assert full_cluster.running()  # and it keeps running


def test_without_ip_netns_the_full_cluster_says_so_in_one_line(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no `ip` on PATH
    done = subprocess.run([sys.executable, CONTROLPLANE, "up", "--full", str(tmp_path / "c")], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: the full cluster needs `ip` from iproute2 (apt-get install -y iproute2)"]


def test_without_root_the_full_cluster_says_so_in_one_line(tmp_path):
    os.chmod(tmp_path, 0o777)
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                           CONTROLPLANE, "up", "--full", str(tmp_path / "c")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "error: the full cluster needs root (it creates network namespaces); run it as root"]


def test_a_second_cluster_runs_beside_and_stops_when_its_owner_is_gone(full_cluster, tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    second = FullCluster(str(tmp_path / "second"), nodes=1, owner_pid=owner.pid)
    try:
        second.up()
        assert set(second.namespaces()).isdisjoint(full_cluster.namespaces())  # names unique to each directory
        assert all(netns.exists(name) for name in second.namespaces())
        assert full_cluster.running() and second.running()
        owner.kill()  # the owning session dies without tearing down: the cluster stops itself
        owner.wait()
        until(lambda: not second.running() and not any(netns.exists(n) for n in second.namespaces()), timeout=60,
              what="the orphaned cluster to stop and delete its namespaces")
        assert full_cluster.running()
    finally:
        owner.kill()
        second.down()
