"""Helpers of the release tests (the release_tools and krew_tools fixtures are in tests/conftest.py)."""

import importlib.util
import os
import subprocess

from helpers import REPO


def load_tool(*path):
    """A tool script under tools/ as a module (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(path[-1][:-3], os.path.join(REPO, "tools", *path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def krew_template(bin_dir, *args, check=True):
    done = subprocess.run([os.path.join(bin_dir, "krew-template"), *map(str, args)], capture_output=True,
                          text=True, timeout=60)
    if check:
        assert done.returncode == 0, done.stderr
    return done
