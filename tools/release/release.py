#!/usr/bin/env python3
"""Check that the repository is ready to tag a release (`make release-check VERSION=vX.Y.Z`).

    python3 tools/release/release.py check vX.Y.Z [--repository OWNER/NAME]
    python3 tools/release/release.py notes vX.Y.Z     # that version's CHANGELOG.md section (release notes)

It verifies that
  - the version strings agree: metallb_plugin/__init__.py, the newest release section of CHANGELOG.md
    (`## [X.Y.Z] - YYYY-MM-DD`) and krew-manifest.yaml (spec.version and the archive URLs);
  - krew-manifest.yaml is exactly what .krew.yaml renders for vX.Y.Z (bin/krew-template, the renderer the
    krew-release-bot template is written for), so no field was edited by hand;
  - the digest krew-manifest.yaml names is that of the archive built from the commit that last wrote the file
    (the release commit; the work tree while the file has uncommitted changes). A later commit can change the
    plugin without making that digest wrong: it stays the digest of the release commit's archive, which is the
    commit to tag. The output says which commit that is, and whether the work tree still builds the same archive;
  - with --repository (the release workflow passes the repository it runs in): .krew.yaml names that repository.
Exit code 0 when all agree, 1 with one line per problem otherwise. Standard library only.
"""

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = ".krew.yaml"
MANIFEST = "krew-manifest.yaml"
CHANGELOG = "CHANGELOG.md"
VERSION = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
RELEASE_HEADING = re.compile(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?\s*$", re.MULTILINE)


class ReleaseError(Exception):
    pass


def _read(repo, name):
    try:
        with open(os.path.join(repo, name), encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ReleaseError(f"cannot read {name}: {exc.strerror}") from None


def package_version(repo):
    found = re.search(r'^__version__ = "([^"]+)"', _read(repo, "metallb_plugin/__init__.py"), re.MULTILINE)
    if not found:
        raise ReleaseError("metallb_plugin/__init__.py does not set __version__")
    return found.group(1)


def changelog_release(repo):
    """(version, date) of the newest release section of CHANGELOG.md, skipping [Unreleased]."""
    for name, date in RELEASE_HEADING.findall(_read(repo, CHANGELOG)):
        if name.lower() == "unreleased":
            continue
        if not date:
            raise ReleaseError(f"{CHANGELOG}: the section [{name}] has no date (## [{name}] - YYYY-MM-DD)")
        return name, date
    raise ReleaseError(f"{CHANGELOG} has no release section (## [X.Y.Z] - YYYY-MM-DD)")


def changelog_notes(repo, version):
    """The body of CHANGELOG.md's section for version (vX.Y.Z)."""
    text = _read(repo, CHANGELOG)
    headings = list(RELEASE_HEADING.finditer(text))
    for here, following in zip(headings, headings[1:] + [None]):
        if here.group(1) == version[1:]:
            return text[here.end():following.start() if following else len(text)].strip() + "\n"
    raise ReleaseError(f"{CHANGELOG} has no section [{version[1:]}]")


def manifest_digests(text):
    """{archive file name: sha256} from the uri/sha256 pairs of a rendered krew manifest."""
    pairs = re.findall(r"^\s*-?\s*uri: (\S+)\n\s*sha256: ([0-9a-f]{64})$", text, re.MULTILINE)
    digests = {}
    for uri, sha in pairs:
        name = uri.rsplit("/", 1)[-1]
        if digests.setdefault(name, sha) != sha:
            raise ReleaseError(f"{MANIFEST} names two digests for {name}")
    if not digests:
        raise ReleaseError(f"{MANIFEST} has no uri/sha256 pair")
    return digests


def render(repo, tag, digests, krew_template):
    """.krew.yaml rendered for tag, with the archives' digests taken from digests."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.writelines(f"{sha}  {name}\n" for name, sha in sorted(digests.items()))
    try:
        done = subprocess.run([krew_template, "-template", os.path.join(repo, TEMPLATE), "-tag", tag,
                               "-checksums", listing.name], capture_output=True, text=True)
    except OSError as exc:
        raise ReleaseError(f"cannot run {krew_template} ({exc.strerror}): run `make release-tools`") from None
    finally:
        os.unlink(listing.name)
    if done.returncode != 0:
        raise ReleaseError(f"{TEMPLATE} does not render for {tag}: {done.stderr.strip()}")
    return done.stdout


def release_commit(repo):
    """The commit that last changed krew-manifest.yaml, or None while the file has uncommitted changes."""
    def git(*args):
        done = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise ReleaseError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    if git("status", "--porcelain", "--", MANIFEST):
        return None
    if git("rev-parse", "--is-shallow-repository") == "true":
        raise ReleaseError(f"this clone is shallow, so the commit that wrote {MANIFEST} is unknown: "
                           f"fetch the whole history (git fetch --unshallow)")
    commit = git("log", "-1", "--format=%H", "--", MANIFEST)
    if not commit:
        raise ReleaseError(f"{MANIFEST} is not committed")
    return commit


def build_archive(tree, out):
    """Digest of the archive that tree's own tools/dist/build.py builds (the PyPI downloads are cached)."""
    done = subprocess.run([sys.executable, os.path.join(tree, "tools", "dist", "build.py"), "--out", out],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise ReleaseError(f"building the archive failed: {done.stderr.strip()}")
    with open(os.path.join(out, "checksums.txt"), encoding="utf-8") as handle:
        sha, name = handle.read().split()
    return name, sha


def build_commit_archive(repo, commit, scratch):
    """Build the archive from commit's tree (git archive), as the release workflow does from the tag."""
    tree = os.path.join(scratch, "tree")
    os.makedirs(tree)
    exported = subprocess.run(["git", "-C", repo, "archive", "--format=tar", commit], capture_output=True)
    if exported.returncode != 0:
        raise ReleaseError(f"git archive {commit}: {exported.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(exported.stdout)) as tar:
        tar.extractall(tree, filter="data")
    return build_archive(tree, os.path.join(scratch, "dist"))


def check(repo, version, repository=None, krew_template=None):
    """(problems, notes): the one-line problems that block tagging version, and what to tag."""
    krew_template = krew_template or os.path.join(repo, "bin", "krew-template")
    problems, notes = [], []
    if not VERSION.fullmatch(version):
        return [f"VERSION must look like v1.2.3 (got {version!r})"], notes
    plain = version[1:]
    try:
        if package_version(repo) != plain:
            problems.append(f"metallb_plugin/__init__.py has __version__ = {package_version(repo)!r}, "
                            f"not {plain!r}")
        name, date = changelog_release(repo)
        if name != plain:
            problems.append(f"the newest release in {CHANGELOG} is [{name}], not [{plain}]")
        manifest = _read(repo, MANIFEST)
        digests = manifest_digests(manifest)
        # a tag nobody uses shows whether the version and the archive URLs follow the tag
        probe = "v0.0.0"
        probed = render(repo, probe, {f"kubectl-metallb_{probe}.tar.gz": "0" * 64}, krew_template)
        archive = f"kubectl-metallb_{version}.tar.gz"
        rendered = render(repo, version, digests, krew_template) if set(digests) == {archive} else None
    except ReleaseError as exc:
        return problems + [str(exc)], notes
    probe_url = f"/download/{probe}/kubectl-metallb_{probe}.tar.gz\n"
    if f"\n  version: {probe}\n" not in probed or probe_url not in probed:
        problems.append(f"{TEMPLATE} does not take the version from the tag ({{{{ .TagName }}}})")
    if rendered is None:
        problems.append(f"{MANIFEST} is for {', '.join(sorted(digests))}, not {archive}: run `make krew-manifest`")
    elif manifest != rendered:
        problems.append(f"{MANIFEST} is not what {TEMPLATE} renders for {version}: run `make krew-manifest`")
    homepage = re.search(r"^  homepage: https://github.com/(\S+)$", probed, re.MULTILINE)
    if repository and (not homepage or homepage.group(1) != repository):
        named = homepage.group(1) if homepage else "no repository"
        problems.append(f"{TEMPLATE} names {named}, but the release is made in {repository}: "
                        f"set $repository at the top of {TEMPLATE}")
    if problems:
        return problems, notes
    try:
        commit = release_commit(repo)
        with tempfile.TemporaryDirectory() as scratch:
            if commit is None:
                built = build_archive(repo, os.path.join(scratch, "dist"))
                where = "the work tree (krew-manifest.yaml is not committed yet)"
            else:
                built = build_commit_archive(repo, commit, os.path.join(scratch, "release"))
                where = f"commit {commit[:12]}, which wrote {MANIFEST}"
            if built != (archive, digests[archive]):
                problems.append(f"{MANIFEST} names sha256 {digests[archive]}, but the archive built from {where} "
                                f"has {built[1]}: run `make krew-manifest`")
                return problems, notes
            here = built if commit is None else build_archive(repo, os.path.join(scratch, "head"))
    except ReleaseError as exc:
        return problems + [str(exc)], notes
    notes.append(f"{version}: package, {CHANGELOG} ({date}) and {MANIFEST} agree; archive sha256 {built[1]}")
    if commit is None:
        notes.append(f"commit {MANIFEST} (with the version bump), then tag that commit {version}")
    elif here == built:
        notes.append(f"tag HEAD (the work tree builds the archive of {commit[:12]}, which wrote {MANIFEST}): "
                     f"git tag -a {version} -m 'kubectl-metallb {version}' HEAD")
    else:
        notes.append(f"tag {commit[:12]}: git tag -a {version} -m 'kubectl-metallb {version}' {commit[:12]}; "
                     f"the work tree builds another archive (sha256 {here[1]}), so releasing it needs a new "
                     f"version and `make krew-manifest`")
    return problems, notes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    checking = sub.add_parser("check", help="check that version strings and krew-manifest.yaml agree")
    checking.add_argument("version", help="the tag to make, like v1.2.3")
    checking.add_argument("--repository", help="GitHub OWNER/NAME the release is made in")
    noting = sub.add_parser("notes", help="print a version's CHANGELOG.md section")
    noting.add_argument("version", help="the release, like v1.2.3")
    opts = parser.parse_args(argv)
    if opts.command == "notes":
        try:
            sys.stdout.write(changelog_notes(REPO, opts.version))
        except ReleaseError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    problems, notes = check(REPO, opts.version, opts.repository)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    for note in notes:
        print(note)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
