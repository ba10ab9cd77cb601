"""Which cluster, and as whom: kubeconfig files merged as kubectl merges them, the client's Settings
(certificates, tokens, exec and auth-provider plugins, in-cluster service account) and the proxy to use.

Nothing here sends a request; cluster.connect() builds its Client from what this module resolves.
"""

import base64
import ipaddress
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Union

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


@dataclass
class Settings:
    """How to reach the API server and as whom: what a Client takes from the kubeconfig (files, not their data)."""

    host: str
    verify_ssl: bool = True
    ssl_ca_cert: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    tls_server_name: Optional[str] = None
    authorization: Optional[str] = None  # the Authorization header


def client_settings(
    selection: Optional[kc.Selection], terminal: bool = False, environ: Optional[Mapping[str, str]] = None
) -> Settings:
    """The Settings for the selected user and cluster. An exec credential plugin runs here (credentials.py;
    terminal: it may prompt on standard input). Tokens, client certificates and basic auth are read here; the
    deprecated auth-provider users and the in-cluster service account go through the official client's loaders,
    which are imported only then (importing the client costs 40 MB and a third of a second)."""
    if selection is None:
        return _in_cluster()
    user = selection.user
    exec_cfg = user.get("exec")
    if exec_cfg:
        from metallb_plugin import credentials

        found = credentials.run(
            exec_cfg, selection.user_name, selection.cluster, terminal, os.environ if environ is None else environ
        )
        user = credentials.user_fields(user, found)
    if "auth-provider" in user:
        return _auth_provider(selection, user)
    cluster = selection.cluster
    settings = Settings(host=str(cluster["server"]).rstrip("/"))
    owner = f'kubeconfig user "{selection.user_name}"'
    if settings.host.startswith("https"):  # as client-go: certificates only for an https:// server
        settings.ssl_ca_cert = _file_or_data(cluster, "certificate-authority", owner)
        settings.cert_file = _file_or_data(user, "client-certificate", owner)
        settings.key_file = _file_or_data(user, "client-key", owner)
    if "insecure-skip-tls-verify" in cluster:
        settings.verify_ssl = not cluster["insecure-skip-tls-verify"]
    settings.tls_server_name = cluster.get("tls-server-name") or None
    token = user.get("token") or _read_token_file(user.get("tokenFile"), owner)
    if token:
        settings.authorization = f"Bearer {token}"
    elif user.get("username") and user.get("password"):  # sent as UTF-8, as Go sends it
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        settings.authorization = f"Basic {basic}"
    return settings


def _read_token_file(path: Optional[str], owner: str) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()  # client-go trims the file's whitespace (a trailing newline)
    except OSError as exc:
        raise errors.ClusterError(f"{owner}: cannot read {path}: {exc.strerror or exc}") from None


def _file_or_data(entry: Mapping[str, Any], key: str, owner: str) -> Optional[str]:
    """The file holding entry's KEY: KEY-data (base64, checked when the kubeconfig was read) written to a private
    temporary file, else the KEY file, which must exist."""
    if f"{key}-data" in entry:
        data = entry[f"{key}-data"]
        return _temporary_file(base64.b64decode(data)) if data else None
    path = entry.get(key)
    if path and not os.path.isfile(path):
        raise errors.ClusterError(f"{owner}: cannot read {path} ({key}): no such file")
    return str(path) if path else None


_TEMPORARY: List[str] = []


def _temporary_file(content: bytes) -> str:
    """A file only this user can read, removed when the process exits (ssl loads certificates from files)."""
    import atexit
    import tempfile

    if not _TEMPORARY:
        atexit.register(_remove_temporary)
    handle, path = tempfile.mkstemp(prefix="kubectl-metallb-")  # mode 0600
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    _TEMPORARY.append(path)
    return path


def _remove_temporary() -> None:
    for path in _TEMPORARY:
        if os.path.exists(path):
            os.unlink(path)


def _from_client(cfg: Any) -> Settings:
    token = cfg.get_api_key_with_prefix("authorization") or (
        cfg.get_basic_auth_token() if cfg.username and cfg.password else None
    )
    return Settings(
        cfg.host, cfg.verify_ssl, cfg.ssl_ca_cert, cfg.cert_file, cfg.key_file, cfg.tls_server_name or None, token
    )


def _in_cluster() -> Settings:
    if not os.path.exists(IN_CLUSTER_TOKEN):
        raise errors.ClusterError(
            "no kubeconfig found: set KUBECONFIG, pass --kubeconfig FILE, or create ~/.kube/config"
        )
    from kubernetes.client import Configuration
    from kubernetes.config import config_exception, incluster_config

    cfg = Configuration()
    try:
        incluster_config.load_incluster_config(client_configuration=cfg)
    except config_exception.ConfigException as exc:
        raise errors.ClusterError(f"in-cluster configuration failed: {exc}") from None
    return _from_client(cfg)


