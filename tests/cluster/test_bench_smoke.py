"""A tiny run of the benchmark (benchmarks/bench.py), so that it cannot rot between real runs."""

import json
import os
import sys

from helpers import REPO

sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import bench  # noqa: E402


def test_benchmark_runs_end_to_end(tmp_path, upstream_manifest, capsys):
    upstream_manifest("v0.16.1")  # the benchmark installs the real manifest
    out = tmp_path / "results.json"
    assert bench.main(["--base", "6,20,2,2", "--scales", "1", "--runs", "1", "--workdir", str(tmp_path),
                       "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    rows = {row["command"]: row for row in results["scales"][0]["rows"]}
    assert set(rows) == {"--help", "version", "preflight", "status", "pools", "analyze", "report", "drain"}
    assert rows["--help"]["plugin"]["requests"] == 0 and "raw" not in rows["--help"]
    assert rows["version"]["plugin"]["requests"] == rows["version"]["raw"]["requests"] == 1
    for name in ("preflight", "status", "pools", "analyze", "report", "drain"):
        assert rows[name]["plugin"]["requests"] > 0, name  # counted on the server, from its audit log
        assert rows[name]["kubectl"]["requests"] > 0, name
        assert rows[name]["kubectl_calls"], name
        assert rows[name]["plugin"]["median_s"] > 0
        assert rows[name]["raw"]["requests"] > 0 and rows[name]["raw_ratio"] > 0, name
    # the raw client sends the plugin's reads again: every GET and LIST page (preflight's access reviews aside)
    assert rows["status"]["raw"]["requests"] == rows["status"]["plugin"]["requests"]
    assert rows["status"]["decoded"]["requests"] == rows["status"]["raw"]["requests"]
    assert rows["pools"]["raw"]["requests"] == rows["pools"]["plugin"]["requests"]
    assert "| 1x" in capsys.readouterr().out
