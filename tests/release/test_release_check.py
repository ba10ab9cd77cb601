"""`make release-check` (tools/release/release.py): on this repository, and on scratch copies of it made wrong in
the ways a release goes wrong. Builds use the cached PyPI downloads (`make dist-deps`), never the network."""

import os
import re
import subprocess
import sys

import pytest
from helpers import REPO

from metallb_plugin import __version__

from .conftest import load_tool

release = load_tool("release", "release.py")
TAG = f"v{__version__}"


def git(repo, *args):
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=Release Test", "-c",
                           "user.email=release@example.test", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def scratch(tmp_path, release_tools):
    """A one-commit git repository holding this repository's files as the release commit (the one that last wrote
    krew-manifest.yaml) has them: later commits may change the plugin, and its archive with it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    release_commit = git(REPO, "log", "-1", "--format=%H", "--", "krew-manifest.yaml")
    exported = subprocess.run(["git", "-C", REPO, "archive", "--format=tar", release_commit], capture_output=True,
                              check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=exported, check=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release")
    return repo


def run_check(repo, version=TAG, repository=None):
    return release.check(str(repo), version, repository, os.path.join(REPO, "bin", "krew-template"))


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_this_repository_is_ready_for_its_version(release_tools):
    problems, notes = run_check(REPO)
    assert problems == []
    assert notes[0].startswith(f"{TAG}: package, CHANGELOG.md (") and "krew-manifest.yaml agree" in notes[0]
    # what to tag: HEAD, or the release commit, or (krew-manifest.yaml not committed yet) the commit to come
    assert f"git tag -a {TAG} " in notes[1] or notes[1].startswith("commit krew-manifest.yaml")


def test_head_is_the_one_to_tag_while_it_builds_the_release_archive(scratch):
    problems, notes = run_check(scratch)
    assert problems == []
    head = git(scratch, "rev-parse", "HEAD")[:12]
    assert notes[1] == (f"tag HEAD (the work tree builds the archive of {head}, which wrote krew-manifest.yaml): "
                        f"git tag -a {TAG} -m 'kubectl-metallb {TAG}' HEAD")
    edit(scratch / "README.md", "\n", "\n\n")
    git(scratch, "commit", "-q", "-am", "a change that leaves the archive alone")
    assert run_check(scratch)[1][1] == notes[1]


def test_a_later_change_to_the_plugin_leaves_the_digest_true(scratch):
    """krew-manifest.yaml names the release commit's archive; a later commit does not make that wrong."""
    release_commit = git(scratch, "rev-parse", "HEAD")[:12]
    edit(scratch / "metallb_plugin" / "cli.py", "\n", "\n# a later change\n")
    git(scratch, "commit", "-q", "-am", "later change")
    problems, notes = run_check(scratch)
    assert problems == []
    assert notes[1].startswith(f"tag {release_commit}: git tag -a {TAG}")
    assert "the work tree builds another archive" in notes[1] and "needs a new version" in notes[1]


def test_a_digest_that_is_not_the_release_commits_archive_is_refused(scratch, tmp_path):
    manifest = scratch / "krew-manifest.yaml"
    digest = re.search(r"sha256: ([0-9a-f]{64})", manifest.read_text()).group(1)
    manifest.write_text(manifest.read_text().replace(digest, "0" * 64))
    git(scratch, "commit", "-q", "-am", "wrong digest")
    problems, _ = run_check(scratch)
    commit = git(scratch, "rev-parse", "HEAD")[:12]
    assert problems == [f"krew-manifest.yaml names sha256 {'0' * 64}, but the archive built from commit {commit}, "
                        f"which wrote krew-manifest.yaml has {digest}: run `make krew-manifest`"]


