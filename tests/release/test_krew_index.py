"""krew-index's own check of krew-manifest.yaml, install included.

krew-index CI runs validate-krew-manifest without -skip-install on every plugin update: for each platform,
`kubectl krew install --manifest` downloads the archive from the manifest's URL, checks its sha256, extracts it and
looks for a license file. The URL is on github.com; here a stand-in for it (github_mirror.py, in private network and
mount namespaces, so nothing leaves the machine) serves the archive that the release commit builds, which is what the
release publishes. So the committed manifest is proven to install, on every platform it names, the archive its
release commit builds.
"""

import os
import re
import shutil
import subprocess
import sys
import urllib.parse

import pytest
from helpers import REPO

from .conftest import load_tool

release = load_tool("release", "release.py")
MIRROR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "github_mirror.py")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A throw-away CA and a certificate for github.com that it signed."""
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args):
        done = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=kubectl-metallb test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "github.com.key", "-out", "github.com.csr",
            "-subj", "/CN=github.com")
    (folder / "ext.cnf").write_text("subjectAltName=DNS:github.com\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "github.com.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "github.com.pem", "-days", "1", "-extfile", "ext.cnf")
    return folder


@pytest.fixture(scope="module")
def release_archive(tmp_path_factory):
    """The archive of the commit that wrote krew-manifest.yaml (or of the work tree while that is uncommitted)."""
    scratch = tmp_path_factory.mktemp("release")
    commit = release.release_commit(REPO)
    if commit is None:
        name, _ = release.build_archive(REPO, str(scratch / "dist"))
    else:
        name, _ = release.build_commit_archive(REPO, commit, str(scratch))
    return scratch / "dist" / name


def validate_with_install(manifest, archive, certificates, krew_tools, tmp_path):
    text = manifest.read_text()
    paths = {urllib.parse.urlparse(uri).path for uri in re.findall(r"uri: (https://github\.com/\S+)", text)}
    assert len(paths) == 1  # one archive for every platform
    env = {"PATH": os.pathsep.join([krew_tools, os.path.dirname(sys.executable), "/usr/sbin", "/usr/bin", "/sbin",
                                    "/bin"]), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    return subprocess.run(["unshare", "--mount", "--net", "--fork", sys.executable, MIRROR, str(certificates),
                           f"{paths.pop()}={archive}", "--", os.path.join(krew_tools, "validate-krew-manifest"),
                           "-manifest", str(manifest)], capture_output=True, text=True, env=env, timeout=600)


def test_krew_index_validation_installs_the_release_archive_everywhere(certificates, release_archive, krew_tools,
                                                                       tmp_path):
    manifest = tmp_path / "metallb.yaml"  # named after the plugin, as in krew-index
    shutil.copy(os.path.join(REPO, "krew-manifest.yaml"), manifest)
    done = validate_with_install(manifest, release_archive, certificates, krew_tools, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "all 4 spec.platforms installed fine" in done.stderr
    served = re.findall(r"mirror: GET (\S+) 200", done.stderr)
    assert len(served) == 4 and served[0].endswith(f"/{release_archive.name}")


def test_krew_index_validation_refuses_another_archive(certificates, release_archive, krew_tools, tmp_path):
    """A control: served an archive with another digest, the same check fails on the sha256."""
    manifest = tmp_path / "metallb.yaml"
    shutil.copy(os.path.join(REPO, "krew-manifest.yaml"), manifest)
    other = tmp_path / release_archive.name
    other.write_bytes(release_archive.read_bytes() + b"\0")
    done = validate_with_install(manifest, other, certificates, krew_tools, tmp_path)
    assert done.returncode != 0
    digest = re.search(r"sha256: ([0-9a-f]{64})", manifest.read_text()).group(1)
    assert f"checksum does not match, want: {digest}" in done.stderr
    assert "spec.platforms[0] failed to install" in done.stderr
