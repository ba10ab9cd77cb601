"""`kubectl metallb <TAB>` as kubectl (>= 1.26) does it: kubectl runs kubectl_complete-metallb from PATH.

Everything goes through the real kubectl (`kubectl __complete metallb ...`, what kubectl's own shell scripts call)
with the repository's kubectl-metallb and kubectl_complete-metallb on PATH, against the real API server.
"""

import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from helpers import REPO

KUBECTL = os.path.join(os.path.dirname(sys.executable), "kubectl")


def complete(*words, kubeconfig, timeout=60):
    """(candidate lines, directive) that kubectl gives its shell scripts for `kubectl metallb WORDS`."""
    env = dict(os.environ, KUBECONFIG=kubeconfig,
               PATH=os.pathsep.join([REPO, os.path.dirname(sys.executable), "/usr/bin", "/bin"]))
    done = subprocess.run([KUBECTL, "__complete", "metallb", *words], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "error" not in done.stderr.lower(), done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith(":"), done.stdout
    return lines[:-1], int(lines[-1][1:])


def names(lines):
    return [line.split("\t")[0] for line in lines]


@pytest.fixture
def admin_config(controlplane):
    return controlplane.kubeconfig("admin")


def test_subcommands_with_descriptions(admin_config):
    lines, directive = complete("", kubeconfig=admin_config)
    assert "install\tinstall or upgrade MetalLB (verified, idempotent, waits until it serves)" in lines
    assert {"preflight", "strict-arp", "status", "pools", "version", "completion"} <= set(names(lines))
    assert directive == 4


def test_flags_and_values(admin_config):
    assert complete("-o", "", kubeconfig=admin_config) == (["table", "json", "yaml"], 4)
    assert complete("install", "--mode", "f", kubeconfig=admin_config) == (["frr", "frr-k8s"], 4)
    lines, directive = complete("install", "--version", "v0.16", kubeconfig=admin_config)
    assert (names(lines), directive) == (["v0.16.1", "v0.16.0"], 36)
    lines, _ = complete("strict-arp", "--", kubeconfig=admin_config)
    assert {"--enable", "--disable", "--context", "--help"} <= set(names(lines))


def test_kubeconfig_flag_lets_the_shell_complete_files(admin_config):
    assert complete("--kubeconfig", "", kubeconfig=admin_config) == ([], 0)


def test_contexts_from_the_kubeconfig(admin_config):
    contexts = subprocess.run([KUBECTL, "--kubeconfig", admin_config, "config", "get-contexts", "-o", "name"],
                              capture_output=True, text=True, check=True).stdout.split()
    assert complete("status", "--context", "", kubeconfig=admin_config) == (sorted(contexts), 4)


def test_namespaces_from_the_cluster(admin_config, namespace):
    lines, directive = complete("status", "-n", "", kubeconfig=admin_config)
    assert namespace in lines and "kube-system" in lines and directive == 4
    lines, _ = complete("status", "-n", namespace[:6], kubeconfig=admin_config)
    assert namespace in lines and "kube-system" not in lines


def test_pool_names_from_the_namespace_given(admin_config, metallb_crds, namespace, kubectl):
    for name in ("web", "web-internal", "db"):
        kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
            "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": name},
            "spec": {"addresses": [f"198.51.100.{16 * len(name)}/28"]}}))
    assert complete("pools", "delete", "-n", namespace, "", kubeconfig=admin_config) == \
        (["db", "web", "web-internal"], 4)
    assert complete("-n", namespace, "pools", "delete", "we", kubeconfig=admin_config) == \
        (["web", "web-internal"], 4)
    # pools create names a new pool: nothing to offer
    assert complete("pools", "create", "-n", namespace, "", kubeconfig=admin_config) == ([], 4)


def test_no_pool_names_for_a_user_who_may_not_list_them(controlplane, metallb_crds, namespace):
    assert complete("pools", "delete", "-n", namespace, "", kubeconfig=controlplane.kubeconfig("nobody")) == \
        ([], 4)


def kubeconfig_for(folder, name, port, controlplane):
    """A kubeconfig whose only context points at 127.0.0.1:port."""
    config = folder / "config"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": f"https://127.0.0.1:{port}",
                                               "certificate-authority": os.path.join(controlplane.pki, "ca.crt")}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "u"}}]}))
    return config


def test_an_unreachable_cluster_gives_no_candidates_and_no_noise(controlplane, tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = kubeconfig_for(tmp_path, "gone", port, controlplane)
    assert complete("pools", "delete", "", kubeconfig=str(config)) == ([], 4)
    assert complete("--context", "", kubeconfig=str(config)) == (["gone"], 4)  # the kubeconfig alone suffices


def test_a_server_that_never_answers_is_given_up_on(controlplane, tmp_path):
    """The lookup is time-boxed (2 s): a silent server must not hang the user's prompt."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def hold():  # accept connections and never say anything
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    config = kubeconfig_for(tmp_path, "mute", listener.getsockname()[1], controlplane)
    try:
        assert complete("pools", "delete", "", kubeconfig=str(config), timeout=30) == ([], 4)
        assert accepted, "the plugin never tried the server"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
