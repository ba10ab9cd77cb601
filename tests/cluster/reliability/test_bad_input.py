"""Bad input, one table: whatever a user types or points the plugin at, one clear line and the documented exit code.

Every row runs the plugin as a user does (a subprocess; no traceback allowed) and asserts the exit code and a
specific message. Most rows never reach a cluster (the default kubeconfig does not exist, and the input is refused
before it would be read); rows about credentials and permissions use the shared API server; rows about kube-proxy's
configuration write kube-system and so use this module's own API server (`private_controlplane`, started only when
such a row runs).

Unreadable kubeconfig: the tests run as root, for whom chmod 000 does not stop reading. That row therefore runs the
plugin as the unprivileged uid 65534 with `setpriv` (the file is chmod 000 in a directory that uid may enter).
"""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Callable, List, Optional

import pytest
import yaml

from netservers import ConnectProxy, ScriptedServer, status

from .common import KUBE_PROXY_IPVS, V0161_NATIVE, kube_proxy

UNPRIVILEGED = 65534  # nobody


# ------------------------------------------------------------------------------------------- the context of a row


class Ctx:
    """What a row's prepare step may use; fixtures are fetched only when a row needs them."""

    def __init__(self, request, tmp_path):
        self.request = request
        self.tmp = tmp_path
        self.env = {"KUBECONFIG": str(tmp_path / "absent.kubeconfig")}  # rows reach no cluster unless they say so
        self.vars = {"tmp": str(tmp_path)}
        self.uid = None

    def fixture(self, name):
        return self.request.getfixturevalue(name)

    @property
    def shared(self):
        return self.fixture("controlplane")

    @property
    def private(self):
        return self.fixture("private_controlplane")

    def file(self, name, content):
        path = self.tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        self.vars[name.split(".")[0]] = str(path)
        return str(path)

    def use(self, kubeconfig):
        self.env = {"KUBECONFIG": kubeconfig}

    def kubeconfig(self, server, user, ca=None, name="c.kubeconfig"):
        """A one-context kubeconfig (context and cluster "test", user "u") for server, as user."""
        cluster_entry = {"server": server}
        if ca:
            cluster_entry["certificate-authority"] = ca
        path = self.file(name, json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": cluster_entry}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "u"}}]}))
        self.use(path)
        return path

    def upstream(self):
        return list(yaml.safe_load_all(open(self.fixture("upstream_manifest")("v0.16.1"))))


@dataclass
class Row:
    id: str
    argv: List[str]
    code: int
    message: str
    prepare: Optional[Callable] = None
    stream: str = "stderr"  # where the message is: an error line on stderr, or a report on stdout


# ------------------------------------------------------------------------------------------- prepare steps


def shared_as(who):
    def prepare(ctx):
        ctx.use(ctx.shared.kubeconfig(who))
    return prepare


def private_as(who, config=None):
    """This module's API server with a kube-proxy ConfigMap (config.conf = config) and DaemonSet in kube-system."""
    def prepare(ctx):
        plane = ctx.private
        kube_proxy(plane, config if config is not None else KUBE_PROXY_IPVS)
        ctx.use(plane.kubeconfig(who))
    return prepare


def file_row(name, content):
    def prepare(ctx):
        ctx.file(name, content)
    return prepare


def kubeconfig_text(text):
    def prepare(ctx):
        ctx.use(ctx.file("k.kubeconfig", text))
    return prepare


def admin_kubeconfig_with(change):
    """The shared server's admin kubeconfig with change(config) applied: fields of the wrong type."""
    def prepare(ctx):
        config = json.load(open(ctx.shared.kubeconfig("admin")))
        change(config)
        ctx.use(ctx.file("k.kubeconfig", json.dumps(config)))
    return prepare


def cluster_field(key, value):
    return admin_kubeconfig_with(lambda c: c["clusters"][0]["cluster"].update({key: value}))


def user_field(key, value):
    return admin_kubeconfig_with(lambda c: c["users"][0].update(user={key: value}))


def kubeconfig_directory(ctx):
    path = ctx.tmp / "dir.kubeconfig"
    path.mkdir()
    ctx.use(str(path))


def kubeconfig_unreadable(ctx):
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run the plugin as an unprivileged user")
    where = tempfile.mkdtemp(prefix="unreadable-")
    ctx.request.addfinalizer(lambda: shutil.rmtree(where, ignore_errors=True))
    os.chmod(where, 0o755)
    path = os.path.join(where, "config")
    shutil.copy(ctx.shared.kubeconfig("admin"), path)
    os.chmod(path, 0)
    ctx.use(path)
    ctx.vars["kubeconfig"] = path
    ctx.uid = UNPRIVILEGED if os.geteuid() == 0 else None  # as root chmod 000 would not stop the read


def server_at(server):
    def prepare(ctx):
        ctx.kubeconfig(server, {"token": "x"}, ca=os.path.join(ctx.shared.pki, "ca.crt"))
    return prepare


def openssl(cwd, *args):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def foreign_ca(ctx):
    """A CA (and a client certificate it signed) that the test API server knows nothing about."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl(ctx.tmp, "req", "-x509", *ec, "-days", "1", "-subj", "/CN=other-ca", "-keyout", "ca.key", "-out", "ca.crt")
    openssl(ctx.tmp, "req", *ec, "-subj", "/O=system:masters/CN=intruder", "-keyout", "c.key", "-out", "c.csr")
    openssl(ctx.tmp, "x509", "-req", "-in", "c.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-out", "c.crt")
    return str(ctx.tmp / "ca.crt"), str(ctx.tmp / "c.crt"), str(ctx.tmp / "c.key")


def wrong_ca(ctx):
    ca, _, _ = foreign_ca(ctx)
    ctx.kubeconfig(ctx.shared.server, {"token": "x"}, ca=ca)


def foreign_client_certificate(ctx):
    _, cert, key = foreign_ca(ctx)
    ctx.kubeconfig(ctx.shared.server, {"client-certificate": cert, "client-key": key},
                   ca=os.path.join(ctx.shared.pki, "ca.crt"))


def bogus_token(ctx):
    ctx.kubeconfig(ctx.shared.server, {"token": "bogus-token-0123456789"}, ca=os.path.join(ctx.shared.pki, "ca.crt"))


def exec_plugin(script):
    def prepare(ctx):
        path = ctx.file("login.sh", "#!/bin/sh\n" + script)
        os.chmod(path, 0o755)
        ctx.kubeconfig(ctx.shared.server, {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": path,
                                                    "interactiveMode": "Never"}},
                       ca=os.path.join(ctx.shared.pki, "ca.crt"))
    return prepare


def proxied_admin(proxy_url):
    """The shared server's admin kubeconfig through a proxy (proxy-url applies to loopback servers too)."""
    return cluster_field("proxy-url", proxy_url)


def behind_a_proxy_with_a_password(ctx):
    """A CONNECT proxy that wants another password than the kubeconfig's proxy-url gives."""
    plane = ctx.shared
    proxy = ConnectProxy({"127.0.0.1": ("127.0.0.1", plane.port)}, user="jo", password="right-one")
    ctx.request.addfinalizer(proxy.close)
    proxied_admin(f"http://jo:wrong-one@127.0.0.1:{proxy.port}")(ctx)


def scripted_server(script, scheme="http"):
    """A loopback HTTP server answering per script (tests/netservers.py), as the kubeconfig's server."""
    def prepare(ctx):
        server = ScriptedServer(script)
        ctx.request.addfinalizer(server.close)
        ctx.kubeconfig(f"{scheme}://127.0.0.1:{server.port}", {"token": "x"})
    return prepare


def http_to_the_https_server(ctx):
    ctx.kubeconfig(f"http://127.0.0.1:{ctx.shared.port}", {"token": "x"})


def tls_server_name(name):
    def prepare(ctx):
        plane = ctx.shared
        ctx.kubeconfig(plane.server, {"token": open(plane.path("admin.token")).read()},
                       ca=os.path.join(plane.pki, "ca.crt"))
        config = json.load(open(ctx.env["KUBECONFIG"]))
        config["clusters"][0]["cluster"]["tls-server-name"] = name
        ctx.use(ctx.file("k.kubeconfig", json.dumps(config)))
    return prepare


def exec_config(**fields):
    """A user whose exec credential plugin is configured with fields (and the login.sh of exec_plugin)."""
    def prepare(ctx):
        exec_plugin("echo never reached >&2\nexit 1\n")(ctx)
        config = json.load(open(ctx.env["KUBECONFIG"]))
        config["users"][0]["user"]["exec"].update(fields)
        ctx.use(ctx.file("k.kubeconfig", json.dumps(config)))
    return prepare


def with_existing_pool(ctx):
    """A namespace on the shared server holding pool "taken" (10.20.0.0/24); the row runs as admin there."""
    ctx.fixture("metallb_crds")
    namespace = ctx.fixture("namespace")
    ctx.fixture("kubectl")("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "taken"},
        "spec": {"addresses": ["10.20.0.0/24"]}}))
    ctx.vars["ns"] = namespace
    ctx.use(ctx.shared.kubeconfig("admin"))


