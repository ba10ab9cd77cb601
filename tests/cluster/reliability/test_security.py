"""Security, proven on a real API server: TLS is verified unless the user asks otherwise (and is warned), no
credential or secret value ever reaches the plugin's output (`-v` included), YAML is loaded safely wherever it
comes from, and the package never runs a shell.

The secrets searched for are real: the control plane's static admin token (used through a token kubeconfig and
through an exec credential plugin), the admin client key (embedded as client-key-data), and a value planted in a
Secret and in a BGPPeer password in MetalLB's namespace. This module installs MetalLB, so it has its own server.
"""

import ast
import base64
import json
import os
import pathlib
import secrets

import pytest
import yaml

from helpers import REPO
from metallb_plugin import cluster

from .common import V0161_NATIVE, admin_client

NS = "metallb-system"
SECRET = "planted-" + secrets.token_hex(16)
PACKAGE = pathlib.Path(REPO) / "metallb_plugin"


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


@pytest.fixture(scope="module")
def token(controlplane):
    return open(controlplane.path("admin.token")).read().strip()


def kubeconfig(path, plane, user, ca=True):
    cluster_entry = {"server": plane.server}
    if ca:
        cluster_entry["certificate-authority"] = os.path.join(plane.pki, "ca.crt")
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sec",
        "clusters": [{"name": "sec", "cluster": cluster_entry}], "users": [{"name": "sec", "user": user}],
        "contexts": [{"name": "sec", "context": {"cluster": "sec", "user": "sec"}}]}))
    return {"KUBECONFIG": str(path)}


