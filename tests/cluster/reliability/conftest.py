"""Shared by the reliability tests: a tally of what was tried, and the plugin runner that feeds it.

Every figure `make reliability` prints comes from here: tests call `tally.add(name, n)` for what they did
(inputs tried, faults injected, race trials, lost updates) and run the plugin through `tally.run(...)`, which
counts runs and any traceback seen before failing on it. With RELIABILITY_REPORT set, the counts are written to
that JSON file when the session ends (tools/reliability.py reads it); otherwise they are not written anywhere.
"""

import json
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

from helpers import REPO, run_plugin

REPORT_ENV = "RELIABILITY_REPORT"

# A session started in the background (`make test &`, nohup, a CI step without a terminal) inherits SIGINT ignored,
# and so would the plugin processes these tests interrupt with Ctrl-C: give the session Python's default handler,
# which its children get back as the default action.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


class Tally:
    def __init__(self):
        self.counts = Counter()

    def add(self, name, n=1):
        self.counts[name] += n

    def run(self, *args, **kwargs):
        """helpers.run_plugin, counted; a traceback is counted, then fails the test as run_plugin does."""
        self.add("plugin runs")
        try:
            return run_plugin(*args, **kwargs)
        except AssertionError:
            self.add("tracebacks")
            raise

    def run_as(self, uid, *args, env=None, timeout=120):
        """The plugin as another (unprivileged) user, via setpriv: for checks root would bypass."""
        full_env = dict(os.environ)
        full_env.pop("KUBECONFIG", None)
        full_env.update(env or {})
        full_env["HOME"] = "/nonexistent"
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                sys.executable, "-m", "metallb_plugin", *args]
        self.add("plugin runs")
        result = subprocess.run(argv, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)
        self.check_stderr(result.stderr)
        return result

    def check_stderr(self, stderr):
        """For plugin processes a test drives itself (Popen): count and fail on a traceback."""
        if "Traceback" in stderr:
            self.add("tracebacks")
            raise AssertionError(stderr)

    def write(self, path):
        previous = {}
        if os.path.exists(path):  # several pytest sessions may add to one report
            with open(path) as handle:
                previous = json.load(handle)
        merged = Counter(previous)
        merged.update(self.counts)
        with open(path, "w") as handle:
            json.dump(dict(sorted(merged.items())), handle, indent=2)


_TALLY = Tally()


@pytest.fixture(scope="session")
def tally():
    yield _TALLY
    path = os.environ.get(REPORT_ENV)
    if path:
        _TALLY.write(path)
