#!/usr/bin/env python3
"""Benchmark the plugin against kubectl on a large synthetic cluster served by the real API server.

For `--help`, `preflight`, `status`, `pools` and `analyze` it measures wall time (median and range over --runs), peak RSS and
the number of API requests, counted on the server from its audit log. Next to each it runs the kubectl calls that
fetch the same data (derived from what the plugin itself requested: the minimum any tool must do) and prints the
ratios. Loaded clusters are kept under --workdir and reused by later runs.

    benchmarks/bench.py [--scales 1,4] [--runs 5] [--workdir .bench] [--out FILE]
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
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [REPO, HERE, os.path.join(REPO, "tools", "controlplane")]

import load  # noqa: E402
from controlplane import ControlPlane  # noqa: E402
from metallb_plugin import cli, cluster  # noqa: E402

MANIFEST = os.path.join(os.path.dirname(REPO), "shared", "data", "metallb-manifests", "v0.16.1",
                        "metallb-native.yaml")
BINDIR = os.path.dirname(sys.executable)
PLUGIN = os.path.join(REPO, "kubectl-metallb")  # the launcher: the package as installed, without pip's editable hook
KUBECTL = os.path.join(BINDIR, "kubectl")
GNU_TIME = "/usr/bin/time"  # Debian package "time"
COMMANDS = {"--help": ["--help"], "preflight": ["preflight"], "status": ["status"], "pools": ["pools"],
            "analyze": ["analyze"]}
# plugin / kubectl wall-time ratio, at most (analyze: the budget of status, which reads more)
TARGETS = {"--help": 2.0, "status": 1.5, "pools": 1.5, "analyze": 1.5}
RSS_TARGET_MB = 250


def run_measured(argv, env):
    """(seconds, peak RSS in MB, exit code) of one process.

    GNU time starts it: a child forked straight from this (large) process would report this process's
    high-water mark as its own peak RSS, since Linux keeps the pre-exec peak.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        done = subprocess.run([GNU_TIME, "-f", "%M", "-o", report.name, *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        return seconds, int(report.read().split()[-1]) / 1024, done.returncode


class Audit:
    """Reads the requests the API server logged since the last mark."""

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path)

    def since_mark(self, agent_prefix):
        time.sleep(0.3)  # the audit backend writes an event once the response is complete
        with open(self.path) as handle:
            handle.seek(self.offset)
            events = [json.loads(line) for line in handle if line.strip()]
        self.offset = os.path.getsize(self.path)
        return [e for e in events if e.get("userAgent", "").startswith(agent_prefix)]


def kubectl_equivalent(events):
    """kubectl invocations reading what the plugin read: one per namespace scope for lists, one for named gets."""
    lists, named = defaultdict(set), defaultdict(set)
    for event in events:
        ref = event.get("objectRef") or {}
        if event["verb"] not in ("get", "list") or not ref.get("resource") or ref.get("subresource"):
            continue
        resource = ref["resource"] + (f".{ref['apiGroup']}" if ref.get("apiGroup") else "")
        scope = ref.get("namespace") or ""
        if event["verb"] == "list":
            lists[scope].add(resource)
        else:
            named[scope].add(f"{resource}/{ref['name']}")
    calls = []
    for scope, resources in sorted(lists.items()):
        where = ["-n", scope] if scope else ["-A"]
        calls.append(["get", ",".join(sorted(resources)), *where, "-o", "json"])
    for scope, objects in sorted(named.items()):
        calls.append(["get", *sorted(objects), *(["-n", scope] if scope else []), "-o", "json",
                      "--ignore-not-found"])
    return calls


def measure(argvs, env, audit, agent, runs):
    """Median/min/max wall time, peak RSS and requests of a sequence of processes, repeated `runs` times."""
    walls, peaks, requests = [], [], []
    for _ in range(runs):
        wall, peak = 0.0, 0.0
        for argv in argvs:
            seconds, rss, _ = run_measured(argv, env)
            wall, peak = wall + seconds, max(peak, rss)
        walls.append(wall)
        peaks.append(peak)
        requests.append(len(audit.since_mark(agent)))
    return {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
            "peak_rss_mb": max(peaks), "requests": max(requests)}


def prepare(workdir, size):
    """A control plane holding the synthetic cluster of this size: loaded once, reused afterwards."""
    home = os.path.join(workdir, f"{size.nodes}n-{size.services}s")
    plane = ControlPlane(home, audit=True)
    plane.down()
    marker = os.path.join(home, "loaded.json")
    if not os.path.exists(marker) or open(marker).read() != size.key():
        shutil.rmtree(home, ignore_errors=True)  # partly loaded or another size: start again
    plane.up()
    if not os.path.exists(marker):
        started = time.monotonic()
        _, args = cli.parse(["version", "--kubeconfig", plane.kubeconfig()])
        load.load(cluster.connect(args), size, MANIFEST)
        with open(marker, "w") as handle:
            handle.write(size.key())
        print(f"loaded {size} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return plane


def bench_scale(workdir, size, runs):
    plane = prepare(workdir, size)
    try:
        env = dict(os.environ, KUBECONFIG=plane.kubeconfig(), NO_COLOR="1",
                   KUBECACHEDIR=tempfile.mkdtemp(prefix="kubectl-cache-"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode compiled
        audit = Audit(plane.path("audit.log"))
        rows = []
        for name, argv in COMMANDS.items():
            plugin_argv = [sys.executable, PLUGIN, *argv]
            run_measured(plugin_argv, env)  # warm file caches; not counted
            audit.since_mark("")
            plugin = measure([plugin_argv], env, audit, "kubectl-metallb", runs)
            if name == "--help":
                equivalent = [[KUBECTL, "--help"]]
            else:
                run_measured(plugin_argv, env)
                equivalent = [[KUBECTL, *call] for call in kubectl_equivalent(audit.since_mark("kubectl-metallb"))]
            for argv_k in equivalent:  # warm kubectl's discovery cache, as a user's would be
                run_measured(argv_k, env)
            audit.since_mark("")
            kubectl = measure(equivalent, env, audit, "kubectl/", runs)
            rows.append({"command": name, "plugin": plugin, "kubectl": kubectl,
                         "kubectl_calls": [" ".join(["kubectl", *a[1:]]) for a in equivalent],
                         "ratio": plugin["median_s"] / kubectl["median_s"], "target_ratio": TARGETS.get(name)})
        return rows
    finally:
        plane.down()


def render(results):
    from tabulate import tabulate

    table = []
    for scale in results["scales"]:
        for row in scale["rows"]:
            p, k = row["plugin"], row["kubectl"]
            target = row["target_ratio"]
            verdict = "" if target is None else ("ok" if row["ratio"] <= target else "MISSED")
            rss = f"{p['peak_rss_mb']:.0f}" + ("" if p["peak_rss_mb"] <= RSS_TARGET_MB else " MISSED")
            table.append([scale["label"], row["command"], f"{p['median_s'] * 1000:.0f}",
                          f"{p['min_s'] * 1000:.0f}-{p['max_s'] * 1000:.0f}", rss, p["requests"],
                          f"{k['median_s'] * 1000:.0f}", k["requests"], f"{row['ratio']:.2f}",
                          "" if target is None else f"<= {target}", verdict])
    return tabulate(table, headers=["scale", "command", "plugin ms", "range ms", "peak MB", "plugin req",
                                    "kubectl ms", "kubectl req", "ratio", "target", ""], tablefmt="github")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,4", help="comma-separated multipliers of the base size")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", default=os.path.join(REPO, ".bench"))
    parser.add_argument("--out", help="write the results as JSON here (default WORKDIR/results.json)")
    parser.add_argument("--base", default="500,5000,50,50", help="nodes,services,namespaces,pools at scale 1")
    opts = parser.parse_args(argv)
    base = load.Size(*(int(n) for n in opts.base.split(",")))
    results = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": opts.runs, "scales": []}
    for factor in (int(f) for f in opts.scales.split(",")):
        size = base.scaled(factor)
        rows = bench_scale(opts.workdir, size, opts.runs)
        results["scales"].append({"label": f"{factor}x", "size": json.loads(size.key()), "rows": rows})
    out = opts.out or os.path.join(opts.workdir, "results.json")
    with open(out, "w") as handle:
        json.dump(results, handle, indent=2)
    print(render(results))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
