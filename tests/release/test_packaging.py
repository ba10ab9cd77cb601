"""The PyPI sdist and wheel, built as the release workflow builds them (`make pypi-dist`: `python -m build
--no-isolation`, with the setuptools of the test environment, so nothing is downloaded), checked by twine, and the
wheel installed with its dependencies into a fresh virtual environment, offline, from the pinned downloads of the
krew build (`make dist-deps`)."""

import email.parser
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest
from helpers import REPO

from metallb_plugin import __version__

from .conftest import load_tool

build = load_tool("dist", "build.py")
SDIST = f"kubectl_metallb-{__version__}.tar.gz"
WHEEL = f"kubectl_metallb-{__version__}-py3-none-any.whl"
OFFLINE = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def tracked_files():
    listed = subprocess.run(["git", "-C", REPO, "ls-files", "-z"], capture_output=True, text=True, check=True)
    return {name for name in listed.stdout.split("\0") if name and os.path.isfile(os.path.join(REPO, name))}


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """(sdist, wheel) built from a copy of the repository's tracked files, so the build sees what a clone has."""
    source = tmp_path_factory.mktemp("source")
    for name in tracked_files():
        os.makedirs(source / os.path.dirname(name), exist_ok=True)
        shutil.copy2(os.path.join(REPO, name), source / name)
    out = tmp_path_factory.mktemp("pypi")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ, **OFFLINE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(os.listdir(out)) == sorted([SDIST, WHEEL]), os.listdir(out)
    return out / SDIST, out / WHEEL


def test_twine_accepts_both(packages):
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, packages)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_twine_refuses_a_broken_description(packages, tmp_path):
    """A control for the test above: twine really reads the metadata (a description that does not render)."""
    sdist, _ = packages
    broken = tmp_path / SDIST
    with tarfile.open(sdist) as source, tarfile.open(broken, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name.endswith("/PKG-INFO") and member.name.count("/") == 1:
                data = data.replace(b"Description-Content-Type: text/markdown",
                                    b"Description-Content-Type: text/x-rst")
                data += b"\n.. broken:: directive\n   `unclosed\n"
                member.size = len(data)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(broken)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and "FAILED" in done.stdout


def metadata(text):
    return email.parser.Parser().parsestr(text)


def test_sdist_holds_the_license_the_readme_and_nothing_from_outside(packages):
    sdist, _ = packages
    root = f"kubectl_metallb-{__version__}/"
    with tarfile.open(sdist) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
        info = metadata(tar.extractfile(root + "PKG-INFO").read().decode())
        license_text = tar.extractfile(root + "LICENSE").read()
    assert all(name.startswith(root) for name in names)
    inside = {name[len(root):] for name in names}
    assert {"LICENSE", "README.md", "PKG-INFO", "setup.cfg", "pyproject.toml", "metallb_plugin/cli.py"} <= inside
    with open(os.path.join(REPO, "LICENSE"), "rb") as handle:
        assert license_text == handle.read()
    # every file is one of the repository's own, or metadata the build generates: no test data from outside
    generated = {n for n in inside if n == "PKG-INFO" or n.startswith("kubectl_metallb.egg-info/")}
    assert inside - generated <= tracked_files()
    assert not [n for n in inside if n.startswith(("tests/", "benchmarks/")) or "metallb-native" in n]
    assert info["Name"] == "kubectl-metallb" and info["Version"] == __version__
    assert info["Requires-Python"] == f">={build.PYTHON_MINIMUM}"


def test_wheel_is_pure_python_with_the_entry_point_and_dependencies(packages):
    _, wheel = packages
    info_dir = f"kubectl_metallb-{__version__}.dist-info/"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = metadata(archive.read(info_dir + "METADATA").decode())
        entry_points = archive.read(info_dir + "entry_points.txt").decode()
        wheel_info = archive.read(info_dir + "WHEEL").decode()
    assert "Root-Is-Purelib: true" in wheel_info
    assert "[console_scripts]\nkubectl-metallb = metallb_plugin.cli:main" in entry_points
    assert any(n.startswith(info_dir) and n.endswith("LICENSE") for n in names)
    packaged = {n for n in names if not n.startswith(info_dir)}
    # the modules and their data files (setup.cfg's package_data: the pinned releases' digests)
    assert packaged == {n for n in tracked_files() if n.startswith("metallb_plugin/") and n.endswith((".py", ".json"))}
    requires = sorted(r for r in info.get_all("Requires-Dist") if "extra ==" not in r)
    assert [r.split(">")[0].split("<")[0] for r in requires] == sorted(build.declared_requirements())


def wheelhouse(folder, python):
    """The pinned dependencies of the krew build, as wheels: PyPI's pure wheels, and PyYAML built from its sdist
    with the local setuptools (PyPI has no pure-Python PyYAML wheel)."""
    os.makedirs(folder)
    pins = build.read_requirements()
    cache = build.default_cache()
    have = build._cached(cache) if os.path.isdir(cache) else {}
    missing = [f"{name}=={version}" for name, version, sha in pins if sha not in have]
    assert not missing, f"not downloaded yet: {', '.join(missing)} (run `make dist-deps`)"
    for name, _, sha in pins:
        path = have[sha]
        if path.endswith(".whl"):
            shutil.copy(path, folder)
        else:
            done = subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                                   "--wheel-dir", str(folder), path], capture_output=True, text=True, timeout=600,
                                  env=dict(os.environ, **OFFLINE))
            assert done.returncode == 0, f"building {name}: {done.stderr}"
    return folder


def test_the_wheel_installs_into_a_fresh_venv_and_runs(packages, tmp_path):
    _, wheel = packages
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    house = wheelhouse(tmp_path / "wheels", sys.executable)
    env = dict(os.environ, **OFFLINE)
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--find-links",
                           str(house), str(wheel)], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "check"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stdout
    # the console script pip made, with a PATH that has nothing else of ours
    clean = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    done = subprocess.run(["kubectl-metallb", "version", "--client"], capture_output=True, text=True, timeout=120,
                          env=clean, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Client Version: v{__version__}\n"
    # the dependencies came along: a command that needs the Kubernetes client gets as far as the kubeconfig
    done = subprocess.run(["kubectl-metallb", "--kubeconfig", str(tmp_path / "missing"), "status"],
                          capture_output=True, text=True, timeout=120, env=clean, cwd=tmp_path)
    assert "Traceback" not in done.stderr and "No module named" not in done.stderr
    assert done.returncode == 3 and done.stderr.startswith("error: ")
    imported = subprocess.run([str(venv / "bin" / "python"), "-c", "import kubernetes, tabulate, yaml; "
                               "print(kubernetes.__file__)"], capture_output=True, text=True, env=clean)
    assert imported.stdout.startswith(str(venv)), imported.stderr