def reader_in_a_namespace(ctx):
    ctx.fixture("metallb_crds")
    ctx.vars["ns"] = ctx.fixture("namespace")
    ctx.use(ctx.shared.kubeconfig("reader"))


def manifest(transform):
    """The real v0.16.1 manifest, changed by transform(list of documents)."""
    def prepare(ctx):
        docs = ctx.upstream()
        transform(docs)
        ctx.file("m.yaml", yaml.safe_dump_all(docs))
    return prepare


def add_pod(docs):
    docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "miner", "namespace": "metallb-system"},
                 "spec": {"containers": [{"name": "m", "image": "miner"}]}})


def move_controller(docs):
    next(d for d in docs if d["kind"] == "Deployment")["metadata"]["namespace"] = "kube-system"


def upstream_copy(ctx):
    ctx.file("m.yaml", open(ctx.fixture("upstream_manifest")("v0.16.1"), "rb").read())


def alias_bomb_lines(depth=9, width=9):
    """YAML mappings l0..l8 where l8 expands to 9^9 (387 million) strings: a billion-laughs document."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, depth):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


ALIASES = alias_bomb_lines()


def alias_bomb():
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n" + ALIASES


def many_aliases(count=150):
    return ("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: &n metallb-system\n  labels:\n"
            + "".join(f"    k{i}: *n\n" for i in range(count)))


LEGACY_OVERLAP = """\
address-pools:
- name: first
  protocol: layer2
  addresses: [192.168.1.0/24]
