"""Shell completion: candidates derived from the real argparse tree, the protocol text, and the scripts."""

import argparse
import os
import shutil
import stat
import subprocess
import sys

import pytest
from helpers import REPO, run_plugin
from hypothesis import given, settings
from hypothesis import strategies as st

from metallb_plugin import cli
from metallb_plugin.commands import completion as command
from metallb_plugin.core import completion, completion_scripts, releases
from metallb_plugin.output import FORMATS


@pytest.fixture(scope="module")
def parser():
    return cli.build_parser()


def values(answer):
    return [value for value, _ in answer.candidates]


# ------------------------------------------------------------------------------------------- the real tree


def test_subcommands_with_their_help(parser):
    answer = completion.complete(parser, [], "")
    assert values(answer) == list(cli.COMMANDS)
    assert dict(answer.candidates)["completion"] == cli.COMMANDS["completion"]
    assert answer.directive == completion.NO_FILE_COMP


def test_subcommand_prefix(parser):
    assert values(completion.complete(parser, [], "st")) == ["strict-arp", "status"]
    assert values(completion.complete(parser, [], "zz")) == []


def test_global_flags_at_the_top(parser):
    found = values(completion.complete(parser, [], "--"))
    for flag in ("--kubeconfig", "--context", "--namespace", "--output", "--version", "--help"):
        assert flag in found
    assert "-n" not in found  # "--" asks for long flags only
    assert "-n" in values(completion.complete(parser, [], "-"))


def test_a_commands_own_flags_come_before_the_kubectl_flags(parser):
    found = values(completion.complete(parser, ["completion"], "-"))
    assert found.index("--context") > 0
    assert found[-2:] == ["-h", "--help"]


def test_every_command_offers_the_kubectl_flags(parser):
    for name in cli.COMMANDS:
        found = values(completion.complete(parser, [name], "--"))
        assert {"--context", "--namespace", "--kubeconfig", "--output"} <= set(found), name


def test_output_values_from_the_parser(parser):
    assert values(completion.complete(parser, ["-o"], "")) == list(FORMATS)
    assert values(completion.complete(parser, ["status", "--output"], "j")) == ["json"]


def test_flag_equals_value_gives_the_values_alone(parser):
    # cobra's convention: for --output=<TAB> the shell script keeps "--output=" itself
    assert values(completion.complete(parser, [], "--output=y")) == ["yaml"]
    assert values(completion.complete(parser, [], "-o=")) == list(FORMATS)


def test_attached_short_value_is_consumed(parser):
    answer = completion.complete(parser, ["-ojson"], "")
    assert values(answer) == list(cli.COMMANDS)
    assert answer.global_argv == ["-ojson"]


def test_completion_shells(parser):
    assert values(completion.complete(parser, ["completion"], "")) == list(command.SHELLS)


def test_files_for_the_kubeconfig(parser):
    answer = completion.complete(parser, ["--kubeconfig"], "")
    assert answer.candidates == [] and answer.directive == completion.DEFAULT


def test_context_cluster_user_and_namespace_come_from_sources(parser):
    for flag, source in (
        ("--context", "contexts"),
        ("--cluster", "clusters"),
        ("--user", "users"),
        ("-n", "namespaces"),
        ("--namespace", "namespaces"),
    ):
        answer = completion.complete(parser, ["status", flag], "pro")
        assert (answer.source, answer.prefix, answer.candidates) == (source, "pro", []), flag


def test_global_flags_typed_so_far_reach_the_source(parser):
    answer = completion.complete(
        parser, ["--kubeconfig", "k.yaml", "--context=prod", "status", "-n", "lb", "-v", "--as", "x"], ""
    )
    assert answer.global_argv == ["--kubeconfig", "k.yaml", "--context=prod", "-n", "lb", "-v", "--as", "x"]


def test_strict_arp_flags(parser):
    found = values(completion.complete(parser, ["strict-arp"], "--"))
    assert {"--enable", "--disable", "--dry-run"} <= set(found)


