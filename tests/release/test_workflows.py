"""The GitHub workflows (.github/workflows): valid for actionlint (with shellcheck on every `run:` script), and
doing what the project's CI and release need."""

import glob
import os
import re
import subprocess

import pytest
import yaml
from helpers import REPO

from .conftest import load_tool

build = load_tool("dist", "build.py")
WORKFLOWS = sorted(glob.glob(os.path.join(REPO, ".github", "workflows", "*.yml")))
SHELLCHECK = os.path.join(REPO, ".venv", "bin", "shellcheck")


def actionlint(bin_dir, *files):
    return subprocess.run([os.path.join(bin_dir, "actionlint"), "-no-color", "-shellcheck", SHELLCHECK,
                           "-pyflakes=", *files], capture_output=True, text=True, timeout=120, cwd=REPO)


def load(name):
    with open(os.path.join(REPO, ".github", "workflows", name), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def steps(job):
    return [step.get("run", "") + step.get("uses", "") for step in job["steps"]]


def test_there_are_the_ci_and_release_workflows():
    assert [os.path.basename(w) for w in WORKFLOWS] == ["ci.yml", "release.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=os.path.basename)
def test_actionlint_finds_nothing(release_tools, workflow):
    assert os.access(SHELLCHECK, os.X_OK)  # without it actionlint silently skips the scripts
    done = actionlint(release_tools, workflow)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_and_shellcheck_catch_mistakes(release_tools, tmp_path):
    """A control: the same run reports a wrong input, an unknown context and a shell quoting bug."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.write_text("on: push\n"
                      "jobs:\n"
                      "  a:\n"
                      "    runs-on: ubuntu-24.04\n"
                      "    steps:\n"
                      "      - uses: actions/checkout@v5\n"
                      "        with:\n"
                      "          fetch-deep: 0\n"
                      "      - run: echo ${{ gitbub.sha }}\n"
                      "      - run: cp $HOME/a b\n")
    done = actionlint(release_tools, str(broken))
    assert done.returncode == 1
    assert 'input "fetch-deep" is not defined' in done.stdout
    assert 'undefined variable "gitbub"' in done.stdout
    assert "SC2086" in done.stdout  # shellcheck: double quote to prevent globbing and word splitting


def test_every_make_target_the_workflows_call_exists():
    targets = set()
    for workflow in WORKFLOWS:
        with open(workflow, encoding="utf-8") as handle:
            targets.update(re.findall(r"\bmake ([a-z][\w-]*)", handle.read()))
    assert {"lint", "unit", "release-check", "dist", "pypi-dist"} <= targets
    for target in sorted(targets):
        done = subprocess.run(["make", "-n", target, "VERSION=v0.0.0"], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, f"make {target}: {done.stderr}"


def test_ci_runs_what_ci_runs_on_a_clean_clone():
    ci = load("ci.yml")
    assert ci["on"]["push"]["branches"] == ["main"] and "pull_request" in ci["on"]
    assert ci["permissions"] == {"contents": "read"}
    suite = ci["jobs"]["test"]
    # .ci/run itself, as root: whatever Debian packages and services it sets up, GitHub gets the same
    assert any(re.fullmatch(r'sudo --preserve-env env "PATH=\$PATH" "HOME=\$HOME" bash \.ci/run', s)
               for s in steps(suite))
    checkout = next(s for s in suite["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    cached = {step["with"]["path"].strip(): step["with"]["key"] for step in suite["steps"]
              if step.get("uses", "").startswith("actions/cache@")}
    assert "hashFiles('tools/**/go.sum')" in cached["~/go/pkg/mod\n~/.cache/go-build"]
    assert "tools/**/go.mod" in cached["bin"]
    assert "tools/dist/requirements.txt" in cached["~/.cache/kubectl-metallb-build"]
    with open(os.path.join(REPO, ".ci", "run"), encoding="utf-8") as handle:
        assert "make test" in handle.read()
    assert "make lint" in steps(ci["jobs"]["lint"])
    unit = ci["jobs"]["unit"]
    assert build.PYTHON_MINIMUM in unit["strategy"]["matrix"]["python"]
    assert "make unit" in steps(unit)


def test_release_builds_checks_and_publishes_in_order():
    release = load("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {"contents": "read"}
    jobs = release["jobs"]
    run = "\n".join(steps(jobs["build"]))
    order = ['make release-check VERSION="$GITHUB_REF_NAME" REPOSITORY="$GITHUB_REPOSITORY"', "make dist",
             "cmp dist/metallb.yaml krew-manifest.yaml", "sha256sum --check checksums.txt", "make pypi-dist",
             "sha256sum -- *", "release.py notes"]
    assert [run.index(piece) for piece in order] == sorted(run.index(piece) for piece in order)
    assert jobs["github-release"]["needs"] == "build"
    assert jobs["github-release"]["permissions"] == {"contents": "write"}
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}
    assert jobs["pypi"]["environment"]["name"] == "pypi"
    assert any(s.startswith("pypa/gh-action-pypi-publish@") for s in steps(jobs["pypi"]))
    # only the publishing jobs may write, and only what they publish
    assert [name for name, job in jobs.items() if "permissions" in job] == ["github-release", "pypi"]
    bot = next(step for step in jobs["krew-index"]["steps"]
               if step.get("uses", "").startswith("rajatjindal/krew-release-bot@"))
    assert bot["with"] == {"krew_template_file": ".krew.yaml"}
    assert jobs["krew-index"]["needs"] == "github-release"  # the bot downloads the published archive