- name: second
  protocol: layer2
  addresses: [192.168.1.128-192.168.1.200]
"""

# ------------------------------------------------------------------------------------------- the table

ROWS = [
    # -- flags and values
    Row("unknown-flag", ["status", "--bogus"], 2, "unrecognized arguments: --bogus"),
    Row("unknown-command", ["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    Row("unknown-output-format", ["status", "-o", "xml"], 2, "argument -o/--output: invalid choice: 'xml'"),
    Row("bad-request-timeout", ["version", "--request-timeout", "soon"], 2, "invalid duration 'soon'"),
    Row("bad-wait-timeout", ["status", "--timeout", "5 minutes"], 2, "argument --timeout: invalid duration"),
    Row("enable-and-disable", ["strict-arp", "--enable", "--disable"], 2,
        "argument --disable: not allowed with argument --enable"),
    Row("dry-run-without-change", ["strict-arp", "--dry-run"], 2, "--dry-run only applies with --enable or --disable"),
    Row("wait-without-restart", ["strict-arp", "--enable", "--wait", "--no-restart"], 2,
        "--wait waits for the restart: it cannot be combined with --no-restart"),
    Row("unknown-mode", ["install", "--mode", "ospf"], 2, "argument --mode: invalid choice: 'ospf'"),
    Row("unknown-release", ["install", "--print", "--version", "v0.99.0"], 2, "unknown MetalLB release v0.99.0"),
    Row("release-without-mode", ["install", "--print", "--version", "v0.13.12", "--mode", "frr-k8s"], 2,
        "MetalLB v0.13.12 has no manifest for frr-k8s mode"),
    Row("print-and-dry-run", ["install", "--print", "--dry-run"], 2, "--print and --dry-run do not go together"),
    Row("preflight-unknown-release", ["preflight", "--version", "v9"], 2,
        "--version: 'v9' is not a MetalLB version"),
    Row("pools-create-no-addresses", ["pools", "create", "p"], 2, "the following arguments are required: --addresses"),
    Row("pools-create-bad-priority", ["pools", "create", "p", "--addresses", "10.0.0.0/30", "--priority", "high"], 2,
        "argument --priority: invalid int value: 'high'"),
    Row("pools-create-bad-name", ["pools", "create", "Bad_Name", "--addresses", "10.0.0.0/30"], 2,
        'invalid pool name "Bad_Name"'),
    Row("pools-interfaces-without-l2", ["pools", "create", "p", "--addresses", "10.0.0.0/30", "--interfaces", "eth0"],
        2, "--interfaces needs --l2"),
    Row("completion-unknown-shell", ["completion", "powershell"], 2, "invalid choice: 'powershell'"),
    Row("status-bad-service", ["status", "--service", "a/b/c"], 2, "--service a/b/c: use NAMESPACE/NAME",
        prepare=shared_as("admin")),
    Row("namespace-a-path", ["status", "-n", "../../../api/v1/secrets"], 2,
        "argument -n/--namespace: '../../../api/v1/secrets' is not a namespace name"),
    Row("namespace-too-long", ["pools", "-n", "a" * 64], 2, "is not a namespace name: at most 63"),
    Row("impersonate-line-break", ["version", "--as", "jo\r\nImpersonate-Group: system:masters"], 2,
        "argument --as: 'jo\\r\\nImpersonate-Group: system:masters' contains a control character (\\r)"),
    Row("impersonate-group-alone", ["status", "--as-group", "admins"], 2, "give --as USER too"),
    Row("impersonate-extra-no-value", ["version", "--as", "jo", "--as-user-extra", "scopes"], 2,
        "'scopes': use KEY=VALUE"),
    Row("output-huge", ["status", "-o", "x" * 100_000], 2, "invalid choice: '" + "x" * 79 + "…'"),
    Row("output-on-completion", ["completion", "bash", "-o", "json"], 2,
        "completion does not print data: -o json does not apply to it"),
    Row("addr-huge", ["pools", "create", "p", "--addresses", "1" * 100_000], 2,
        '"' + "1" * 79 + '…": 100000 characters, too long for one'),

    # -- kubeconfigs
    Row("kubeconfig-missing", ["version", "--kubeconfig", "{tmp}/nowhere"], 3, "does not exist"),
    Row("kubeconfig-env-missing", ["status"], 3, "no kubeconfig found: set KUBECONFIG"),
    Row("kubeconfig-empty", ["status"], 3, "the kubeconfig has no current context", prepare=kubeconfig_text("")),
    Row("kubeconfig-not-yaml", ["status"], 3, "is not valid YAML", prepare=kubeconfig_text("clusters: [\n  - {a: b\n")),
    Row("kubeconfig-a-list", ["status"], 3, "is not a kubeconfig (expected a mapping at the top)",
        prepare=kubeconfig_text("- one\n- two\n")),
    Row("kubeconfig-binary", ["status"], 3, "is not a text file",
        prepare=kubeconfig_text(b"\x89PNG\r\n\x1a\n\xff\xfe\x00garbage\xc3\x28")),
    Row("kubeconfig-directory", ["status"], 3, "is a directory, not a file", prepare=kubeconfig_directory),
    Row("kubeconfig-unreadable", ["status", "--kubeconfig", "{kubeconfig}"], 3, "permission denied",
        prepare=kubeconfig_unreadable),
    Row("kubeconfig-no-server", ["status"], 3, 'cluster "a" in the kubeconfig has no server address',
        prepare=kubeconfig_text("apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context:\n"
                                "    cluster: a\n    user: a\nclusters:\n- name: a\n  cluster: {}\nusers:\n- name: a\n"
                                "  user: {}\n")),
    Row("kubeconfig-current-context-list", ["status"], 3, "current-context must be the name of a context",
        prepare=admin_kubeconfig_with(lambda c: c.update({"current-context": ["test"]}))),
    Row("kubeconfig-alias-bomb", ["status"], 3, "current-context must be the name of a context",
        prepare=kubeconfig_text(ALIASES + "current-context: *l8\n")),
    Row("kubeconfig-context-cluster-list", ["status"], 3, 'context "test" in the kubeconfig: cluster must be text',
        prepare=admin_kubeconfig_with(lambda c: c["contexts"][0]["context"].update(cluster=["test"]))),
    Row("kubeconfig-server-number", ["status"], 3, 'cluster "test" in the kubeconfig: server must be text, not int',
        prepare=cluster_field("server", 6443)),
    Row("kubeconfig-ca-list", ["status"], 3, "certificate-authority must be text, not list",
        prepare=cluster_field("certificate-authority", ["ca.crt"])),
    Row("kubeconfig-ca-data-not-base64", ["status"], 3, "certificate-authority-data is not valid base64",
        prepare=cluster_field("certificate-authority-data", "!!not base64")),
    Row("kubeconfig-insecure-as-text", ["status"], 3, "insecure-skip-tls-verify must be true or false",
        prepare=cluster_field("insecure-skip-tls-verify", "no")),
    Row("kubeconfig-token-list", ["status"], 3, 'user "admin" in the kubeconfig: token must be text, not list',
        prepare=user_field("token", ["a", "b"])),
    Row("kubeconfig-exec-not-a-mapping", ["status"], 3, "exec must be a mapping with a command",
        prepare=user_field("exec", "corp-login")),
    Row("unknown-context", ["status", "--context", "nope"], 3, 'context "nope" not found in the kubeconfig',
        prepare=shared_as("admin")),
    Row("unknown-cluster", ["status", "--cluster", "nope"], 3, 'cluster "nope" (from --cluster) not found',
        prepare=shared_as("admin")),
    Row("unknown-user", ["status", "--user", "nope"], 3, 'user "nope" (from --user) not found',
        prepare=shared_as("admin")),
    Row("server-unreachable", ["status"], 3, "cannot reach the API server at https://127.0.0.1:1 ",
        prepare=server_at("https://127.0.0.1:1")),  # port 1: nothing listens there
    Row("server-unresolvable", ["status"], 3, "cannot resolve the host of the API server",
        prepare=server_at("https://no-such-cluster.invalid:6443")),
    Row("wrong-ca", ["status"], 3, "TLS verification of the API server at", prepare=wrong_ca),
    Row("bogus-token", ["status"], 3, 'rejected the credentials of user "u" (context "test"): 401 Unauthorized',
        prepare=bogus_token),
    Row("foreign-client-certificate", ["status"], 3, 'rejected the credentials of user "u" (context "test"): 401',
        prepare=foreign_client_certificate),
    Row("exec-plugin-fails", ["status"], 3, "session expired: run corp-login",
        prepare=exec_plugin("echo 'session expired: run corp-login' >&2\nexit 1\n")),
    Row("exec-plugin-garbage", ["status"], 3, "printed something that is not an ExecCredential (not JSON)",
        prepare=exec_plugin("echo 'this is not JSON'\n")),
    Row("exec-plugin-wrong-version", ["status"], 3,
        "answered with apiVersion client.authentication.k8s.io/v1beta1, not the client.authentication.k8s.io/v1",
        prepare=exec_plugin('echo \'{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": '
                            '"ExecCredential", "status": {"token": "t"}}\'\n')),
    Row("exec-plugin-missing", ["status"], 3,
        "is not installed (no executable 'corp-login'). Install corp-login: brew install corp/login",
        prepare=exec_config(command="corp-login", installHint="Install corp-login:\n  brew install corp/login")),
    Row("exec-plugin-needs-a-terminal", ["status"], 3, "needs a terminal to ask for your login",
        prepare=exec_config(interactiveMode="Always")),
    Row("exec-plugin-old-api", ["status"], 3, "apiVersion 'client.authentication.k8s.io/v1alpha1' is not one of",
        prepare=exec_config(apiVersion="client.authentication.k8s.io/v1alpha1")),

    # -- servers, proxies and TLS that do not fit
    Row("server-http-for-https", ["status"], 3, "speaks HTTPS: write it as https://127.0.0.1:",
        prepare=http_to_the_https_server),
    Row("server-https-for-http", ["version"], 3, "does not speak TLS",
        prepare=scripted_server({}, scheme="https")),
    Row("server-not-kubernetes", ["version"], 3, "with something that is not JSON: is this a Kubernetes API server?",
        prepare=scripted_server({("GET", "/version"): [(200, {}, b"<html><body>It works!</body></html>")]})),
    Row("server-busy-for-good", ["version"], 1, "GET /version failed: Too many requests (after 10 retries)",
        prepare=scripted_server({("GET", "/version"): [status(429, "Too many requests", retry_after=1)] * 20})),
    Row("tls-server-name-mismatch", ["status"], 3,
        "is not valid for 'api.example.com': tls-server-name in your kubeconfig does not match it",
        prepare=tls_server_name("api.example.com")),
    Row("proxy-wrong-password", ["status"], 3, "refused to connect to https://127.0.0.1:",
        prepare=behind_a_proxy_with_a_password),
    Row("proxy-unsupported-scheme", ["status"], 3, "uses ftp://; kubectl and this plugin support http://",
        prepare=proxied_admin("ftp://jo:hunter2@proxy.example:21")),
    Row("proxy-invalid-port", ["status"], 3, "the proxy http://proxy.example has an invalid port",
        prepare=proxied_admin("http://jo:hunter2@proxy.example:99999")),
    Row("socks-proxy-down", ["status"], 3, "through the proxy socks5://127.0.0.1:1",
        prepare=proxied_admin("socks5://jo:hunter2@127.0.0.1:1")),
    Row("kubeconfig-too-deep", ["status"], 3, "is not a kubeconfig: nested more than 200 levels deep",
        prepare=kubeconfig_text("clusters: " + "[" * 300 + "]" * 300 + "\n")),
    Row("kubeconfig-json-list", ["status"], 3, "is not a kubeconfig (expected a mapping at the top)",
        prepare=kubeconfig_text('[{"clusters": []}]')),
    Row("context-huge", ["status", "--context", "c" * 100_000], 3, 'context "' + "c" * 79 + '…" not found',
        prepare=shared_as("admin")),

    # -- 403 for each command: nobody may read nothing, reader may read but not write
    Row("403-preflight", ["preflight"], 1, "26 of the 26 permissions that install needs are missing",
        prepare=shared_as("nobody"), stream="stdout"),
    Row("403-strict-arp", ["strict-arp"], 3, 'User "nobody" cannot list resource "configmaps"',
        prepare=shared_as("nobody")),
    Row("403-install", ["install", "--no-wait", "--manifest", "{m}", "--sha256", V0161_NATIVE], 3,
        'User "nobody" cannot list resource "deployments"', prepare=lambda ctx: (upstream_copy(ctx),
                                                                                  shared_as("nobody")(ctx))),
    Row("403-uninstall", ["uninstall", "--yes"], 3, 'User "nobody" cannot get resource "configmaps"',
        prepare=shared_as("nobody")),
    Row("403-status", ["status"], 1, "MetalLB's health is unknown: no permission to list Deployments",
        prepare=shared_as("nobody"), stream="stdout"),
    Row("403-pools-list", ["pools"], 3, 'User "nobody" cannot list resource "ipaddresspools"',
        prepare=shared_as("nobody")),
    Row("403-pools-create", ["pools", "create", "p", "--addresses", "10.0.0.0/30", "--l2"], 3,
        'User "nobody" cannot list resource "ipaddresspools"', prepare=shared_as("nobody")),
    Row("403-pools-delete", ["pools", "delete", "p", "--yes"], 3, 'User "nobody" cannot list resource',
        prepare=shared_as("nobody")),
    Row("403-pools-migrate", ["pools", "migrate"], 3, 'User "nobody" cannot get resource "configmaps"',
        prepare=shared_as("nobody")),
    Row("403-reader-install", ["install", "--no-wait", "--manifest", "{m}", "--sha256", V0161_NATIVE], 3,
        "permission(s) this needs are missing (listed above)", prepare=lambda ctx: (upstream_copy(ctx),
                                                                                  shared_as("reader")(ctx))),
    Row("403-reader-pools-create", ["pools", "create", "p", "-n", "{ns}", "--addresses", "10.21.0.0/30"], 3,
        "permission denied: 1 permission(s) this needs are missing", prepare=reader_in_a_namespace),
    Row("403-reader-strict-arp", ["strict-arp", "--enable", "--yes"], 3,
        "permission denied: 2 permission(s) this needs are missing", prepare=private_as("reader")),

    # -- addresses (checked before the cluster is contacted)
    Row("addr-reversed-v4", ["pools", "create", "p", "--addresses", "10.0.0.9-10.0.0.1"], 2,
        "the start 10.0.0.9 is after the end 10.0.0.1"),
    Row("addr-reversed-v6", ["pools", "create", "p", "--addresses", "fd00::9-fd00::1"], 2,
        "the start fd00::9 is after the end fd00::1"),
    Row("addr-prefix-v4", ["pools", "create", "p", "--addresses", "10.0.0.0/33"], 2, "prefix length 33 is out of range"),
    Row("addr-prefix-v6", ["pools", "create", "p", "--addresses", "fd00::/129"], 2, "prefix length 129 is out of range"),
    Row("addr-prefix-negative", ["pools", "create", "p", "--addresses", "10.0.0.0/-1"], 2, 'the start "10.0.0.0/" is a CIDR'),
    Row("addr-prefix-not-a-number", ["pools", "create", "p", "--addresses", "10.0.0.0/x"], 2, 'is not a number'),
    Row("addr-no-prefix", ["pools", "create", "p", "--addresses", "10.0.0.1"], 2, "needs a prefix length"),
    Row("addr-host-bits", ["pools", "create", "p", "--addresses", "10.0.0.1/24"], 2, "host bits are set"),
    Row("addr-space", ["pools", "create", "p", "--addresses", "10.0.0.0 /24"], 2, "contains a space"),
    Row("addr-space-in-range", ["pools", "create", "p", "--addresses", "10.0.0.1-10.0 .0.5"], 2, "contains a space"),
    Row("addr-unicode-digits", ["pools", "create", "p", "--addresses", "\u0661\u0660.0.0.0/24"], 2,
        "non-ASCII character"),
    Row("addr-fullwidth-digits", ["pools", "create", "p", "--addresses", "10.0.0.0/\uff12\uff14"], 2,
        "non-ASCII character"),
    Row("addr-line-break", ["pools", "create", "p", "--addresses", "10.0.0.0\n/24"], 2,
        'invalid CIDR "10.0.0.0\\n/24": contains a space'),
    Row("addr-terminal-escape", ["pools", "create", "p", "--addresses", "10.0.0.0/24\x1b[2J"], 2,
        'the prefix length "24\\x1b[2J" is not a number'),
    Row("addr-mixed-families", ["pools", "create", "p", "--addresses", "10.0.0.1-fd00::1"], 2,
        "the start is IPv4 and the end is IPv6"),
    Row("addr-octet-too-big", ["pools", "create", "p", "--addresses", "300.1.1.0/24"], 2, "octet 300 (> 255)"),
    Row("addr-three-parts", ["pools", "create", "p", "--addresses", "10.0.0.1-10.0.0.2-10.0.0.3"], 2,
        'more than one "-"'),
    Row("addr-cidr-in-range", ["pools", "create", "p", "--addresses", "10.0.0.0/30-10.0.0.9"], 2, "is a CIDR"),
    Row("addr-zone", ["pools", "create", "p", "--addresses", "fe80::1%eth0/128"], 2, "has a zone"),
    Row("addr-empty", ["pools", "create", "p", "--addresses", ""], 2, "empty address entry"),
    Row("addr-empty-item", ["pools", "create", "p", "--addresses", "10.0.0.0/30,,10.0.1.0/30"], 2,
        "empty address entry"),
    Row("addr-overlap-within", ["pools", "create", "p", "--addresses", "10.0.0.0/24,10.0.0.128-10.0.0.130"], 2,
        "entries of a pool must not overlap"),
    Row("addr-preflight", ["preflight", "--addresses", "192.168.1.300/32"], 2, "--addresses: "),
    Row("pools-overlap-existing", ["pools", "create", "new", "-n", "{ns}", "--addresses", "10.20.0.128/25"], 1,
        "MetalLB rejects overlapping pools", prepare=with_existing_pool),
    Row("legacy-overlap", ["pools", "migrate", "-f", "{legacy}"], 2, "overlaps",
        prepare=file_row("legacy.yaml", LEGACY_OVERLAP)),
    Row("legacy-not-yaml", ["pools", "migrate", "-f", "{legacy}"], 2, "is not valid YAML",
        prepare=file_row("legacy.yaml", "address-pools: [\n")),
    Row("legacy-control-character", ["pools", "migrate", "-f", "{legacy}"], 2,
        "not valid YAML: unacceptable character #x001f", prepare=file_row("legacy.yaml", "address-pools:\n- name: \x1f\n")),
    Row("legacy-alias-bomb", ["pools", "migrate", "-f", "{legacy}"], 2,
        "address-pools[0].auto-assign: expected true or false, got a list",
        prepare=file_row("legacy.yaml", ALIASES + "address-pools:\n- name: a\n  protocol: layer2\n"
                                                  "  addresses: [10.0.0.0/30]\n  auto-assign: *l8\n")),
    Row("legacy-config-not-text", ["pools", "migrate", "-f", "{legacy}"], 2,
        'data.config of ConfigMap "config": expected text',
        prepare=file_row("legacy.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\n"
                                        "data: {config: [address-pools]}\n")),
    Row("legacy-line-break-in-a-value", ["pools", "migrate", "-f", "{legacy}"], 2,
        'peers[0].peer-address: "10.0.0.1\\n\\x1b[2J" is not an IP address',
        prepare=file_row("legacy.yaml", 'peers:\n- {my-asn: 1, peer-asn: 2, peer-address: "10.0.0.1\\n\\e[2J"}\n')),
    Row("legacy-missing-file", ["pools", "migrate", "-f", "{tmp}/none.yaml"], 2,
        "none.yaml: No such file or directory"),

    # -- kube-proxy configurations the plugin must not edit (this module's API server)
    Row("kube-proxy-not-yaml", ["strict-arp", "--enable", "--yes"], 1, "is malformed",
        prepare=private_as("admin", "kind: KubeProxyConfiguration\nmode: [ipvs\n")),
    Row("kube-proxy-ipvs-a-list", ["strict-arp", "--enable", "--yes"], 1, "`ipvs` is list",
        prepare=private_as("admin", KUBE_PROXY_IPVS.split("ipvs:")[0] + "ipvs: [1, 2]\n")),
    Row("kube-proxy-strictarp-not-bool", ["strict-arp", "--enable", "--yes"], 1, "not true or false",
        prepare=private_as("admin", KUBE_PROXY_IPVS.replace("strictARP: false", "strictARP: maybe"))),
    Row("kube-proxy-merge-keys", ["strict-arp", "--enable", "--yes"], 1, "merge keys",
        prepare=private_as("admin", "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                                    "mode: ipvs\ndefaults: &d\n  strictARP: false\nipvs:\n  <<: *d\n")),
    Row("kube-proxy-two-configs", ["strict-arp", "--enable", "--yes"], 1, "more than one KubeProxyConfiguration",
        prepare=private_as("admin", KUBE_PROXY_IPVS + "---\n" + KUBE_PROXY_IPVS)),
    Row("kube-proxy-empty", ["strict-arp", "--enable", "--yes"], 1, "the configuration is empty",
        prepare=private_as("admin", "")),
    Row("kube-proxy-alias-bomb", ["strict-arp", "--enable", "--yes"], 1, "expands to more than",
        prepare=private_as("admin", KUBE_PROXY_IPVS + ALIASES)),
    Row("kube-proxy-report-alias-bomb", ["strict-arp"], 1, "`ipvs` is list (a list of more than 20 values), not a mapping", stream="stdout",
        prepare=private_as("admin", KUBE_PROXY_IPVS.split("ipvs:")[0] + ALIASES + "ipvs: *l8\n")),
    Row("kube-proxy-report-malformed", ["strict-arp"], 1, "cannot be read: not valid YAML", stream="stdout",
        prepare=private_as("admin", "kind: KubeProxyConfiguration\nmode: [ipvs\n")),

    # -- manifests (install --print reads and checks them without contacting a cluster)
    Row("manifest-not-yaml", ["install", "--print", "--manifest", "{m}"], 2, "is not valid YAML",
        prepare=file_row("m.yaml", "kind: [Namespace\n  metadata: {name: x\n")),
    Row("manifest-not-objects", ["install", "--print", "--manifest", "{m}"], 2, "is not a Kubernetes object",
        prepare=file_row("m.yaml", "- just\n- a list\n")),
    Row("manifest-binary", ["install", "--print", "--manifest", "{m}"], 2, "is not UTF-8 text",
        prepare=file_row("m.yaml", b"\xff\xfe\x00\x01kind")),
    Row("manifest-empty", ["install", "--print", "--manifest", "{m}"], 2, "contains no objects",
        prepare=file_row("m.yaml", "---\n# nothing\n")),
    Row("manifest-unexpected-kind", ["install", "--print", "--manifest", "{m}"], 2, "unexpected Pod miner",
        prepare=manifest(add_pod)),
    Row("manifest-escape-in-a-name", ["install", "--print", "--manifest", "{m}"], 2,
        "unexpected Pod miner\\x1b]0;pwned\\x07", prepare=manifest(lambda docs: (add_pod(docs), docs[-1][
            "metadata"].update(name="miner\x1b]0;pwned\x07")))),
    Row("manifest-unexpected-namespace", ["install", "--print", "--manifest", "{m}"], 2,
        "is in namespace kube-system", prepare=manifest(move_controller)),
    Row("manifest-huge", ["install", "--print", "--manifest", "{m}"], 2, "more than the 8388608",
        prepare=file_row("m.yaml", "# padding\n" * (1024 * 1024))),
    Row("manifest-alias-bomb", ["install", "--print", "--manifest", "{m}"], 2, "YAML alias",
        prepare=file_row("m.yaml", alias_bomb())),
    Row("manifest-many-aliases", ["install", "--print", "--manifest", "{m}"], 2, "more than 100 YAML aliases",
        prepare=file_row("m.yaml", many_aliases())),
    Row("manifest-directory", ["install", "--print", "--manifest", "{tmp}"], 2, "is a directory"),
    Row("manifest-checksum-mismatch", ["install", "--print", "--manifest", "{m}", "--sha256", "0" * 64], 2,
        "checksum mismatch", prepare=upstream_copy),
    Row("manifest-bad-digest", ["install", "--print", "--manifest", "{m}", "--sha256", "xyz"], 2,
        "'xyz' is not a sha256 digest", prepare=upstream_copy),
    Row("manifest-http-without-insecure", ["install", "--print", "--manifest", "http://127.0.0.1:9/m.yaml"], 2,
        "is plain http://"),
    Row("manifest-other-scheme", ["install", "--print", "--manifest", "file:///etc/passwd"], 2,
        "only https:// (or http:// with --insecure) URLs and local files"),
    Row("preflight-manifest-not-yaml", ["preflight", "--manifest", "{m}"], 2, "--manifest:",
        prepare=file_row("m.yaml", "kind: [\n")),
    Row("preflight-manifest-foreign-kinds", ["preflight", "--manifest", "{m}"], 2, "is not a MetalLB manifest",
        prepare=manifest(add_pod)),
]


def test_the_table_is_big_enough():
    assert len(ROWS) >= 40
    assert len({row.id for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row, request, tmp_path, tally):
    ctx = Ctx(request, tmp_path)
    if row.prepare:
        row.prepare(ctx)
    argv = [arg.format_map(ctx.vars) for arg in row.argv]
    tally.add("inputs: bad-input rows")
    if ctx.uid is not None:
        result = tally.run_as(ctx.uid, *argv, env=ctx.env)
    else:
        result = tally.run(*argv, env=ctx.env)
    assert result.returncode == row.code, (result.stdout, result.stderr)
    message = row.message
    if row.stream == "stdout":
        assert message in result.stdout, result.stdout
        return
    assert "\x1b" not in result.stderr  # no terminal escapes: not from the input, and no colour on a pipe
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr  # one clear line, not a cascade
    assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0], result.stderr  # and the message ends there
    assert message in errors[0], result.stderr