def test_an_uncommitted_manifest_describes_the_work_tree(scratch, tmp_path):
    """Preparing a release: krew-manifest.yaml rendered but not committed yet must name the work tree's archive."""
    edit(scratch / "metallb_plugin" / "cli.py", "\n", "\n# the change being released\n")
    built = subprocess.run([sys.executable, os.path.join(scratch, "tools", "dist", "build.py"), "--out",
                            str(tmp_path / "dist")],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    subprocess.run([os.path.join(REPO, "bin", "krew-template"), "-template", str(scratch / ".krew.yaml"), "-tag",
                    TAG, "-assets", str(tmp_path / "dist"), "-o", str(scratch / "krew-manifest.yaml")], check=True)
    assert git(scratch, "status", "--porcelain", "--", "krew-manifest.yaml")
    problems, notes = run_check(scratch)
    assert problems == []
    assert notes[1] == f"commit krew-manifest.yaml (with the version bump), then tag that commit {TAG}"
    edit(scratch / "metallb_plugin" / "cli.py", "\n", "\n# one more change\n")
    problems, _ = run_check(scratch)
    assert len(problems) == 1
    assert "but the archive built from the work tree (krew-manifest.yaml is not committed yet) has" in problems[0]


@pytest.mark.parametrize("change, problem", [
    (("metallb_plugin/__init__.py", f'__version__ = "{__version__}"', '__version__ = "9.9.9"'),
     f"metallb_plugin/__init__.py has __version__ = '9.9.9', not '{__version__}'"),
    (("CHANGELOG.md", f"## [{__version__}] - ", "## [9.9.9] - "),
     f"the newest release in CHANGELOG.md is [9.9.9], not [{__version__}]"),
    (("krew-manifest.yaml", "shortDescription: ", "shortDescription: Edited by hand. "),
     f"krew-manifest.yaml is not what .krew.yaml renders for {TAG}: run `make krew-manifest`"),
    ((".krew.yaml", "version: {{ .TagName }}", f"version: {TAG}"),
     ".krew.yaml does not take the version from the tag ({{ .TagName }})"),
])
def test_version_strings_that_disagree_are_refused(scratch, change, problem):
    name, old, new = change
    edit(scratch / name, old, new)
    problems, notes = run_check(scratch)
    assert problem in problems and notes == []


def test_changelog_sections_need_a_date(scratch):
    edit(scratch / "CHANGELOG.md", f"## [{__version__}] - ", f"## [{__version__}]\n\nwas: ")
    assert run_check(scratch)[0] == [f"CHANGELOG.md: the section [{__version__}] has no date "
                                     f"(## [{__version__}] - YYYY-MM-DD)"]


def test_another_version_is_refused_everywhere(scratch):
    problems, _ = run_check(scratch, "v9.9.9")
    assert f"metallb_plugin/__init__.py has __version__ = '{__version__}', not '9.9.9'" in problems
    assert f"the newest release in CHANGELOG.md is [{__version__}], not [9.9.9]" in problems
    assert (f"krew-manifest.yaml is for kubectl-metallb_{TAG}.tar.gz, not kubectl-metallb_v9.9.9.tar.gz: "
            "run `make krew-manifest`") in problems


@pytest.mark.parametrize("version", ["0.1.0", "v0.1", "v0.1.0-rc.1", "latest"])
def test_a_malformed_version_is_refused(scratch, version):
    assert run_check(scratch, version) == ([f"VERSION must look like v1.2.3 (got {version!r})"], [])


def test_the_release_must_be_made_in_the_templates_repository(scratch):
    homepage = re.search(r"homepage: https://github.com/(\S+)", (scratch / "krew-manifest.yaml").read_text())
    assert run_check(scratch, repository=homepage.group(1))[0] == []
    problems, _ = run_check(scratch, repository="someone/fork")
    assert problems == [f".krew.yaml names {homepage.group(1)}, but the release is made in someone/fork: set "
                        f"$repository at the top of .krew.yaml"]


def test_a_shallow_clone_is_told_to_fetch_the_history(scratch, tmp_path):
    edit(scratch / "README.md", "\n", "\n\n")
    git(scratch, "commit", "-q", "-am", "second")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{scratch}", str(shallow))
    problems, _ = run_check(shallow)
    assert problems == ["this clone is shallow, so the commit that wrote krew-manifest.yaml is unknown: "
                        "fetch the whole history (git fetch --unshallow)"]


def test_make_release_check_runs_the_check():
    done = subprocess.run(["make", "-s", "release-check", f"VERSION={TAG}"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{TAG}: package, CHANGELOG.md" in done.stdout
    done = subprocess.run(["make", "-s", "release-check", "VERSION=v0.0.0"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode != 0
    assert f"error: metallb_plugin/__init__.py has __version__ = '{__version__}', not '0.0.0'" in done.stderr
