"""Which cluster, and as whom: kubeconfig files merged as kubectl merges them, the client's Configuration
(certificates, tokens, exec and auth-provider plugins, in-cluster service account) and the proxy to use.

Nothing here sends a request; cluster.connect() builds its Client from what this module resolves.
"""

import ipaddress
import os
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, List, Mapping, Optional, Union

from metallb_plugin import errors
from metallb_plugin.core import kubeconfig as kc

IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


@dataclass
class Target:
    """Where requests go and as whom: used in messages, never holds a secret."""

    context: str
    server: str
    user: str
    namespace: str = ""


# --------------------------------------------------------------------------------------------- kubeconfig


def kubeconfig_files(explicit: Optional[str], environ: Mapping[str, str]) -> List[str]:
    """The files kubectl would read, in order: --kubeconfig alone, else $KUBECONFIG, else ~/.kube/config."""
    if explicit:
        if not os.path.exists(explicit):
            raise errors.ClusterError(f"kubeconfig {explicit} (from --kubeconfig) does not exist")
        return [explicit]
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return [p for p in listed if os.path.exists(p)]  # kubectl skips missing entries of the list
    default = os.path.join(os.path.expanduser("~"), ".kube", "config")
    return [default] if os.path.exists(default) else []


def read_kubeconfig(path: str) -> Any:
    """The parsed kubeconfig (YAML or JSON, as kubectl reads it)."""
    import yaml

    from metallb_plugin.core import yamlsafe

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        return yamlsafe.load(text)
    except yamlsafe.TooDeep as exc:
        raise errors.ClusterError(f"kubeconfig {path} is not a kubeconfig: {exc}") from None
    except IsADirectoryError:
        raise errors.ClusterError(f"kubeconfig {path} is a directory, not a file") from None
    except PermissionError:
        raise errors.ClusterError(f"cannot read kubeconfig {path}: permission denied") from None
    except UnicodeDecodeError:
        raise errors.ClusterError(f"kubeconfig {path} is not a text file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "parse error"
        raise errors.ClusterError(f"kubeconfig {path} is not valid YAML: {problem}{where}") from None


def load_selection(
    kubeconfig: Optional[str] = None,
    context: Optional[str] = None,
    cluster: Optional[str] = None,
    user: Optional[str] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Optional[kc.Selection]:
    """Merge the kubeconfig files and resolve the context; None when there is no kubeconfig at all."""
    environ = os.environ if environ is None else environ
    files = kubeconfig_files(kubeconfig, environ)
    if not files:
        return None
    documents = [(path, read_kubeconfig(path)) for path in files]
    try:
        return kc.select(kc.merge(documents), context=context, cluster=cluster, user=user)
    except kc.KubeconfigError as exc:
        raise errors.ClusterError(str(exc)) from None


@contextmanager
def _captured_log() -> Iterator[List[str]]:
    """The client logs (instead of raising) when an exec plugin fails; keep those lines to report them."""
    import logging

    lines: List[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    root = logging.getLogger()
    handler = Keep(logging.ERROR)
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)


def client_configuration(selection: Optional[kc.Selection]) -> Any:
    from kubernetes.client import Configuration  # deferred: importing the client costs ~0.5 s
    from kubernetes.config import config_exception, incluster_config, kube_config

    cfg = Configuration()
    if selection is None:
        if not os.path.exists(IN_CLUSTER_TOKEN):
            raise errors.ClusterError(
                "no kubeconfig found: set KUBECONFIG, pass --kubeconfig FILE, or create ~/.kube/config"
            )
        try:
            incluster_config.load_incluster_config(client_configuration=cfg)
        except config_exception.ConfigException as exc:
            raise errors.ClusterError(f"in-cluster configuration failed: {exc}") from None
        return cfg
    with _captured_log() as logged:
        try:
            kube_config.load_kube_config_from_dict(
                kc.single_context(selection), context="selected", client_configuration=cfg, persist_config=False
            )
        except config_exception.ConfigException as exc:
            raise errors.ClusterError(f'kubeconfig user "{selection.user_name}": {exc}') from None
        except OSError as exc:  # a tokenFile or certificate file that cannot be read
            raise errors.ClusterError(
                f'kubeconfig user "{selection.user_name}": cannot read '
                f"{exc.filename or 'a referenced file'}: {exc.strerror or exc}"
            ) from None
        except Exception as exc:  # the client's auth-provider code fails in many ways (gcp, oidc, azure ...)
            if "auth-provider" not in selection.user:
                raise
            provider = (selection.user.get("auth-provider") or {}).get("name", "?")
            raise errors.ClusterError(
                f'kubeconfig user "{selection.user_name}": the {provider} auth-provider failed ({exc}); these '
                "providers are deprecated in kubectl too: switch the user to its exec credential plugin"
            ) from None
    exec_cfg = selection.user.get("exec")
    if exec_cfg and not cfg.api_key.get("authorization") and not cfg.cert_file:
        why = "; ".join(logged) or "it returned no credentials"
        raise errors.ClusterError(
            f"the credential plugin '{exec_cfg.get('command')}' of user \"{selection.user_name}\" failed: {why}"
        )
    return cfg


def env_proxy(server: str, environ: Mapping[str, str]) -> Optional[str]:
    """HTTPS_PROXY unless NO_PROXY exempts the server's host."""
    env = {k.lower(): v for k, v in environ.items()}
    proxy = env.get("https_proxy")
    host = urllib.parse.urlsplit(server).hostname or ""
    if not proxy or bypass_proxy(host, env.get("no_proxy", "")):
        return None
    return proxy


def bypass_proxy(host: str, no_proxy: str) -> bool:
    """NO_PROXY matching as Go's net/http does it: *, names and domain suffixes, IP addresses and CIDRs."""
    address: Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if address is not None and address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = entry.split(":")[0].lstrip(".").lower()
        if host.lower() == name or host.lower().endswith("." + name):
            return True
    return False
