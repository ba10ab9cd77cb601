"""Fixtures of the release tests: the release tools (tools/release/build.sh) and the release build's modules."""

import importlib.util
import os
import subprocess

import pytest

from helpers import REPO

BIN = os.path.join(REPO, "bin")


def load_tool(*path):
    """A tool script under tools/ as a module (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(path[-1][:-3], os.path.join(REPO, "tools", *path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def release_tools():
    """bin/ with krew-template and actionlint (built by `make release-tools`; a no-op when they are there)."""
    done = subprocess.run([os.path.join(REPO, "tools", "release", "build.sh")], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    return BIN


def krew_template(bin_dir, *args, check=True):
    done = subprocess.run([os.path.join(bin_dir, "krew-template"), *map(str, args)], capture_output=True,
                          text=True, timeout=60)
    if check:
        assert done.returncode == 0, done.stderr
    return done
