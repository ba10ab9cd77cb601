"""Merge kubeconfig files and pick the context the way kubectl does.

The Python client lets the *last* file that sets current-context win; kubectl lets the *first* one win, and
resolves relative file references against the file that named them. This module reproduces kubectl.
"""

import base64
import binascii
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple

from metallb_plugin.core.text import control_character, echo

# Fields holding file paths, which kubectl resolves against the kubeconfig file they appear in.
_CLUSTER_PATHS = ("certificate-authority",)
_USER_PATHS = ("client-certificate", "client-key", "tokenFile")
# Fields that must be text (kubectl refuses anything else), and which of them hold base64.
_TEXT_FIELDS = {
    "context": ("cluster", "user", "namespace"),
    "cluster": ("server", "certificate-authority", "certificate-authority-data", "tls-server-name", "proxy-url"),
    "user": (
        "client-certificate",
        "client-key",
        "client-certificate-data",
        "client-key-data",
        "token",
        "tokenFile",
        "username",
        "password",
        "as",
        "as-uid",
    ),
}
_BASE64_FIELDS = ("certificate-authority-data", "client-certificate-data", "client-key-data")


class KubeconfigError(ValueError):
    pass


@dataclass
class Selection:
    context: str
    cluster_name: str
    cluster: Dict[str, Any]
    user_name: str
    user: Dict[str, Any] = field(default_factory=dict)
    namespace: str = ""


def _absolute(path: str, base_dir: str) -> str:
    if not path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def _resolve_paths(kind: str, entry: Dict[str, Any], base_dir: str) -> Dict[str, Any]:
    entry = dict(entry)
    for key in _CLUSTER_PATHS if kind == "cluster" else _USER_PATHS:
        if isinstance(entry.get(key), str):  # anything else is reported by _check_fields
            entry[key] = _absolute(entry[key], base_dir)
    exec_cfg = entry.get("exec")
    if kind == "user" and isinstance(exec_cfg, dict):
        command = exec_cfg.get("command") or ""
        # a bare command name is looked up on PATH; only a relative path is anchored to the file
        if isinstance(command, str) and os.sep in command:
            entry["exec"] = dict(exec_cfg, command=_absolute(command, base_dir))
    return entry