def test_install_modes_and_versions(parser):
    assert values(completion.complete(parser, ["install", "--mode"], "")) == list(releases.MODES)
    answer = completion.complete(parser, ["install", "--version"], "")
    assert values(answer) == list(reversed(releases.TAGS))  # newest first, and the shell keeps that order
    assert answer.directive == completion.NO_FILE_COMP | completion.KEEP_ORDER
    assert values(completion.complete(parser, ["install"], "--version=v0.14.")) == [
        t for t in reversed(releases.TAGS) if t.startswith("v0.14.")
    ]


def test_pool_names_for_delete_but_not_for_create(parser):
    answer = completion.complete(parser, ["pools", "delete"], "we")
    assert (answer.source, answer.prefix) == ("pools", "we")
    assert completion.complete(parser, ["pools", "create"], "").source is None


def test_used_flags_are_not_offered_again(parser):
    found = values(completion.complete(parser, ["status", "--context", "a"], "--c"))
    assert "--context" not in found and "--cluster" in found
    # repeatable flags stay
    assert "--as-group" in values(completion.complete(parser, ["status", "--as-group", "g"], "--as"))


def test_unknown_words_do_not_break_completion(parser):
    assert values(completion.complete(parser, ["--bogus", "nope"], "ver")) == ["version"]


# ------------------------------------------------------------------------------------------- other trees


def _tree():
    root = argparse.ArgumentParser(prog="x")
    root.add_argument("-v", "--verbose", action="count")
    root.add_argument("--context")
    sub = root.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run it")
    run.add_argument("--file", help="input")
    run.add_argument("--config", metavar="PATH")
    run.add_argument("--level", help=argparse.SUPPRESS)
    run.add_argument("--pool").completer = ["a", "b"]
    run.add_argument("target", choices=["alpha", "beta"])
    run.add_argument("rest", nargs="*").completer = "pools"
    sub.add_parser("_hidden")
    return root


def test_positionals_in_order_then_the_rest():
    root = _tree()
    assert values(completion.complete(root, ["run"], "")) == ["alpha", "beta"]
    assert completion.complete(root, ["run", "alpha"], "").source == "pools"
    assert completion.complete(root, ["run", "alpha", "one", "two"], "").source == "pools"


def test_double_dash_ends_the_flags():
    assert values(completion.complete(_tree(), ["run", "--"], "-")) == []


def test_hidden_things_stay_hidden():
    root = _tree()
    assert "_hidden" not in values(completion.complete(root, [], ""))
    assert "--level" not in values(completion.complete(root, ["run"], "--"))


def test_file_like_values_fall_back_to_file_names():
    root = _tree()
    assert completion.complete(root, ["run", "--file"], "").directive == completion.DEFAULT
    assert completion.complete(root, ["run", "--config"], "").directive == completion.DEFAULT


def test_a_command_can_name_its_values():
    assert values(completion.complete(_tree(), ["run", "--pool"], "")) == ["a", "b"]


def test_count_flags_take_no_value():
    assert values(completion.complete(_tree(), ["-vv"], "r")) == ["run"]


