"""Exec credential plugins (a kubeconfig user with `exec:`), run as kubectl runs them.

kubectl's rules (client-go's exec authenticator): the plugin gets KUBERNETES_EXEC_INFO and the user's `env`; it
may talk to the user only when interactiveMode allows it and standard input is a terminal; a missing plugin is
reported with the user's `installHint`; the answer must be an ExecCredential of the requested apiVersion with a
token or a client certificate and key. The official Python client ignores interactiveMode and installHint and only
logs a failure, so the plugin runs it itself.

A plugin that cannot prompt runs in its own process group, so a command that gives up on it (completion's time
limit, Ctrl-C) ends it and whatever it started: stop_all().
"""

import base64
import json
import os
import signal
import subprocess  # the only module that starts a process: never through a shell
import threading
from typing import Any, Dict, Mapping, Optional, Set

from metallb_plugin import errors
from metallb_plugin.core.text import echo

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
DOCS = "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins"

_running: Set["subprocess.Popen[bytes]"] = set()  # plugins still running in a process group of their own
_lock = threading.Lock()


def run(
    exec_cfg: Mapping[str, Any],
    user_name: str,
    cluster: Mapping[str, Any],
    terminal: bool,
    environ: Mapping[str, str],
) -> Dict[str, str]:
    """Run the plugin; the kubeconfig user fields it stands for: {"token": ...} or {"client-certificate-data":
    ..., "client-key-data": ...} (base64). terminal: standard input is a terminal the plugin may prompt on."""
    command = exec_cfg.get("command") or ""
    who = f"the credential plugin '{echo(command)}' of user \"{echo(user_name)}\""
    api_version = exec_cfg.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise errors.ClusterError(f"{who}: apiVersion {api_version!r} is not one of {', '.join(API_VERSIONS)}")
    mode = exec_cfg.get("interactiveMode") or "IfAvailable"
    interactive = mode != "Never" and terminal
    if mode == "Always" and not terminal:
        raise errors.ClusterError(f"{who} needs a terminal to ask for your login (interactiveMode: Always)")
    env = dict(environ)
    env.update({str(e.get("name")): str(e.get("value")) for e in exec_cfg.get("env") or [] if isinstance(e, dict)})
    env["KUBERNETES_EXEC_INFO"] = json.dumps(_exec_info(api_version, interactive, exec_cfg, cluster))
    argv = [command, *(exec_cfg.get("args") or [])]
    try:
        process = subprocess.Popen(
            argv,
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if interactive else subprocess.PIPE,  # an interactive plugin talks to the user
            env=env,
            start_new_session=not interactive,
        )
    except FileNotFoundError:
        hint = " ".join(str(exec_cfg.get("installHint") or "").split())
        raise errors.ClusterError(
            f"{who} is not installed (no executable {echo(command)!r}). {hint or 'Install it'} (see {DOCS})"
        ) from None
    except PermissionError:
        raise errors.ClusterError(f"{who} cannot be run: {echo(command)} is not executable") from None
    out, err = _wait(process, own_group=not interactive)
    if process.returncode != 0:
        said = " ".join((err or b"").decode("utf-8", "replace").split())
        raise errors.ClusterError(
            f"{who} failed (exit code {process.returncode}){': ' + echo(said, 300) if said else ''}"
        )
    return _credentials(out, api_version, who)


def _exec_info(api_version: str, interactive: bool, exec_cfg: Mapping[str, Any], cluster: Mapping[str, Any]) -> Any:
    spec: Dict[str, Any] = {"interactive": interactive}
    if exec_cfg.get("provideClusterInfo"):
        info = {
            "server": cluster.get("server"),
            "tls-server-name": cluster.get("tls-server-name"),
            "insecure-skip-tls-verify": cluster.get("insecure-skip-tls-verify"),
            "certificate-authority-data": cluster.get("certificate-authority-data") or _read_base64(cluster),
            "proxy-url": cluster.get("proxy-url"),
        }
        for extension in cluster.get("extensions") or []:
            if isinstance(extension, dict) and extension.get("name") == "client.authentication.k8s.io/exec":
                info["config"] = extension.get("extension")
        spec["cluster"] = {k: v for k, v in info.items() if v not in (None, "", False)}
    return {"apiVersion": api_version, "kind": "ExecCredential", "spec": spec}


def _read_base64(cluster: Mapping[str, Any]) -> Optional[str]:
    path = cluster.get("certificate-authority")
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return base64.b64encode(handle.read()).decode()
    except OSError:
        return None


def _wait(process: "subprocess.Popen[bytes]", own_group: bool) -> Any:
    """communicate(), ending the plugin's process group if the command stops waiting (Ctrl-C, a time limit)."""
    if own_group:
        with _lock:
            _running.add(process)
    try:
        return process.communicate()
    finally:
        if own_group:
            with _lock:
                _running.discard(process)
            if process.poll() is None:
                _end(process)


def _end(process: "subprocess.Popen[bytes]") -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass


def stop_all() -> None:
    """End every plugin still running in its own process group, and what it started."""
    with _lock:
        running = list(_running)
        _running.clear()
    for process in running:
        _end(process)


def _credentials(out: bytes, api_version: str, who: str) -> Dict[str, str]:
    try:
        answer = json.loads(out)
    except ValueError:
        raise errors.ClusterError(f"{who} printed something that is not an ExecCredential (not JSON)") from None
    if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
        raise errors.ClusterError(f"{who} printed something that is not an ExecCredential")
    if answer.get("apiVersion") != api_version:
        raise errors.ClusterError(
            f"{who} answered with apiVersion {echo(str(answer.get('apiVersion')))}, not the {api_version} it was "
            "asked for"
        )
    status: Dict[str, Any] = answer["status"] if isinstance(answer.get("status"), dict) else {}
    token, cert, key = status.get("token"), status.get("clientCertificateData"), status.get("clientKeyData")
    if isinstance(token, str) and token:
        return {"token": token}
    if isinstance(cert, str) and isinstance(key, str) and cert and key:
        return {"client-certificate-data": _base64(cert), "client-key-data": _base64(key)}
    raise errors.ClusterError(f"{who} returned neither a token nor a client certificate and key")


def _base64(pem: str) -> str:
    return base64.b64encode(pem.encode()).decode()


def user_fields(user: Mapping[str, Any], credentials: Mapping[str, str]) -> Dict[str, Any]:
    """The kubeconfig user as the client should see it: the plugin's credentials instead of `exec`."""
    return {**{k: v for k, v in user.items() if k != "exec"}, **credentials}