def _auth_provider(selection: kc.Selection, user: Dict[str, Any]) -> Settings:
    from kubernetes.client import Configuration
    from kubernetes.config import kube_config

    config = kc.single_context(selection)
    config["users"][0]["user"] = user
    cfg = Configuration()
    provider = (user.get("auth-provider") or {}).get("name", "?")
    try:
        kube_config.load_kube_config_from_dict(
            config, context="selected", client_configuration=cfg, persist_config=False
        )
    except Exception as exc:  # the client's provider code fails in many ways (gcp, oidc, azure ...)
        raise errors.ClusterError(
            f'kubeconfig user "{selection.user_name}": the {provider} auth-provider failed ({exc}); these '
            "providers are deprecated in kubectl too: switch the user to its exec credential plugin"
        ) from None
    return _from_client(cfg)


# --------------------------------------------------------------------------------------------- proxies


@dataclass
class Proxy:
    """A proxy URL taken apart; str() is safe to print (no user or password)."""

    scheme: str  # http, https or socks5 (socks5h is the same: the proxy resolves names, as in kubectl)
    host: str
    port: int
    username: Optional[str] = None
    password: Optional[str] = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_proxy(url: str, origin: str) -> Proxy:
    """A Proxy from a proxy URL (origin: where it came from, for messages); ClusterError, never echoing the
    credentials, when it is not one kubectl would use."""
    if "://" not in url:
        url = "http://" + url  # Go's rule: a proxy without a scheme is an HTTP proxy
    parts = urllib.parse.urlsplit(url)
    scheme = {"socks5h": "socks5"}.get(parts.scheme.lower(), parts.scheme.lower())
    shown = f"{parts.scheme}://{parts.hostname or ''}"
    if scheme not in ("http", "https", "socks5"):
        raise errors.ClusterError(
            f"{origin}: the proxy {shown} uses {parts.scheme}://; kubectl and this plugin support http://, https:// "
            "and socks5:// proxies"
        )
    try:
        port = parts.port or {"http": 80, "https": 443, "socks5": 1080}[scheme]
    except ValueError:
        raise errors.ClusterError(f"{origin}: the proxy {shown} has an invalid port") from None
    if not parts.hostname:
        raise errors.ClusterError(f"{origin}: the proxy URL has no host")
    unquote = urllib.parse.unquote
    return Proxy(
        scheme,
        parts.hostname,
        port,
        unquote(parts.username) if parts.username is not None else None,
        unquote(parts.password) if parts.password is not None else None,
    )


def proxy_for(server: str, proxy_url: Optional[str], environ: Mapping[str, str]) -> Optional[Proxy]:
    """The proxy kubectl would use for server: the cluster's proxy-url, else HTTPS_PROXY (HTTP_PROXY for an
    http:// server) unless the host is loopback or NO_PROXY exempts it."""
    if proxy_url:
        return parse_proxy(proxy_url, "proxy-url in the kubeconfig")
    env = {k.lower(): v for k, v in environ.items()}
    parts = urllib.parse.urlsplit(server)
    name = "https_proxy" if parts.scheme == "https" else "http_proxy"
    url = env.get(name)
    host = parts.hostname or ""
    if not url or _loopback(host) or bypass_proxy(host, env.get("no_proxy", "")):
        return None
    return parse_proxy(url, name.upper())


def _loopback(host: str) -> bool:
    """Go's proxy rules never send requests for localhost or a loopback address through a proxy."""
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def pool_manager(proxy: Optional[Proxy], **pool: Any) -> Any:
    """A urllib3 PoolManager, through the proxy when there is one: http(s) proxies get the URL's user and password
    as Proxy-Authorization (for the CONNECT tunnel), socks5 proxies get them in their handshake."""
    import urllib3

    if proxy is None:
        return urllib3.PoolManager(**pool)
    if proxy.scheme == "socks5":
        from urllib3.contrib.socks import SOCKSProxyManager

        return SOCKSProxyManager(
            f"socks5h://{str(proxy).split('://', 1)[1]}", username=proxy.username, password=proxy.password, **pool
        )
    headers = None
    if proxy.username is not None:  # as Go sends it: base64 of the UTF-8 bytes
        credentials = f"{proxy.username}:{proxy.password or ''}".encode()
        headers = {"Proxy-Authorization": "Basic " + base64.b64encode(credentials).decode()}
    return urllib3.ProxyManager(str(proxy), proxy_headers=headers, **pool)


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
