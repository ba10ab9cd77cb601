#!/usr/bin/env python3
"""Benchmark the plugin against kubectl on a large synthetic cluster served by the real API server.

For `--help`, `version`, `preflight`, `status`, `pools`, `analyze`, `report` and `status --simulate-drain` (drain)
it measures wall time (median and range over --runs), peak RSS and the number of API requests, counted on the
server from its audit log. Next to each, in the same run, it times
  - raw: the same GET and LIST requests (same pages, same page size, the plugin's number of connections) sent by
    benchmarks/raw.py, a client that only reads the bytes: how long the API server takes to serve them, the floor;
  - decoded: the same, each body also decoded with json.loads: the floor for a Python client that reads objects;
  - kubectl: the kubectl calls that fetch the same data (derived from what the plugin itself requested: the minimum
    any tool must do),
and prints the ratios. --page-sizes also times the raw requests with other page sizes. Loaded clusters are kept
under --workdir and reused by later runs; the load average is recorded before and after each scale.

    benchmarks/bench.py [--scales 1,4] [--runs 5] [--workdir .bench] [--out FILE] [--page-sizes 500,1000,2000]
                        [--baseline DIR] [--add-to FILE] [--commands status,drain,...]

--baseline times another checkout's plugin in the same turns (before/after a change); --add-to appends the scales
to an earlier results file (each scale records its own start, runs and load).
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
import urllib.parse
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [REPO, HERE, os.path.join(REPO, "tools", "controlplane")]

import load  # noqa: E402
from controlplane import ControlPlane  # noqa: E402
from metallb_plugin import cli, cluster  # noqa: E402
from metallb_plugin.defaults import LIST_PAGE_SIZE, READ_WORKERS  # noqa: E402

MANIFEST = os.path.join(os.path.dirname(REPO), "shared", "data", "metallb-manifests", "v0.16.1",
                        "metallb-native.yaml")
BINDIR = os.path.dirname(sys.executable)
PLUGIN = os.path.join(REPO, "kubectl-metallb")  # the launcher: the package as installed, without pip's editable hook
KUBECTL = os.path.join(BINDIR, "kubectl")
RAW = os.path.join(HERE, "raw.py")
GNU_TIME = "/usr/bin/time"  # Debian package "time"
EVENT_TTL = "8760h"  # a loaded cluster is kept for months; at the API server's default of 1h its events would expire
# version: one GET, so its time is what every command pays to start and connect
REPORT = os.path.join(tempfile.gettempdir(), f"bench-report-{os.getpid()}.tar.gz")  # report writes a new file
COMMANDS = {"--help": ["--help"], "version": ["version"], "preflight": ["preflight"], "status": ["status"],
            "pools": ["pools"], "analyze": ["analyze"], "report": ["report", "-f", REPORT],
            "drain": ["status", "--simulate-drain", "node-00001"]}
# plugin / kubectl wall-time ratio, at most (analyze: the budget of status, which reads more)
TARGETS = {"--help": 2.0, "status": 1.5, "pools": 1.5, "analyze": 1.5}
RAW_TARGET = 1.3  # plugin / raw wall-time ratio, at most, at 4x and beyond
RSS_TARGET_MB = 150


def run_measured(argv, env, check=False):
    """(seconds, peak RSS in MB) of one process; with check, an exit code other than 0 is an error: a run that
    failed did not do the work being timed.

    GNU time starts it: a child forked straight from this (large) process would report this process's
    high-water mark as its own peak RSS, since Linux keeps the pre-exec peak.
    """
    if os.path.exists(REPORT):
        os.unlink(REPORT)
    with tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        done = subprocess.run([GNU_TIME, "-f", "%M", "-o", peak.name, *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if check else subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        if check and done.returncode:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
        return seconds, int(peak.read().split()[-1]) / 1024


class Audit:
    """Reads the requests the API server logged since the last mark.

    The server logs each request twice: as it arrives, before serving it (so once a client has exited, all its
    requests are in the log), and once its response is complete, which on a busy machine can be well after the
    client read it. A mark waits until every request logged as arrived is logged as complete too."""

    MAX_S = 60.0

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path)

    def since_mark(self, agent_prefix):
        """The completed requests since the last mark whose user agent starts with agent_prefix."""
        pending, events = set(), []
        deadline = time.monotonic() + self.MAX_S
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            while True:
                for line in iter(handle.readline, b""):
                    if not line.endswith(b"\n"):  # still being written: read it whole on the next pass
                        handle.seek(-len(line), os.SEEK_CUR)
                        break
                    event = json.loads(line)
                    if event["stage"] == "RequestReceived":
                        if event["verb"] != "watch":  # a watch completes when its client goes
                            pending.add(event["auditID"])
                    else:
                        pending.discard(event["auditID"])
                        events.append(event)
                if not pending:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(pending)} requests not complete in the audit log after {self.MAX_S:.0f} s")
                time.sleep(0.05)
            self.offset = handle.tell()
        return [e for e in events if e.get("userAgent", "").startswith(agent_prefix)]


def kubectl_equivalent(events):
    """kubectl invocations reading what the plugin read: one per namespace scope for lists, one for named gets."""
    lists, named = defaultdict(set), defaultdict(set)
    for event in events:
        ref = event.get("objectRef") or {}
        if event["verb"] not in ("get", "list") or not ref.get("resource") or ref.get("subresource"):
            continue
        if (event.get("responseStatus") or {}).get("code", 200) >= 400:
            continue  # a kind the cluster does not serve (frr-k8s'): kubectl would stop at it
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


def raw_plan(events):
    """The plugin's reads as raw.py's plan: one URI per listing (its first page: raw.py follows the continue
    tokens it gets) or GET, the lists with the most pages first. Writes are left out (the audit log has no bodies)."""
    firsts, pages = [], Counter()
    for event in events:
        if event["verb"] not in ("get", "list"):
            continue
        path, _, query = event["requestURI"].partition("?")
        params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        first = path + ("?" + urllib.parse.urlencode([(k, v) for k, v in params if k != "continue"]) if params else "")
        pages[first] += 1
        if not any(k == "continue" for k, _ in params):
            firsts.append(first)
    return sorted(firsts, key=lambda uri: -pages[uri] / firsts.count(uri))


def measure(contestants, env, audit, runs):
    """Median/min/max wall time, peak RSS and requests of each contestant, a sequence of processes: {name: (argvs,
    user-agent prefix)}. The contestants take turns, `runs` rounds, so that their ratios see the same machine load.
    All but the plugin's must succeed (the plugin's exit code reports on the cluster)."""
    walls, peaks, requests = defaultdict(list), defaultdict(list), defaultdict(list)
    audit.since_mark("")
    for _ in range(runs):
        for name, (argvs, agent) in contestants.items():
            wall, peak = 0.0, 0.0
            for argv in argvs:
                seconds, rss = run_measured(argv, env, check=agent != "kubectl-metallb")
                wall, peak = wall + seconds, max(peak, rss)
            walls[name].append(wall)
            peaks[name].append(peak)
            requests[name].append(len(audit.since_mark(agent)))
    return {name: {"median_s": statistics.median(walls[name]), "min_s": min(walls[name]), "max_s": max(walls[name]),
                   "peak_rss_mb": max(peaks[name]), "requests": max(requests[name])} for name in contestants}


def prepare(workdir, size):
    """A control plane holding the synthetic cluster of this size, with an audit log: loaded once (without the audit
    log, which would slow the load down), reused afterwards."""
    home = os.path.join(workdir, f"{size.nodes}n-{size.services}s")
    ControlPlane(home).down()
    marker = os.path.join(home, "loaded.json")
    if not os.path.exists(marker) or open(marker).read() != size.key():
        shutil.rmtree(home, ignore_errors=True)  # partly loaded or another size: start again
        plane = ControlPlane(home, event_ttl=EVENT_TTL).up()
        try:
            started = time.monotonic()
            load.load(_client(plane), size, MANIFEST)
        finally:
            plane.down()
        with open(marker, "w") as handle:
            handle.write(size.key())
        print(f"loaded {size} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    plane = ControlPlane(home, audit=True, event_ttl=EVENT_TTL).up()
    missing = load.restore_events(_client(plane), size)
    if missing:
        print(f"created again {missing} expired AllocationFailed events", file=sys.stderr)
    return plane


def _client(plane):
    _, args = cli.parse(["version", "--kubeconfig", plane.kubeconfig()])
    return cluster.connect(args)


def bench_scale(workdir, size, runs, page_sizes=(), baseline=None, commands=tuple(COMMANDS)):
    plane = prepare(workdir, size)
    try:
        env = dict(os.environ, KUBECONFIG=plane.kubeconfig(), NO_COLOR="1",
                   KUBECACHEDIR=tempfile.mkdtemp(prefix="kubectl-cache-"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode compiled
        audit = Audit(plane.path("audit.log"))
        rows = []
        for name in commands:
            argv = COMMANDS[name]
            plugin_argv = [sys.executable, PLUGIN, *argv]
            run_measured(plugin_argv, env)  # warm file caches; not counted
            contestants = {"plugin": ([plugin_argv], "kubectl-metallb")}
            if baseline:
                contestants["baseline"] = ([[sys.executable, os.path.join(baseline, "kubectl-metallb"), *argv]],
                                           "kubectl-metallb")
            row = {"command": name}
            if name == "--help":
                equivalent = [[KUBECTL, "--help"]]
            else:
                audit.since_mark("")
                run_measured(plugin_argv, env)
                events = audit.since_mark("kubectl-metallb")
                calls = kubectl_equivalent(events) if name != "version" else [["version", "-o", "json"]]
                equivalent = [[KUBECTL, *call] for call in calls]
                plan = plane.path(f"raw-{name}.json")
                with open(plan, "w") as handle:
                    json.dump(raw_plan(events), handle, indent=0)
                raw_argv = [sys.executable, RAW, plane.kubeconfig(), plan, "--workers", str(READ_WORKERS)]
                contestants["raw"] = ([raw_argv], "bench-raw")
                contestants["decoded"] = ([[*raw_argv, "--decode"]], "bench-raw")
                for limit in page_sizes:
                    contestants[f"raw-{limit}"] = ([[*raw_argv, "--limit", str(limit)]], "bench-raw")
            row.update(measure(contestants, env, audit, runs))
            # kubectl's rounds come after the others': for a while after kubectl's large reads, the API server is
            # slower (status at 4x: about 0.3 s), which the contestant taking its turn after kubectl's would pay
            for argv_k in equivalent:  # warm kubectl's discovery cache, as a user's would be
                run_measured(argv_k, env)
            row.update(measure({"kubectl": (equivalent, "kubectl/")}, env, audit, runs))
            row["kubectl_calls"] = [" ".join(["kubectl", *a[1:]]) for a in equivalent]
            row["ratio"] = row["plugin"]["median_s"] / row["kubectl"]["median_s"]
            row["target_ratio"] = TARGETS.get(name)
            if "raw" in row:
                row["raw_ratio"] = row["plugin"]["median_s"] / row["raw"]["median_s"]
                row["decoded_ratio"] = row["plugin"]["median_s"] / row["decoded"]["median_s"]
            if baseline:
                row["baseline_ratio"] = row["plugin"]["median_s"] / row["baseline"]["median_s"]
            rows.append(row)
        return rows
    finally:
        plane.down()
        if os.path.exists(REPORT):
            os.unlink(REPORT)


def _ms(seconds):
    return f"{seconds * 1000:.0f}"


def render(results):
    """The results as GitHub tables: the commands per scale; raw times per page size when measured."""
    from tabulate import tabulate

    table, pages, before = [], [], []
    for scale in results["scales"]:
        goals = scale["label"] == "4x"  # where the goals apply
        for row in scale["rows"]:
            p, k, r = row["plugin"], row["kubectl"], row.get("raw")
            target = row["target_ratio"]
            verdicts = [] if target is None or row["ratio"] <= target else ["kubectl ratio"]
            if goals and r and row["raw_ratio"] > RAW_TARGET:
                verdicts.append("raw ratio")
            if goals and p["peak_rss_mb"] > RSS_TARGET_MB:
                verdicts.append("memory")
            table.append([scale["label"], row["command"], _ms(p["median_s"]), f"{_ms(p['min_s'])}-{_ms(p['max_s'])}",
                          f"{p['peak_rss_mb']:.0f}", p["requests"], _ms(r["median_s"]) if r else "",
                          f"{row['raw_ratio']:.2f}" if r else "", _ms(row["decoded"]["median_s"]) if r else "",
                          f"{row['decoded_ratio']:.2f}" if r else "", _ms(k["median_s"]), k["requests"],
                          f"{row['ratio']:.2f}", "MISSED " + ", ".join(verdicts) if verdicts else ""])
            if "baseline" in row:
                b = row["baseline"]
                before.append([scale["label"], row["command"], _ms(b["median_s"]), _ms(p["median_s"]),
                               f"{row['baseline_ratio']:.2f}", f"{b['peak_rss_mb']:.0f}", f"{p['peak_rss_mb']:.0f}"])
            if any(name.startswith("raw-") for name in row):
                pages.append((scale["label"], row))
    text = tabulate(table, tablefmt="github", headers=[
        "scale", "command", "plugin ms", "range ms", "peak MB", "requests", "raw ms", "plugin/raw", "decoded ms",
        "plugin/decoded", "kubectl ms",
        "kubectl req", "plugin/kubectl", ""])
    if pages:
        sizes = sorted({int(name[4:]) for _, row in pages for name in row if name.startswith("raw-")})
        cells = [[label, row["command"], _ms(row["raw"]["median_s"]),
                  *(_ms(row[f"raw-{n}"]["median_s"]) if f"raw-{n}" in row else "" for n in sizes)]
                 for label, row in pages]
        text += "\n\nraw ms by page size\n" + tabulate(cells, tablefmt="github", headers=[
            "scale", "command", f"{LIST_PAGE_SIZE} (plugin's)", *(str(n) for n in sizes)])
    if before:
        text += "\n\nbaseline (--baseline) and plugin\n" + tabulate(before, tablefmt="github", headers=[
            "scale", "command", "baseline ms", "plugin ms", "plugin/baseline", "baseline MB", "plugin MB"])
    loads = [f"{s['label']}: load average {s['load_before'][0]:.1f} before, {s['load_after'][0]:.1f} after"
             for s in results["scales"]]
    return text + "\n\n" + "\n".join(loads) + f" ({results['cores']} cores)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,4", help="comma-separated multipliers of the base size")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", default=os.path.join(REPO, ".bench"))
    parser.add_argument("--out", help="write the results as JSON here (default WORKDIR/results.json)")
    parser.add_argument("--base", default="500,5000,50,50", help="nodes,services,namespaces,pools at scale 1")
    parser.add_argument("--page-sizes", default="", help="comma-separated page sizes to time the raw requests with")
    parser.add_argument("--baseline", metavar="DIR", help="also time the plugin of another checkout (git archive)")
    parser.add_argument("--add-to", metavar="FILE", help="add the scales measured to this results file")
    parser.add_argument("--commands", default=",".join(COMMANDS), help=f"comma-separated, of: {', '.join(COMMANDS)}")
    opts = parser.parse_args(argv)
    page_sizes = [int(n) for n in opts.page_sizes.split(",") if n]
    commands = [c for c in opts.commands.split(",") if c]
    if unknown := sorted(set(commands) - set(COMMANDS)):
        parser.error(f"unknown command {', '.join(unknown)}: choose from {', '.join(COMMANDS)}")
    base = load.Size(*(int(n) for n in opts.base.split(",")))
    results = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": os.cpu_count(), "scales": []}
    if opts.add_to:
        with open(opts.add_to) as handle:
            results = json.load(handle)
    for factor in (int(f) for f in opts.scales.split(",")):
        size = base.scaled(factor)
        started = time.strftime("%H:%M:%SZ", time.gmtime())
        load_before = os.getloadavg()
        rows = bench_scale(opts.workdir, size, opts.runs, page_sizes, opts.baseline, commands)
        results["scales"].append({"label": f"{factor}x", "size": json.loads(size.key()), "runs": opts.runs,
                                  "started": started,
                                  "load_before": load_before, "load_after": os.getloadavg(), "rows": rows})
    out = opts.out or opts.add_to or os.path.join(opts.workdir, "results.json")
    with open(out, "w") as handle:
        json.dump(results, handle, indent=2)
    print(render(results))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
