#!/usr/bin/env python3
"""How much a big kubeconfig costs every command: the plugin against kubectl.

It writes kubeconfigs whose current context names a server that refuses connections (127.0.0.1:1), so a run is
reading the kubeconfig, building the client and failing at once; the one-context file is the baseline. Files:
one context; 2,000 contexts of token users (~0.5 MB); 26,300 contexts of token users (~6.6 MB, many small
entries); 2,000 contexts with certificate data (~6.6 MB, few large entries); the last as JSON. For each it prints
the best wall time and the peak RSS of --runs runs of `kubectl-metallb version` and of `kubectl version`.

    benchmarks/kubeconfig.py [--runs 3] [--kubectl kubectl]
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN = os.path.join(REPO, "kubectl-metallb")
SERVER = "https://127.0.0.1:1"  # refused at once: nothing leaves loopback


def kubeconfig(contexts, certificates):
    """A kubeconfig of `contexts` contexts, each with its own cluster and user; the last one is current (and uses a
    token, so both tools get as far as connecting; the others carry certificate-sized filler)."""
    def blob(size, i):
        return base64.b64encode((b"%08d" % i) * (size // 8)).decode()

    clusters, users = [], []
    for i in range(contexts):
        cluster = {"server": SERVER, "insecure-skip-tls-verify": True}
        user = {"token": f"token-{i:08d}"}
        if certificates and i < contexts - 1:
            cluster = {"server": SERVER, "certificate-authority-data": blob(760, i)}
            user = {"client-certificate-data": blob(860, i), "client-key-data": blob(660, i)}
        clusters.append({"name": f"cluster-{i}", "cluster": cluster})
        users.append({"name": f"user-{i}", "user": user})
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": f"ctx-{contexts - 1}",
        "clusters": clusters, "users": users,
        "contexts": [{"name": f"ctx-{i}", "context": {"cluster": f"cluster-{i}", "user": f"user-{i}",
                                                        "namespace": "default"}} for i in range(contexts)],
    }


def write(path, config, as_json=False):
    import yaml

    with open(path, "w") as handle:
        if as_json:
            json.dump(config, handle, indent=2)
        else:
            yaml.dump(config, handle, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)
    return path


def best(argv, runs):
    """(best wall seconds, peak RSS MB, exit code) over `runs` runs, started by GNU time."""
    results = []
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r") as report:
            started = time.perf_counter()
            done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - started
            results.append((seconds, int(report.read().split()[-1]) / 1024, done.returncode))
    return min(results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kubectl", default=shutil.which("kubectl"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kubeconfig-bench-")
    try:
        files = {
            "1 context": write(os.path.join(work, "one.yaml"), kubeconfig(1, False)),
            "2,000 contexts (tokens)": write(os.path.join(work, "2000.yaml"), kubeconfig(2000, False)),
            "26,300 contexts (tokens)": write(os.path.join(work, "many.yaml"), kubeconfig(26300, False)),
            "2,000 contexts (certificates)": write(os.path.join(work, "certs.yaml"), kubeconfig(2000, True)),
            "2,000 contexts (certificates, JSON)": write(os.path.join(work, "certs.json"), kubeconfig(2000, True),
                                                         as_json=True),
        }
        print(f"{'kubeconfig':38} {'MB':>5}  {'plugin s':>8} {'RSS MB':>6} {'rc':>2}  {'kubectl s':>9} {'RSS MB':>6}")
        for label, path in files.items():
            size = os.path.getsize(path) / 1e6
            plugin = best([sys.executable, PLUGIN, "version", "--kubeconfig", path], args.runs)
            row = f"{label:38} {size:5.1f}  {plugin[0]:8.2f} {plugin[1]:6.0f} {plugin[2]:2}"
            if args.kubectl:
                kubectl = best([args.kubectl, "version", "--kubeconfig", path], args.runs)
                row += f"  {kubectl[0]:9.2f} {kubectl[1]:6.0f}"
            print(row, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
