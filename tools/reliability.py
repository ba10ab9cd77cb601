#!/usr/bin/env python3
"""Run the reliability tests (tests/cluster/reliability) and print what they tried (`make reliability`).

    tools/reliability.py [PYTEST ARGS...]

The tests count as they go (inputs tried, plugin runs, faults injected, race trials, lost updates, tracebacks)
and write the counts to the JSON file named by RELIABILITY_REPORT; this script points that at a fresh temporary
file, runs pytest, and prints the figures. The exit code is pytest's.
"""

import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = "tests/cluster/reliability"


def total(counts, prefix):
    return sum(n for name, n in counts.items() if name.startswith(prefix))


def summary(counts, code):
    detail = lambda prefix: ", ".join(f"{name[len(prefix):].strip()} {n:,}" for name, n in sorted(counts.items())
                                      if name.startswith(prefix))
    lines = [
        f"reliability summary ({SUITE}, pytest exit {code})",
        f"  inputs tried      {total(counts, 'inputs:'):>8,}  ({detail('inputs:')})",
        f"  plugin runs       {counts.get('plugin runs', 0):>8,}",
        f"  faults injected   {total(counts, 'faults:'):>8,}  ({detail('faults:')})",
        f"  tracebacks seen   {counts.get('tracebacks', 0):>8,}",
        f"  lost updates      {counts.get('lost updates', 0):>8,}  (in {counts.get('race trials', 0)} race trials; "
        f"{counts.get('race conflicts detected and retried', 0)} conflicts detected and retried)",
        f"  outputs searched for secrets {counts.get('security: outputs searched for secrets', 0):,}",
    ]
    return "\n".join(lines)


def main(argv):
    with tempfile.TemporaryDirectory(prefix="reliability-") as where:
        report = os.path.join(where, "report.json")
        env = dict(os.environ, RELIABILITY_REPORT=report)
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", SUITE, *argv], cwd=REPO, env=env)
        counts = {}
        if os.path.exists(report):
            with open(report) as handle:
                counts = json.load(handle)
        print()
        print(summary(counts, code) if counts else f"no counts were written (pytest exit {code})")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