def _named_entries(doc: Dict[str, Any], section: str, inner: str, path: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise KubeconfigError(f"kubeconfig {path}: '{section}' must be a list")
    for item in entries:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise KubeconfigError(f"kubeconfig {path}: every entry of '{section}' needs a name")
        body = item.get(inner) or {}
        if not isinstance(body, dict):
            raise KubeconfigError(f"kubeconfig {path}: {section} entry '{echo(item['name'])}' is not a mapping")
        yield item["name"], body


def merge(documents: Iterable[Tuple[str, Any]]) -> Dict[str, Any]:
    """documents: [(path, parsed YAML)] in KUBECONFIG order. Returns one merged kubeconfig dict."""
    clusters: Dict[str, Dict[str, Any]] = {}
    users: Dict[str, Dict[str, Any]] = {}
    contexts: Dict[str, Dict[str, Any]] = {}
    current = ""
    for path, doc in documents:
        if doc is None:  # an empty file contributes nothing, as in kubectl
            continue
        if not isinstance(doc, dict):
            raise KubeconfigError(f"kubeconfig {path} is not a kubeconfig (expected a mapping at the top)")
        base_dir = os.path.dirname(os.path.abspath(path))
        for name, body in _named_entries(doc, "clusters", "cluster", path):
            clusters.setdefault(name, _resolve_paths("cluster", body, base_dir))
        for name, body in _named_entries(doc, "users", "user", path):
            users.setdefault(name, _resolve_paths("user", body, base_dir))
        for name, body in _named_entries(doc, "contexts", "context", path):
            contexts.setdefault(name, body)
        if not current and doc.get("current-context"):
            current = doc["current-context"]
            if not isinstance(current, str):
                raise KubeconfigError(f"kubeconfig {path}: current-context must be the name of a context")
    return {
        "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [{"name": n, "context": c} for n, c in contexts.items()],
        "current-context": current,
    }


def _by_name(merged: Dict[str, Any], section: str, inner: str) -> Dict[str, Dict[str, Any]]:
    return {item["name"]: item[inner] for item in merged[section]}


def select(
    merged: Dict[str, Any], context: Optional[str] = None, cluster: Optional[str] = None, user: Optional[str] = None
) -> Selection:
    """Resolve --context / --cluster / --user against a merged kubeconfig."""
    contexts = _by_name(merged, "contexts", "context")
    clusters = _by_name(merged, "clusters", "cluster")
    users = _by_name(merged, "users", "user")
    name = context or merged.get("current-context") or ""
    if context and context not in contexts:
        raise KubeconfigError(f'context "{echo(context)}" not found in the kubeconfig (available: {_some(contexts)})')
    if not name and not cluster:
        raise KubeconfigError(
            "the kubeconfig has no current context: pass --context, or run 'kubectl config use-context NAME'"
        )
    if name and name not in contexts and not cluster:
        raise KubeconfigError(
            f'the current context "{echo(name)}" is not defined in the kubeconfig; '
            "run 'kubectl config use-context NAME' or pass --context"
        )
    ctx = contexts.get(name, {})
    _check_fields("context", name, ctx)
    cluster_name = cluster or ctx.get("cluster") or ""
    if cluster_name not in clusters:
        source = "--cluster" if cluster else f'context "{echo(name)}"'
        raise KubeconfigError(f'cluster "{echo(cluster_name)}" (from {source}) not found in the kubeconfig')
    if not clusters[cluster_name].get("server"):
        raise KubeconfigError(f'cluster "{echo(cluster_name)}" in the kubeconfig has no server address')
    _check_fields("cluster", cluster_name, clusters[cluster_name])
    user_name = user or ctx.get("user") or ""
    if user and user not in users:
        raise KubeconfigError(f'user "{echo(user)}" (from --user) not found in the kubeconfig')
    _check_fields("user", user_name, users.get(user_name, {}))
    return Selection(
        context=name,
        cluster_name=cluster_name,
        cluster=clusters[cluster_name],
        user_name=user_name,
        user=users.get(user_name, {}),
        namespace=ctx.get("namespace", ""),
    )


def _some(names: Iterable[str], shown: int = 10) -> str:
    """At most `shown` names (a kubeconfig may hold thousands), and how many more there are."""
    ordered = sorted(names)
    listed = ", ".join(echo(n) for n in ordered[:shown]) or "none"
    return listed + (f" and {len(ordered) - shown} more" if len(ordered) > shown else "")


def _check_fields(kind: str, name: str, body: Dict[str, Any]) -> None:
    """KubeconfigError naming the entry and field when a field has the wrong type (a list where a path belongs,
    base64 that is not, a quoted "yes" for a boolean): the client would fail obscurely or, for
    insecure-skip-tls-verify, silently treat any text as true."""
    where = f'{kind} "{echo(name)}" in the kubeconfig'
    for key in _TEXT_FIELDS[kind]:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise KubeconfigError(f"{where}: {key} must be text, not {type(value).__name__}")
        if key in _BASE64_FIELDS and value:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise KubeconfigError(f"{where}: {key} is not valid base64") from None
    if kind == "cluster" and not isinstance(body.get("insecure-skip-tls-verify", False), bool):
        raise KubeconfigError(f"{where}: insecure-skip-tls-verify must be true or false")
    if kind == "user":
        _check_impersonation(where, body)
    if kind == "user" and body.get("exec") is not None:
        exec_cfg = body["exec"]
        if not isinstance(exec_cfg, dict) or not isinstance(exec_cfg.get("command"), str):
            raise KubeconfigError(f"{where}: exec must be a mapping with a command (text)")
        args = exec_cfg.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise KubeconfigError(f"{where}: exec args must be a list of text")


def _check_impersonation(where: str, user: Dict[str, Any]) -> None:
    """as, as-uid, as-groups and as-user-extra: text, as kubectl requires, that an HTTP header can carry."""
    groups = user.get("as-groups") or []
    extra = user.get("as-user-extra") or {}
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise KubeconfigError(f"{where}: as-groups must be a list of text")
    if not isinstance(extra, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in extra.values()
    ):
        raise KubeconfigError(f"{where}: as-user-extra must map names to lists of text")
    values = [user.get("as") or "", user.get("as-uid") or "", *groups, *map(str, extra)]
    values += [value for listed in extra.values() for value in listed]
    bad = next((c for c in map(control_character, values) if c), None)
    if bad:
        raise KubeconfigError(f"{where}: an impersonation value contains a control character ({echo(bad)})")


def single_context(selection: Selection) -> Dict[str, Any]:
    """A kubeconfig dict holding just the selected cluster, user and context."""
    return {
        "clusters": [{"name": "selected", "cluster": selection.cluster}],
        "users": [{"name": "selected", "user": selection.user}],
        "contexts": [{"name": "selected", "context": {"cluster": "selected", "user": "selected"}}],
        "current-context": "selected",
    }
