import os
import subprocess
import sys

import pytest

# tests import their helpers (tests/helpers.py) and the control plane runner by plain module name
sys.path.insert(0, os.path.dirname(__file__))

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _build(script):
    """Run a tools/ build script (a no-op when its pinned tools are in bin/ already); bin/."""
    done = subprocess.run([os.path.join(REPO, "tools", script)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return os.path.join(REPO, "bin")


@pytest.fixture(scope="session")
def krew_tools():
    """bin/ with krew (as kubectl-krew) and validate-krew-manifest (`make krew`)."""
    return _build("krew/build.sh")


@pytest.fixture(scope="session")
def release_tools():
    """bin/ with krew-template and actionlint (`make release-tools`)."""
    return _build("release/build.sh")
