#!/usr/bin/env python3
"""Measure the full cluster with the real MetalLB (`make bench-full`).

    benchmarks/fullcluster.py [--runs 3] [--idle 30] [--out FILE] [--builds]

- install -> ARP: on a fresh full cluster with a Deployment and its LoadBalancer Service waiting, the time from
  starting `kubectl metallb install` to the first ARP reply on the LAN for the address MetalLB assigned (install
  waits for MetalLB's readiness, then `pools create`, then the controller assigns, then a speaker answers); each run
  after the first uninstalls MetalLB first.
- idle: resident memory of every process of the cluster (its namespaces and the kubelet stand-in) after --idle
  seconds with MetalLB installed, and the CPU they used over that time.
- --builds: build times of tools/controlplane/build.sh into a temporary bin/: cold (an empty Go build cache; the
  module cache is kept, so downloads are not counted), warm (the build cache filled, binaries missing) and up to
  date (everything present).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "tools", "controlplane")]

import arp  # noqa: E402
import netns  # noqa: E402
from fullcluster import FullCluster  # noqa: E402

MANIFEST = os.path.join(os.path.dirname(REPO), "shared", "data", "metallb-manifests", "v0.16.1", "metallb-native.yaml")
DIGEST = "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b"
KUBECTL = os.path.join(os.path.dirname(sys.executable), "kubectl")
APP = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "bench"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/pause:3.10"}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "bench"},
     "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}}]}


def plugin(cluster, *args):
    done = subprocess.run([sys.executable, "-m", "metallb_plugin", *args], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, KUBECONFIG=cluster.kubeconfig()), timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl metallb {' '.join(args)} failed: {done.stderr.strip()}")


def kubectl(cluster, *args, input=None):
    return subprocess.run([KUBECTL, "--kubeconfig", cluster.kubeconfig(), *args], input=input, capture_output=True,
                          text=True, check=True, timeout=120).stdout


def install_to_arp(cluster):
    """Seconds from `install` to the first ARP reply, and the time each step ended at."""
    started = time.monotonic()
    plugin(cluster, "install", "--manifest", MANIFEST, "--sha256", DIGEST, "--yes")
    installed = time.monotonic() - started
    plugin(cluster, "pools", "create", "bench", "--addresses", "198.51.100.240/28", "--l2")
    pool = time.monotonic() - started
    ip = ""
    while not ip:
        ip = kubectl(cluster, "get", "service", "web", "-n", "bench", "-o",
                     "jsonpath={.status.loadBalancer.ingress[0].ip}")
    assigned = time.monotonic() - started
    while not arp.probe(cluster.lan_netns, "br0", ip, timeout=0.05):
        pass
    return {"total": time.monotonic() - started, "install": installed, "pool": pool, "assigned": assigned}


def cluster_pids(cluster):
    pids = {pid for name in netns.ip("netns", "list").split() if name.startswith(cluster.prefix)
            for pid in netns.pids(name)}
    with open(cluster.path("kubelet.pid")) as handle:
        return pids | {int(handle.read())}


def rss_and_ticks(pids):
    """({process name: RSS in MiB}, CPU ticks used so far) of pids."""
    rss, ticks = {}, 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle)
            name = fields["Name"].strip()
            rss[name] = rss.get(name, 0) + int(fields["VmRSS"].split()[0]) / 1024
            with open(f"/proc/{pid}/stat") as handle:
                stat = handle.read().rpartition(")")[2].split()
                ticks += int(stat[11]) + int(stat[12])  # utime + stime
        except (FileNotFoundError, KeyError):
            pass
    return rss, ticks


def idle(cluster, seconds):
    pids = cluster_pids(cluster)
    _, before = rss_and_ticks(pids)
    time.sleep(seconds)
    rss, after = rss_and_ticks(pids)
    cpu = (after - before) / os.sysconf("SC_CLK_TCK") / seconds * 100
    return {"rssMiB": round(sum(rss.values())), "cpuPercentOfOneCore": round(cpu, 1), "processes": len(pids),
            "rssMiBByProcess": {name: round(mib) for name, mib in sorted(rss.items(), key=lambda kv: -kv[1])}}


def builds():
    """(cold, warm, up to date) seconds of build.sh into a temporary bin/."""
    out = {}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as bindir:
        for name, gocache in (("cold", cache), ("warm", None), ("upToDate", None)):
            if name == "warm":
                shutil.rmtree(bindir)
                os.makedirs(bindir)
            env = dict(os.environ, BIN=bindir, CONTROLPLANE_BIN=bindir)
            if gocache:
                env["GOCACHE"] = gocache
            started = time.monotonic()
            subprocess.run(["nice", os.path.join(REPO, "tools", "controlplane", "build.sh")], env=env, check=True)
            out[name] = round(time.monotonic() - started, 1)
            print(f"build {name}: {out[name]} s", file=sys.stderr)
    return out


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=int, default=30)
    parser.add_argument("--builds", action="store_true", help="also measure cold and warm builds (slow)")
    parser.add_argument("--out", default=os.path.join(REPO, ".bench", "fullcluster.json"))
    args = parser.parse_args(argv)
    # the machine's load beside the run: on shared cores it moves every figure here
    result = {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(),
              "loadAverageAtStart": round(os.getloadavg()[0], 1)}
    if args.builds:
        result["buildSeconds"] = builds()
    with tempfile.TemporaryDirectory() as workdir:
        cluster = FullCluster(os.path.join(workdir, "cluster"), owner_pid=os.getpid())
        started = time.monotonic()
        try:
            cluster.up()
            result["upSeconds"] = round(time.monotonic() - started, 1)
            kubectl(cluster, "apply", "-f", "-", input=json.dumps(APP))
            runs = []
            for run in range(args.runs):
                if run:
                    plugin(cluster, "uninstall", "--yes", "--force", "--backup", os.path.join(workdir, f"b{run}"))
                runs.append(install_to_arp(cluster))
                print(f"install -> ARP run {run + 1}: {runs[-1]['total']:.1f} s", file=sys.stderr)
            result["installToArpSeconds"] = {
                "median": round(statistics.median(r["total"] for r in runs), 1),
                "runs": [{k: round(v, 1) for k, v in r.items()} for r in runs]}
            result["idle"] = idle(cluster, args.idle)
        finally:
            cluster.down()
    result["loadAverageAtEnd"] = round(os.getloadavg()[0], 1)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