words = st.lists(
    st.sampled_from(
        [
            "run",
            "alpha",
            "--",
            "-",
            "-v",
            "-vv",
            "--context",
            "--context=x",
            "--file",
            "--pool",
            "--nope",
            "x",
            "",
            "-o",
            "--pool=a",
        ]
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(words, st.sampled_from(["", "-", "--", "a", "--pool=", "--c", "r", "-x"]))
def test_any_words_give_an_answer_that_matches_the_prefix(args, current):
    answer = completion.complete(_tree(), args, current)
    assert isinstance(answer.directive, int)
    # the word itself, or for --flag=value the value (a pending flag's value may look like a flag)
    typed = {current, current.split("=", 1)[-1]}
    assert all(any(value.startswith(t) for t in typed) for value in values(answer))
    assert answer.source is None or answer.prefix in typed


# ------------------------------------------------------------------------------------------- protocol text


def test_render():
    text = completion.render([("a", "first\n  line"), ("b", "")], completion.NO_FILE_COMP)
    assert text == "a\tfirst line\nb\n:4\n"
    assert completion.render([], 0) == ":0\n"


def test_matching_keeps_order_and_drops_duplicates():
    assert completion.matching(["b", "a", "b", "c"], "") == [("b", ""), ("a", ""), ("c", "")]


def test_complete_command_output():
    result = run_plugin("__complete", "install", "--mode", "")
    assert result.returncode == 0
    assert result.stdout == "native\nfrr\nfrr-k8s\n:4\n"
    assert result.stderr == ""


def test_complete_with_no_words_at_all():
    result = run_plugin("__complete")
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == ":4"
    assert "version" in result.stdout


def _loaded_after(argv):
    code = (
        "import sys\nfrom metallb_plugin.cli import main\nmain(%r)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'urllib3'))),"
        " file=sys.stderr)" % (argv,)
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


@pytest.mark.parametrize(
    "argv",
    [
        ["__complete", ""],
        ["__complete", "install", "--version", ""],
        ["__complete", "status", "-"],
        ["completion", "bash"],
    ],
)
def test_static_completion_does_not_import_the_kubernetes_client(argv):
    assert _loaded_after(argv) == ""


def test_dynamic_sources_are_silent_without_a_kubeconfig(tmp_path):
    missing = str(tmp_path / "none")
    for words in (["--context", ""], ["-n", ""], ["pools", "delete", ""]):
        result = run_plugin("__complete", "--kubeconfig", missing, *words)
        assert (result.returncode, result.stdout, result.stderr) == (0, ":4\n", ""), words


def test_contexts_from_a_merged_kubeconfig(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text("contexts: [{name: prod, context: {cluster: c}}, {name: dev, context: {cluster: c}}]\n")
    second.write_text("contexts: [{name: stage, context: {cluster: c}}, {name: prod, context: {cluster: d}}]\n")
    env = {"KUBECONFIG": os.pathsep.join([str(first), str(second)])}
    assert run_plugin("__complete", "--context", "", env=env).stdout == "dev\nprod\nstage\n:4\n"
    assert run_plugin("__complete", "status", "--context=", env=env).stdout == "dev\nprod\nstage\n:4\n"
    assert run_plugin("__complete", "--context", "pr", env=env).stdout == "prod\n:4\n"


# ------------------------------------------------------------------------------------------- scripts


def test_completion_prints_each_script():
    for shell in command.SHELLS:
        result = run_plugin("completion", shell)
        assert result.returncode == 0
        assert result.stdout == command.SCRIPTS[shell]
        assert "__complete" in result.stdout


def test_completion_rejects_other_shells():
    result = run_plugin("completion", "powershell")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_the_shipped_kubectl_hook_is_the_printed_one():
    path = os.path.join(REPO, "kubectl_complete-metallb")
    with open(path) as handle:
        assert handle.read() == command.KUBECTL_HOOK
    assert os.stat(path).st_mode & stat.S_IXUSR


def _env_with_plugin_on_path():
    return dict(os.environ, PATH=os.pathsep.join([REPO, os.path.dirname(sys.executable), os.environ["PATH"]]))


def bash_complete(line):
    """COMPREPLY of the bash script for a command line (the cursor at its end)."""
    words = line.split(" ")
    script = completion_scripts.BASH + (
        "COMP_WORDS=(" + " ".join(f"'{w}'" for w in words) + f"); COMP_CWORD={len(words) - 1}\n"
        "_kubectl_metallb; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", script], capture_output=True, text=True, env=_env_with_plugin_on_path(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


def test_bash_script_completes_subcommands_and_values():
    assert bash_complete("kubectl-metallb sta") == ["status"]
    assert bash_complete("kubectl-metallb install --mode frr") == ["frr", "frr-k8s"]
    assert bash_complete("kubectl-metallb install --version v0.16.") == ["v0.16.1", "v0.16.0"]


def test_kubectl_hook_runs_the_plugin_next_to_it(tmp_path):
    for name in ("kubectl-metallb", "kubectl_complete-metallb"):
        os.symlink(os.path.join(REPO, name), tmp_path / name)
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]))
    done = subprocess.run(
        [str(tmp_path / "kubectl_complete-metallb"), "completion", "z"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "zsh\n:4\n")


@pytest.mark.parametrize(
    "shell, check", [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"]), ("bash", ["bash", "-n"])]
)
def test_scripts_parse_in_their_shell(shell, check, tmp_path):
    if shutil.which(check[0]) is None:
        # zsh and fish are optional on the test machine; bash is always there
        assert shell != "bash"
        return
    path = tmp_path / f"script.{shell}"
    path.write_text(command.SCRIPTS[shell])
    done = subprocess.run([*check, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
