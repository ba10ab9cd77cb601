""".krew.yaml, the krew-release-bot template, and krew-manifest.yaml rendered from it.

krew-template renders the template with Go's text/template and the bot's two functions (addURIAndSha, indent),
taking the archives' digests from local files; the rendering is then judged by krew's own validator.
"""

import hashlib
import os
import re
import shutil
import subprocess

import pytest
import yaml
from helpers import REPO

from metallb_plugin import __version__

from .conftest import krew_template, load_tool

build = load_tool("dist", "build.py")
TAG = "v9.8.7"
ARCHIVE = f"kubectl-metallb_{TAG}.tar.gz"


@pytest.fixture
def archive_dir(tmp_path):
    """A folder with a stand-in archive for TAG (its digest is all that rendering reads)."""
    (tmp_path / ARCHIVE).write_bytes(b"stand-in archive for " + TAG.encode())
    return tmp_path


def sha_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render_krew_yaml(release_tools, archive_dir, tag=TAG):
    out = archive_dir / "metallb.yaml"
    krew_template(release_tools, "-template", os.path.join(REPO, ".krew.yaml"), "-tag", tag, "-assets",
                  archive_dir, "-o", out)
    return out


# ------------------------------------------------------------------------------------------- the renderer


def test_add_uri_and_sha_fills_the_tag_and_the_digest(release_tools, tmp_path):
    """The URL is a template of its own; the pair lands four spaces deep, as in a platform entry."""
    (tmp_path / "tool-v1.0.0-linux.tar.gz").write_bytes(b"linux build")
    (tmp_path / "t.yaml").write_text(
        "spec:\n"
        "  version: {{ .TagName }}\n"
        "  platforms:\n"
        "  - selector: {matchLabels: {os: linux}}\n"
        '    {{ addURIAndSha "https://example.test/dl/{{ .TagName }}/tool-{{ .TagName }}-linux.tar.gz" .TagName }}\n'
        "    bin: tool\n")
    text = krew_template(release_tools, "-template", tmp_path / "t.yaml", "-tag", "v1.0.0", "-assets",
                         tmp_path).stdout
    digest = sha_of(tmp_path / "tool-v1.0.0-linux.tar.gz")
    assert text == ("spec:\n"
                    "  version: v1.0.0\n"
                    "  platforms:\n"
                    "  - selector: {matchLabels: {os: linux}}\n"
                    "    uri: https://example.test/dl/v1.0.0/tool-v1.0.0-linux.tar.gz\n"
                    f"    sha256: {digest}\n"
                    "    bin: tool\n")


def test_indent_moves_the_pair_to_another_depth(release_tools, tmp_path):
    (tmp_path / "a.tgz").write_bytes(b"a")
    (tmp_path / "t.yaml").write_text(
        "spec:\n"
        "    platforms:\n"
        "    - bin: a\n"
        '      {{ addURIAndSha "https://example.test/a.tgz" .TagName | indent 6 }}\n')
    text = krew_template(release_tools, "-template", tmp_path / "t.yaml", "-tag", "v2", "-assets",
                         tmp_path).stdout
    digest = sha_of(tmp_path / "a.tgz")
    assert text.endswith(f"    - bin: a\n      uri: https://example.test/a.tgz\n      sha256: {digest}\n")
    assert yaml.safe_load(text)["spec"]["platforms"] == [
        {"bin": "a", "uri": "https://example.test/a.tgz", "sha256": digest}]


def test_a_list_item_may_start_with_the_pair(release_tools, tmp_path):
    """With two-space indentation, `  - {{ addURIAndSha ... }}` needs no indent: the item's keys are four deep."""
    (tmp_path / "a.tgz").write_bytes(b"a")
    (tmp_path / "t.yaml").write_text(
        "platforms:\n"
        '  - {{ addURIAndSha "https://example.test/a.tgz" .TagName }}\n'
        "    bin: b\n")
    text = krew_template(release_tools, "-template", tmp_path / "t.yaml", "-tag", "v2", "-assets",
                         tmp_path).stdout
    assert yaml.safe_load(text) == {"platforms": [{"uri": "https://example.test/a.tgz",
                                                   "sha256": sha_of(tmp_path / "a.tgz"), "bin": "b"}]}


def test_digests_from_a_checksums_file(release_tools, tmp_path):
    (tmp_path / "sums.txt").write_text(f"{'ab' * 32}  a.tgz\n{'cd' * 32} *b.tgz\n")
    (tmp_path / "t.yaml").write_text('{{ addURIAndSha "https://example.test/x/b.tgz" .TagName }}\n')
    text = krew_template(release_tools, "-template", tmp_path / "t.yaml", "-tag", "v1", "-checksums",
                         tmp_path / "sums.txt").stdout
    assert text == f"uri: https://example.test/x/b.tgz\n    sha256: {'cd' * 32}\n"