@pytest.fixture(scope="module")
def credentials(controlplane, token, tmp_path_factory):
    """{name: env} for the three ways a user proves who they are, and {name: text} that must never be shown."""
    where = tmp_path_factory.mktemp("credentials")
    key_pem = open(os.path.join(controlplane.pki, "admin.key")).read()
    cert_pem = open(os.path.join(controlplane.pki, "admin.crt")).read()
    login = where / "login.sh"
    login.write_text("#!/bin/sh\necho '{\"apiVersion\": \"client.authentication.k8s.io/v1\", "
                     f"\"kind\": \"ExecCredential\", \"status\": {{\"token\": \"{token}\"}}}}'\n")
    login.chmod(0o755)
    envs = {
        "token": kubeconfig(where / "token", controlplane, {"token": token}),
        "client-key-data": kubeconfig(where / "key", controlplane, {
            "client-certificate-data": base64.b64encode(cert_pem.encode()).decode(),
            "client-key-data": base64.b64encode(key_pem.encode()).decode()}),
        "exec": kubeconfig(where / "exec", controlplane, {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": str(login), "interactiveMode": "Never"}}),
    }
    key_body = "".join(line for line in key_pem.splitlines() if not line.startswith("-----"))
    never = {"token": token, "client key (PEM body)": key_body,
             "client key (a line of it)": key_pem.splitlines()[1],
             "client-key-data": base64.b64encode(key_pem.encode()).decode(),
             "planted secret": SECRET, "planted secret (base64)": base64.b64encode(SECRET.encode()).decode()}
    return envs, never


@pytest.fixture(scope="module")
def installed(controlplane, upstream_manifest):
    """MetalLB installed, then a Secret and a BGPPeer holding SECRET planted in its namespace."""
    from helpers import run_plugin

    admin = {"KUBECONFIG": controlplane.kubeconfig("admin")}
    done = run_plugin("install", "--manifest", upstream_manifest("v0.16.1"), "--sha256", V0161_NATIVE, "--no-wait",
                      "--yes", env=admin)
    assert done.returncode == 0, done.stderr
    client = admin_client(controlplane)
    # no MetalLB controller serves the webhook here: without its configuration metallb.io writes go through
    client.delete("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/metallb-webhook-configuration")
    client.create(cluster.api_path("v1", "secrets", NS), {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "planted"}, "type": "Opaque",
        "stringData": {"password": SECRET}})
    client.create(cluster.api_path("metallb.io/v1beta2", "bgppeers", NS), {
        "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "tor"},
        "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "10.0.0.1", "password": SECRET}})
    client.create(cluster.api_path("metallb.io/v1beta1", "ipaddresspools", NS), {
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "lab"},
        "spec": {"addresses": ["192.168.10.0/28"]}})
    return admin


def commands(manifest, backup):
    """Every subcommand, on its reading and its writing paths, ending with uninstall (which backs up the peer)."""
    return [
        ["version"], ["preflight", "--addresses", "192.168.20.0/28"], ["strict-arp"], ["status"],
        ["status", "-o", "json"], ["status", "--service", "default/web"], ["pools"], ["pools", "-o", "yaml"],
        ["pools", "create", "sec", "--addresses", "192.168.30.0/28", "--l2", "--timeout", "1s", "--yes"],
        ["pools", "delete", "sec", "--yes"],
        ["pools", "migrate"], ["install", "--dry-run", "--manifest", manifest, "--sha256", V0161_NATIVE],
        ["install", "--no-wait", "--yes", "--manifest", manifest, "--sha256", V0161_NATIVE], ["completion", "bash"],
        # the planted Secret is not MetalLB's: --delete-namespace; no namespace controller runs here (exit 4)
        ["uninstall", "--yes", "--force", "--delete-namespace", "--timeout", "2s", "--backup", backup],
    ]


def test_no_credential_or_secret_in_any_output(installed, credentials, upstream_manifest, tmp_path, tally):
    envs, never = credentials
    runs = 0
    for verbose in ([], ["-v"]):
        for argv in commands(upstream_manifest("v0.16.1"), str(tmp_path / f"backup{len(verbose)}.yaml")):
            if argv[0] == "uninstall" and not verbose:
                continue  # uninstall once, last, with -v
            for name, env in envs.items():
                if name != "token" and (not verbose or argv not in (["status"], ["pools"], ["version"])):
                    continue  # the other credential kinds with -v on the commands that read the most
                result = tally.run(*argv, *verbose, env=env)
                runs += 1
                assert result.returncode in (0, 1, 3, 4), (argv, result.stderr)
                output = result.stdout + result.stderr
                for what, text in never.items():
                    assert text not in output, f"{what} shown by `{' '.join(argv + verbose)}` ({name})"
    tally.add("security: outputs searched for secrets", runs)
    backup = tmp_path / "backup1.yaml"
    assert oct(backup.stat().st_mode & 0o777) == "0o600"  # the peer's password is in it, for a restore
    saved = [d for d in yaml.safe_load_all(backup.read_text()) if d]
    assert {d["kind"] for d in saved} == {"BGPPeer", "IPAddressPool"}  # metallb.io objects only: no Secret


# ------------------------------------------------------------------------------------------- TLS


def test_tls_is_verified_by_default_and_skipped_only_when_asked(controlplane, token, tmp_path, tally):
    env = kubeconfig(tmp_path / "no-ca", controlplane, {"token": token}, ca=False)  # system CAs: not this server's
    refused = tally.run("version", env=env)
    assert refused.returncode == 3
    assert "TLS verification of the API server at" in refused.stderr
    assert "certificate verify failed" not in refused.stdout
    allowed = tally.run("version", "--insecure-skip-tls-verify", env=env)
    assert allowed.returncode == 0, allowed.stderr
    assert "warning: --insecure-skip-tls-verify: the server's identity is not checked" in allowed.stderr
    assert "Server Version:" in allowed.stdout


def test_a_kubeconfig_cannot_turn_verification_off_by_accident(controlplane, token, tmp_path, tally):
    env = kubeconfig(tmp_path / "c", controlplane, {"token": token}, ca=False)
    config = json.loads(pathlib.Path(env["KUBECONFIG"]).read_text())
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = "false"  # text, which a client reads as true
    pathlib.Path(env["KUBECONFIG"]).write_text(json.dumps(config))
    result = tally.run("version", env=env)
    assert result.returncode == 3
    assert "insecure-skip-tls-verify must be true or false" in result.stderr


# ------------------------------------------------------------------------------------------- YAML


PYTHON_TAG = "!!python/object/apply:os.system ['touch {marker}']"


@pytest.mark.parametrize("where, argv, code, message", [
    ("kubeconfig", ["version", "--kubeconfig", "{file}"], 3, "is not valid YAML"),
    ("manifest", ["install", "--print", "--manifest", "{file}"], 2, "is not valid YAML"),
    ("legacy", ["pools", "migrate", "-f", "{file}"], 2, "is not valid YAML"),
    ("preflight manifest", ["preflight", "--manifest", "{file}"], 2, "is not valid YAML"),
])
def test_python_tags_are_never_executed(where, argv, code, message, tmp_path, tally):
    marker = tmp_path / "pwned"
    document = {"kubeconfig": "current-context: {tag}\n",
                "manifest": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {tag}\n",
                "legacy": "address-pools:\n- name: {tag}\n",
                "preflight manifest": "apiVersion: v1\nkind: Namespace\nmetadata: {tag}\n"}[where]
    path = tmp_path / "hostile.yaml"
    path.write_text(document.format(tag=PYTHON_TAG.format(marker=marker)))
    result = tally.run(*[a.format(file=path) for a in argv], env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert not marker.exists()


def test_python_tags_in_kube_proxy_configuration_are_never_executed(controlplane, tmp_path, tally):
    from .common import kube_proxy

    marker = tmp_path / "pwned"
    kube_proxy(controlplane, "kind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: "
               + PYTHON_TAG.format(marker=marker) + "\n")
    result = tally.run("strict-arp", "--enable", "--yes", env={"KUBECONFIG": controlplane.kubeconfig("admin")})
    assert result.returncode == 1
    assert "is malformed: not valid YAML" in result.stderr
    assert not marker.exists()


def test_every_yaml_load_is_safe():
    """Statically: every yaml.* call in the package loads with a safe function or a SafeLoader subclass."""
    import yaml as pyyaml

    from metallb_plugin.core import legacy, yamlsafe

    safe = {"safe_load", "safe_load_all", "safe_dump", "safe_dump_all", "parse", "compose_all", "dump_all"}
    needs_loader = {"load", "load_all", "parse", "compose_all", "dump_all"}
    calls = 0
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "yaml"):
                calls += 1
                name = node.func.attr
                assert name in safe | needs_loader, f"{source.name}: yaml.{name}"
                if name in needs_loader - {"parse"}:
                    assert {k.arg for k in node.keywords} & {"Loader", "Dumper"}, f"{source.name}: yaml.{name}"
    assert calls >= 10
    for loader in (legacy._loader(), yamlsafe._loader()):
        assert issubclass(loader, (pyyaml.SafeLoader, getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)))


def test_no_shell_and_no_subprocess_in_the_package():
    """Only credentials.py starts a process (the user's exec credential plugin, as kubectl does), with an argument
    list and never a shell."""
    banned = ("shell=True", "os.system", "os.popen", "subprocess", "os.exec", "os.spawn", "eval(", "exec(",
              "pickle", "marshal")
    found = [(source.name, word) for source in PACKAGE.rglob("*.py") for word in banned
             if word in source.read_text() and not (source.name == "credentials.py" and word == "subprocess")]
    assert found == []
    calls = [node for node in ast.walk(ast.parse((PACKAGE / "credentials.py").read_text()))
             if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("Popen", "run", "call")]
    assert len(calls) == 1 and not {k.arg for k in calls[0].keywords} & {"shell", "executable"}
