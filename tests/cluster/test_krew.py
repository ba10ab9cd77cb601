"""The release archive, proven with the real krew (v0.4.3, built from the Go module proxy by tools/krew/build.sh).

The module builds the archive once (tools/dist/build.py; PyPI downloads are cached outside the repository, by
`make dist-deps`) and renders its manifest from .krew.yaml (tools/release/krew-template), then:
validate-krew-manifest accepts the manifest, `kubectl krew install --manifest --archive` installs it into a
temporary KREW_ROOT, and the real kubectl runs `kubectl metallb ...` through krew's symlink against the real API
server, with a python3 on PATH that has no package at all: the zipapp must bring everything it needs.
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from helpers import REPO
from metallb_plugin import __version__
from metallb_plugin.commands import completion

KUBECTL = os.path.join(os.path.dirname(sys.executable), "kubectl")
ARCHIVE = f"kubectl-metallb_v{__version__}.tar.gz"


def build_release(out, bin_dir):
    """The archive as `make dist` builds it, and its manifest rendered from .krew.yaml."""
    done = subprocess.run([sys.executable, os.path.join(REPO, "tools", "dist", "build.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([os.path.join(bin_dir, "krew-template"), "-template", os.path.join(REPO, ".krew.yaml"),
                           "-tag", f"v{__version__}", "-assets", str(out), "-o", str(out / "metallb.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return out / ARCHIVE, out / "metallb.yaml"


@pytest.fixture(scope="module")
def release(tmp_path_factory, release_tools):
    out = tmp_path_factory.mktemp("dist")
    return build_release(out, release_tools)


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A python3 with nothing installed (a fresh venv without pip), to go first on PATH."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python3"
    probe = subprocess.run([str(python), "-c", "import kubernetes"], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin"})
    assert "No module named 'kubernetes'" in probe.stderr  # the proof below means something
    return venv / "bin"


@pytest.fixture(scope="module")
def krew_env(tmp_path_factory, krew_tools, bare_python):
    """Environment of a user with krew: KREW_ROOT's bin first on PATH, then the bare python3; no .venv."""
    home = tmp_path_factory.mktemp("home")
    return {"HOME": str(home), "KREW_ROOT": str(home / "krew"), "XDG_CACHE_HOME": str(home / "cache"),
            "PATH": os.pathsep.join([str(home / "krew" / "bin"), str(bare_python), krew_tools, "/usr/bin", "/bin"]),
            "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def installed(release, krew_env):
    archive, manifest = release
    done = subprocess.run([KUBECTL, "krew", "install", f"--manifest={manifest}", f"--archive={archive}"],
                          capture_output=True, text=True, env=krew_env, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def kubectl(*args, env, check=True):
    done = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                          timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    if check:
        assert done.returncode == 0, done.stderr
    return done


# ------------------------------------------------------------------------------------------- the archive


def test_archive_holds_the_zipapp_and_the_license(release):
    archive, _ = release
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        app = tar.extractfile("kubectl-metallb").read()
        license_text = tar.extractfile("LICENSE").read()
    assert sorted(members) == ["LICENSE", "kubectl-metallb"]
    assert members["kubectl-metallb"].mode == 0o755  # krew keeps the mode from the archive
    assert members["LICENSE"].mode == 0o644
    with open(os.path.join(REPO, "LICENSE"), "rb") as handle:
        assert license_text == handle.read()
    assert app.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(io.BytesIO(app)) as bundle:
        names = bundle.namelist()
    assert names == sorted(names)
    for needed in ("__main__.py", "metallb_plugin/cli.py", "kubernetes/__init__.py", "yaml/__init__.py",
                   "tabulate/__init__.py", "urllib3/__init__.py", "certifi/cacert.pem", "socks.py",
                   "kubernetes-35.0.0.dist-info/licenses/LICENSE"):
        assert needed in names
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyc", ".dylib")) or "__pycache__" in n]
    assert not [n for n in names if n.startswith("_yaml")]


def test_same_inputs_give_the_same_archive(release, release_tools, tmp_path):
    archive, manifest = release
    again, again_manifest = build_release(tmp_path, release_tools)
    assert again.read_bytes() == archive.read_bytes()
    assert again_manifest.read_text() == manifest.read_text()


def test_manifest_and_checksums_name_the_archive_digest(release):
    archive, manifest = release
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (archive.parent / "checksums.txt").read_text() == f"{digest}  {ARCHIVE}\n"  # `sha256sum -c` format
    text = manifest.read_text()
    assert text.count(f"    sha256: {digest}\n") == 4
    assert f"version: v{__version__}\n" in text


# ------------------------------------------------------------------------------------------- real krew


def test_validate_krew_manifest_accepts_it(release, krew_tools):
    manifest = release[1]  # named metallb.yaml, after the plugin, as krew wants
    done = subprocess.run([os.path.join(krew_tools, "validate-krew-manifest"), "-manifest", str(manifest),
                           "-skip-install"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "structural validation OK" in done.stderr
    assert "no overlapping spec.platform[].selector" in done.stderr


def test_krew_installs_the_archive_and_shows_the_caveats(installed, krew_env):
    assert "Installed plugin: metallb" in installed.stderr
    assert "needs Python 3.9 or newer" in installed.stderr
    link = os.path.join(krew_env["KREW_ROOT"], "bin", "kubectl-metallb")
    target = os.path.realpath(link)
    assert target.endswith(os.path.join("store", "metallb", f"v{__version__}", "kubectl-metallb"))
    assert os.access(target, os.X_OK)
    assert os.path.exists(os.path.join(os.path.dirname(target), "LICENSE"))
    # krew's record of the install (`krew list` would need the index from the network)
    with open(os.path.join(krew_env["KREW_ROOT"], "receipts", "metallb.yaml")) as handle:
        assert f"version: v{__version__}" in handle.read()


def test_kubectl_runs_the_krew_installed_plugin_against_the_server(installed, krew_env, bare_python, controlplane):
    env = dict(krew_env, KUBECONFIG=controlplane.kubeconfig("admin"), PYTHONDONTWRITEBYTECODE="1")
    cache = os.path.join(krew_env["XDG_CACHE_HOME"], "kubectl-metallb")
    os.makedirs(os.path.join(cache, "0.0.1-0123456789abcdef"))  # an older build, to be replaced
    plugins = kubectl("plugin", "list", env=env, check=False).stdout
    assert os.path.join(krew_env["KREW_ROOT"], "bin", "kubectl-metallb") in plugins
    text = kubectl("metallb", "version", env=env).stdout
    assert f"Client Version: v{__version__}" in text
    assert "Server Version: v1." in text
    doc = json.loads(kubectl("metallb", "version", "-o", "json", env=env).stdout)
    bare = subprocess.run([str(bare_python / "python3"), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True)
    assert doc["clientVersion"]["python"] == bare.stdout.strip()
    assert doc["serverVersion"]["major"] == "1"
    # -o yaml needs PyYAML: the bundled pure-Python one
    assert "gitVersion: v1." in kubectl("metallb", "version", "-o", "yaml", env=env).stdout
    # the first run unpacked the build into the cache (replacing the older one), so later runs keep their
    # bytecode, even when the user's environment says not to write any into source trees
    unpacked = os.listdir(cache)
    assert len(unpacked) == 1 and unpacked[0].startswith(f"{__version__}-")
    compiled = [os.path.relpath(os.path.join(where, n), os.path.join(cache, unpacked[0]))
                for where, _, names in os.walk(os.path.join(cache, unpacked[0])) for n in names if n.endswith(".pyc")]
    packages = {path.split(os.sep)[0] for path in compiled}
    assert {"metallb_plugin", "urllib3", "yaml"} <= packages  # what the commands ran, compiled once
    assert "kubernetes" not in packages  # connecting with a token or certificate does not load the client


def test_runs_from_the_zip_when_it_cannot_unpack(installed, krew_env, controlplane, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    env = dict(krew_env, KUBECONFIG=controlplane.kubeconfig("admin"), XDG_CACHE_HOME=str(blocked))
    assert "Server Version: v1." in kubectl("metallb", "version", env=env).stdout
    env = dict(krew_env, KUBECONFIG=controlplane.kubeconfig("admin"), KUBECTL_METALLB_NO_CACHE="1")
    assert "Server Version: v1." in kubectl("metallb", "version", env=env).stdout


def test_the_archive_reaches_the_server_through_a_socks5_proxy(installed, krew_env, controlplane, tmp_path):
    """socks5:// proxies need PySocks, which the archive carries (pure Python)."""
    from netservers import Socks5Proxy

    config = json.load(open(controlplane.kubeconfig("admin")))
    with Socks5Proxy({"kubernetes": ("127.0.0.1", controlplane.port)}, user="jo", password="pw") as proxy:
        config["clusters"][0]["cluster"].update(server=f"https://kubernetes:{controlplane.port}",
                                                **{"proxy-url": f"socks5://jo:pw@127.0.0.1:{proxy.port}"})
        path = tmp_path / "socks.kubeconfig"
        path.write_text(json.dumps(config))
        text = kubectl("metallb", "version", env=dict(krew_env, KUBECONFIG=str(path))).stdout
        assert "Server Version: v1." in text
        assert proxy.requests == [("domain", "kubernetes")]


def test_completion_hook_next_to_krews_symlink(installed, krew_env, controlplane):
    """The README's step: write kubectl_complete-metallb into krew's bin; kubectl then completes the plugin."""
    env = dict(krew_env, KUBECONFIG=controlplane.kubeconfig("admin"))
    hook = os.path.join(krew_env["KREW_ROOT"], "bin", "kubectl_complete-metallb")
    with open(hook, "w") as handle:
        handle.write(kubectl("metallb", "completion", "kubectl", env=env).stdout)
    os.chmod(hook, 0o755)
    assert open(hook).read() == completion.KUBECTL_HOOK
    lines = kubectl("__complete", "metallb", "ver", env=env).stdout.splitlines()
    assert lines[0].startswith("version\t") and lines[-1] == ":4"
    lines = kubectl("__complete", "metallb", "--context", "", env=env).stdout.splitlines()
    assert lines == ["test", ":4"]
