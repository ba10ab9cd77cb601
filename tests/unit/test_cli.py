import json
import subprocess
import sys

import pytest
from helpers import REPO, run_plugin

from metallb_plugin import __version__
from metallb_plugin.cli import COMMANDS, parse


def _loaded_modules_after(argv, prefixes=("kubernetes", "urllib3", "yaml")):
    """The loaded modules starting with one of the prefixes after main(argv), in a fresh interpreter."""
    code = (
        "import sys\n"
        "from metallb_plugin.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.startswith({tuple(prefixes)!r}))\n"
        "print('LOADED:' + ','.join(heavy), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return done.stderr.strip().splitlines()[-1].removeprefix("LOADED:")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["status", "--help"], ["version", "--client"]])
def test_help_and_version_do_not_import_the_kubernetes_client(argv):
    assert _loaded_modules_after(argv) == ""


def test_top_level_help_loads_no_subcommand():
    assert (
        _loaded_modules_after(["--help"], ["metallb_plugin.commands.", "metallb_plugin.core."])
        == "metallb_plugin.core.duration,metallb_plugin.core.text"
    )


def test_a_subcommand_loads_only_its_own_module():
    loaded = _loaded_modules_after(["-n", "x", "--context", "status", "pools", "--help"], ["metallb_plugin.commands."])
    assert loaded == "metallb_plugin.commands.pools"


def test_usage_says_kubectl_metallb():
    result = run_plugin("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: kubectl metallb")
    for name in COMMANDS:
        assert name in result.stdout


def test_version_flag_agrees_with_the_version_command():
    result = run_plugin("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"kubectl-metallb v{__version__}"
    client = run_plugin("version", "--client")
    assert client.stdout.strip() == f"Client Version: v{__version__}"


def test_version_client_json():
    result = run_plugin("version", "--client", "-o", "json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["clientVersion"]["gitVersion"] == f"v{__version__}"
    assert "serverVersion" not in doc


def test_unknown_flag_is_a_usage_error():
    result = run_plugin("status", "--frobnicate")
    assert result.returncode == 2
    assert "unrecognized arguments: --frobnicate" in result.stderr


def test_bad_output_format():
    result = run_plugin("version", "-o", "xml")
    assert result.returncode == 2
    assert "invalid choice: 'xml'" in result.stderr


def test_bad_request_timeout():
    result = run_plugin("version", "--request-timeout", "soon")
    assert result.returncode == 2
    assert "invalid duration 'soon'" in result.stderr


def test_no_command_prints_help():
    result = run_plugin()
    assert result.returncode == 0
    assert "usage: kubectl metallb" in result.stdout


def test_global_flags_before_and_after_the_subcommand():
    _, before = parse(["--context", "x", "-n", "lb", "-o", "json", "version"])
    _, after = parse(["version", "--context", "x", "-n", "lb", "-o", "json"])
    for args in (before, after):
        assert (args.context, args.namespace, args.output, args.namespace_given) == ("x", "lb", "json", True)


def test_defaults():
    _, args = parse(["version"])
    assert args.namespace == "metallb-system" and not args.namespace_given
    assert (args.output, args.request_timeout, args.as_group, args.verbose) == ("table", 0.0, [], 0)
    _, args = parse(["version", "--as", "u", "--as-group", "a", "--as-group", "b", "--request-timeout", "1m", "-vv"])
    assert (args.as_group, args.request_timeout, args.verbose) == (["a", "b"], 60.0, 2)


def test_missing_kubeconfig_file():
    result = run_plugin("version", "--kubeconfig", "/nonexistent/config")
    assert result.returncode == 3
    assert result.stderr.strip() == "error: kubeconfig /nonexistent/config (from --kubeconfig) does not exist"


def test_no_kubeconfig_anywhere(tmp_path):
    result = run_plugin("version", env={"HOME": str(tmp_path)})
    assert result.returncode == 3
    assert "no kubeconfig found" in result.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ("clusters: [\n", "is not valid YAML"),
        ("- a\n- b\n", "expected a mapping at the top"),
        ("current-context: x\n", 'current context "x" is not defined'),
    ],
)
def test_broken_kubeconfig(tmp_path, content, message):
    path = tmp_path / "config"
    path.write_text(content)
    result = run_plugin("version", "--kubeconfig", str(path))
    assert result.returncode == 3
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _kubeconfig(tmp_path, user):
    path = tmp_path / "config"
    path.write_text(
        json.dumps(
            {
                "current-context": "c",
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": user}],
            }
        )
    )
    return str(path)


@pytest.mark.parametrize("user", [{"token": "t"}, {"username": "u", "password": "p"}, {}])
def test_a_command_that_connects_does_not_import_the_kubernetes_client(tmp_path, user):
    loaded = _loaded_modules_after(["version", "--kubeconfig", _kubeconfig(tmp_path, user)]).split(",")
    assert "urllib3" in loaded  # it did connect (and failed: nothing listens there)
    assert not [m for m in loaded if m.startswith("kubernetes")]


def test_the_import_probe_can_see_the_client(tmp_path):
    # the deprecated auth-provider users are loaded by the client: the probe above is able to fail
    config = _kubeconfig(tmp_path, {"auth-provider": {"name": "oidc", "config": {"id-token": "x"}}})
    assert "kubernetes" in _loaded_modules_after(["version", "--kubeconfig", config]).split(",")


@pytest.mark.parametrize(
    "user, message",
    [
        ({"tokenFile": "/nonexistent/token"}, 'kubeconfig user "u": cannot read /nonexistent/token: No such file'),
        ({"auth-provider": {"name": "gcp", "config": {}}}, 'kubeconfig user "u": the gcp auth-provider failed'),
        ({"client-certificate": "/nonexistent/cert"}, 'kubeconfig user "u": cannot read /nonexistent/cert'),
    ],
)
def test_credentials_that_cannot_be_loaded(tmp_path, user, message):
    result = run_plugin("version", "--kubeconfig", _kubeconfig(tmp_path, user))
    assert result.returncode == 3
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["status", "-n", "Metal_LB"], "argument -n/--namespace: 'Metal_LB' is not a namespace name"),
        (["status", "-n", "../../api/v1/secrets"], "'../../api/v1/secrets' is not a namespace name"),
        (["status", "-n", "a" * 64], "is not a namespace name"),
        (
            ["version", "--as", "jo\r\nX-Evil: 1"],
            "argument --as: 'jo\\r\\nX-Evil: 1' contains a control character (\\r)",
        ),
        (["version", "--as", "u", "--as-group", "g\x7f"], "argument --as-group: 'g\\x7f' contains a control character"),
        (["version", "--as", "u", "--as-user-extra", "scopes"], "'scopes': use KEY=VALUE"),
        (["version", "--as-group", "admins"], "--as-uid, --as-group and --as-user-extra impersonate a user"),
    ],
)
def test_flags_that_reach_urls_and_headers_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        parse(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_valid_namespaces_and_unicode_impersonation_pass():
    _, args = parse(["status", "-n", "metallb-system", "--as", "jürgen", "--as-group", "開発", "--as-uid", "1\t2"])
    assert (args.namespace, args.as_user, args.as_group, args.as_uid) == ("metallb-system", "jürgen", ["開発"], "1\t2")


def test_echoed_input_is_cut_and_made_printable(capsys):
    with pytest.raises(SystemExit):
        parse(["status", "-o", "x" * 100_000])
    line = capsys.readouterr().err.splitlines()[-1]
    assert line.endswith("invalid choice: '" + "x" * 79 + "…' (choose from 'table', 'json', 'yaml')")
    with pytest.raises(SystemExit):
        parse(["status", "\x1b[2J" + "y" * 200])
    line = capsys.readouterr().err.splitlines()[-1]
    assert "\x1b" not in line and line.endswith("unrecognized arguments: \\x1b[2J" + "y" * 72 + "…")


def test_help_lists_every_exit_code():
    result = run_plugin("--help")
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"\n  {code} " in result.stdout