@pytest.mark.parametrize("template, source, message", [
    ('{{ addURIAndSha "https://example.test/missing.tgz" .TagName }}', "assets",
     "no local archive for https://example.test/missing.tgz"),
    ('{{ addURIAndSha "https://example.test/missing.tgz" .TagName }}', "checksums",
     "names no sha256 for missing.tgz"),
    ("owner: {{ .PluginOwner }}", "assets", "can't evaluate field PluginOwner"),
    ("{{ addURIAndSha }}", "assets", "wrong number of args for addURIAndSha"),
    ("{{ if }}", "assets", "missing value for if"),
])
def test_a_template_that_cannot_render_writes_nothing(release_tools, tmp_path, template, source, message):
    (tmp_path / "t.yaml").write_text(template + "\n")
    (tmp_path / "sums.txt").write_text(f"{'ab' * 32}  other.tgz\n")
    where = ["-assets", tmp_path] if source == "assets" else ["-checksums", tmp_path / "sums.txt"]
    out = tmp_path / "out.yaml"
    done = krew_template(release_tools, "-template", tmp_path / "t.yaml", "-tag", "v1", *where, "-o", out,
                         check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert not out.exists() and not (tmp_path / "out.yaml.tmp").exists()


def test_a_malformed_checksums_file_is_refused(release_tools, tmp_path):
    (tmp_path / "sums.txt").write_text("not a checksum line\n")
    (tmp_path / "t.yaml").write_text("x\n")
    done = krew_template(release_tools, "-template", tmp_path / "t.yaml", "-tag", "v1", "-checksums",
                         tmp_path / "sums.txt", check=False)
    assert done.returncode == 1 and "sums.txt:1: expected '<sha256>  <file name>'" in done.stderr


# ------------------------------------------------------------------------------------------- .krew.yaml


def test_krew_yaml_renders_one_archive_for_four_platforms(release_tools, archive_dir):
    doc = yaml.safe_load(render_krew_yaml(release_tools, archive_dir).read_text())
    assert doc["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert doc["kind"] == "Plugin" and doc["metadata"]["name"] == "metallb"
    spec = doc["spec"]
    assert spec["version"] == TAG
    repository = re.fullmatch(r"https://github.com/([\w.-]+/[\w.-]+)", spec["homepage"]).group(1)
    assert "\n" not in spec["shortDescription"] and spec["description"]
    assert f"Python {build.PYTHON_MINIMUM} or newer" in spec["caveats"] and "python3" in spec["caveats"]
    assert "kubectl_complete-metallb" in spec["caveats"]
    selectors = [(p["selector"]["matchLabels"]["os"], p["selector"]["matchLabels"]["arch"])
                 for p in spec["platforms"]]
    assert sorted(selectors) == [("darwin", "amd64"), ("darwin", "arm64"), ("linux", "amd64"), ("linux", "arm64")]
    for platform in spec["platforms"]:
        assert platform["uri"] == f"https://github.com/{repository}/releases/download/{TAG}/{ARCHIVE}"
        assert platform["sha256"] == sha_of(archive_dir / ARCHIVE)
        assert platform["bin"] == build.BINARY
        assert platform["files"] == [{"from": build.BINARY, "to": "."}, {"from": "LICENSE", "to": "."}]


def test_krew_yaml_sets_the_repository_once():
    with open(os.path.join(REPO, ".krew.yaml"), encoding="utf-8") as handle:
        text = handle.read()
    assert len(re.findall(r'\$repository := "[\w.-]+/[\w.-]+"', text)) == 1
    # every GitHub URL is made from it
    assert set(re.findall(r"https://github\.com/(%s|\{\{ \$repository \}\})", text)) == {"%s",
                                                                                       "{{ $repository }}"}
    assert len(re.findall(r"https://github\.com/", text)) == 2


def test_krews_validator_accepts_the_rendered_template(release_tools, krew_tools, archive_dir):
    manifest = render_krew_yaml(release_tools, archive_dir)  # named metallb.yaml, as krew wants
    done = subprocess.run([os.path.join(krew_tools, "validate-krew-manifest"), "-manifest", str(manifest),
                           "-skip-install"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "structural validation OK" in done.stderr
    assert "no overlapping spec.platform[].selector" in done.stderr


def test_krews_validator_refuses_what_it_should(krew_tools, release_tools, archive_dir):
    """The validator is strict where the template could go wrong (a control for the test above)."""
    manifest = render_krew_yaml(release_tools, archive_dir)
    text = manifest.read_text()
    manifest.write_text(text.replace("arch: arm64", "arch: amd64", 1))  # linux/amd64 twice
    done = subprocess.run([os.path.join(krew_tools, "validate-krew-manifest"), "-manifest", str(manifest),
                           "-skip-install"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "overlap" in done.stderr


# ------------------------------------------------------------------------------------------- krew-manifest.yaml


def test_krew_manifest_is_the_template_rendered_for_the_package_version(release_tools, tmp_path):
    """krew-manifest.yaml is .krew.yaml rendered for v<version> with the digest it names: no field is edited by
    hand or left over from an older template. The digest itself belongs to the release commit's archive, which
    `make release-check` rebuilds (test_release_check.py)."""
    with open(os.path.join(REPO, "krew-manifest.yaml"), encoding="utf-8") as handle:
        text = handle.read()
    tag = f"v{__version__}"
    digests = set(re.findall(r"\n    sha256: ([0-9a-f]{64})\n", text))
    assert len(digests) == 1
    (tmp_path / "sums.txt").write_text(f"{digests.pop()}  kubectl-metallb_{tag}.tar.gz\n")
    rendered = krew_template(release_tools, "-template", os.path.join(REPO, ".krew.yaml"), "-tag", tag,
                             "-checksums", tmp_path / "sums.txt").stdout
    assert text == rendered


def test_krews_validator_accepts_the_committed_manifest(krew_tools, tmp_path):
    target = tmp_path / "metallb.yaml"
    shutil.copy(os.path.join(REPO, "krew-manifest.yaml"), target)
    done = subprocess.run([os.path.join(krew_tools, "validate-krew-manifest"), "-manifest", str(target),
                           "-skip-install"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
