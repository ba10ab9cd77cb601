"""The plugin's HTTP as kubectl's: retries (client-go's rules), proxies (Basic auth, SOCKS5), impersonation
headers, TLS and scheme mistakes, a server under a path prefix. Against the real API server, and small loopback
servers (tests/netservers.py) where a failure has to be produced on purpose."""

import base64
import gc
import json
import os
import subprocess
import sys
import weakref

import pytest

from helpers import run_plugin
from metallb_plugin import cli, cluster, errors, transport
from netservers import ConnectProxy, ScriptedServer, Socks5Proxy, status

TOKEN = "t0ken-that-must-not-leak"


def kubeconfig(tmp_path, server, user=None, name="k", **cluster_fields):
    path = tmp_path / f"{name}.kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": server, **cluster_fields}}],
        "users": [{"name": "u", "user": user or {"token": TOKEN}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "u"}}]}))
    return str(path)


def client(config, *flags, env=None):
    _, args = cli.parse(["version", "--kubeconfig", config, *flags])
    return cluster.connect(args, environ=env or {}, log=lambda line: None)


def admin_token(plane):
    return open(plane.path("admin.token")).read().strip()


# ------------------------------------------------------------------------------------------- retries


def test_429_with_retry_after_is_retried_after_the_wait(tmp_path):
    script = {("GET", "/version"): [status(429, "Too many requests", retry_after=1)] * 2}
    with ScriptedServer(script) as server:
        result = run_plugin("version", "-v", "--kubeconfig", kubeconfig(tmp_path, server.url))
        assert result.returncode == 0, result.stderr
        assert "Server Version: v1.37.2" in result.stdout
        times = [t for t, _, path, _ in server.seen if path == "/version"]
    assert len(times) == 3
    assert all(later - earlier >= 0.9 for earlier, later in zip(times, times[1:]))  # Retry-After: 1 honoured
    assert result.stderr.count("GET /version 429: retrying in 1s") == 2  # shown with -v
    assert "GET /version 200 (" in result.stderr


def test_retries_stop_after_ten(tmp_path, monkeypatch):
    monkeypatch.setattr(transport, "RETRY_WAIT", 0.01)
    with ScriptedServer({("GET", "/version"): [status(503, "the server is busy")] * 50}) as server:
        api = client(kubeconfig(tmp_path, server.url))
        with pytest.raises(errors.APIError) as caught:
            api.get("/version")
        assert server.count("GET", "/version") == 11  # the request and client-go's 10 retries
    assert caught.value.status == 503 and "the server is busy" in str(caught.value)
    assert api.requests == 11


@pytest.mark.parametrize("method, step, retried", [
    ("GET", status(503, "unavailable"), True),  # a GET is idempotent: retried on gateway errors
    ("GET", status(429, "throttled"), True),
    ("GET", status(500, "a real error"), False),  # an error the server means: not retried
    ("GET", status(500, "shutting down", retry_after=1), True),  # ... unless it says when to come back
    ("POST", status(429, "throttled", retry_after=1), True),  # the server says it did not apply it
    ("POST", status(503, "shutting down", retry_after=1), True),
    ("POST", status(503, "unavailable"), False),  # no Retry-After: it may have applied it
    ("GET", "reset", True),  # a reset connection: GET only
    ("POST", "reset", False),
])
def test_what_is_retried(method, step, retried, tmp_path, monkeypatch):
    monkeypatch.setattr(transport, "RETRY_WAIT", 0.01)
    path = "/api/v1/namespaces/default/configmaps"
    with ScriptedServer({(method, path): [step]}, default={"kind": "ConfigMapList", "items": []}) as server:
        api = client(kubeconfig(tmp_path, server.url))
        call = (lambda: api.get(path)) if method == "GET" else (lambda: api.create(path, {"kind": "ConfigMap"}))
        if retried:
            assert call() == {"kind": "ConfigMapList", "items": []}
        else:
            with pytest.raises(errors.PluginError):
                call()
        assert server.count(method, path) == (2 if retried else 1)


def test_timeouts_and_refused_connections_are_not_retried(tmp_path):
    with ScriptedServer({("GET", "/version"): ["stall"]}) as server:
        result = run_plugin("version", "--request-timeout", "1s", "--kubeconfig", kubeconfig(tmp_path, server.url))
        assert server.count("GET", "/version") == 1
    assert result.returncode == 3 and "did not answer within 1s (--request-timeout)" in result.stderr


def test_a_server_under_a_path_prefix(tmp_path):
    with ScriptedServer(prefix="/k8s/clusters/c-m-abc") as server:
        result = run_plugin("version", "--kubeconfig", kubeconfig(tmp_path, server.url + "/"))
        assert result.returncode == 0, result.stderr
        assert [path for _, _, path, _ in server.seen] == ["/k8s/clusters/c-m-abc/version"]


def test_a_failed_request_is_freed_by_reference_counting_alone(controlplane):
    """An error answer leaves no reference cycle behind: reads freeze what they made (gc.freeze), so a cycle through
    a 404 (a kind the server does not serve) would keep the snapshot it was read for until the command ends."""
    api = client(controlplane.kubeconfig())
    collecting = gc.isenabled()
    gc.disable()
    try:
        for path in ("/apis/example.com/v1/nothings", "/api/v1/namespaces/nowhere/services/none"):
            try:
                api.get(path)
            except errors.NotFound as exc:
                failure = weakref.ref(exc)
            assert failure() is None, path
    finally:
        if collecting:
            gc.enable()


# ------------------------------------------------------------------------------------------- scheme and TLS mistakes


def test_http_scheme_for_an_https_server(controlplane, tmp_path):
    config = kubeconfig(tmp_path, f"http://127.0.0.1:{controlplane.port}")
    result = run_plugin("version", "--kubeconfig", config)
    assert result.returncode == 3, result.stderr
    assert (f"the server at http://127.0.0.1:{controlplane.port} speaks HTTPS: write it as "
            f"https://127.0.0.1:{controlplane.port} in your kubeconfig") in result.stderr


def test_https_scheme_for_a_plain_http_server(tmp_path):
    with ScriptedServer() as server:
        result = run_plugin("version", "--kubeconfig", kubeconfig(tmp_path, f"https://127.0.0.1:{server.port}"))
    assert result.returncode == 3, result.stderr
    assert "does not speak TLS: if it is served over plain HTTP, write the server as http://" in result.stderr


def test_tls_server_name(controlplane, tmp_path):
    ca = os.path.join(controlplane.pki, "ca.crt")
    user = {"token": admin_token(controlplane)}
    good = kubeconfig(tmp_path, controlplane.server, user, "good", **{"certificate-authority": ca,
                                                                       "tls-server-name": "kubernetes"})
    assert run_plugin("version", "--kubeconfig", good).returncode == 0
    bad = kubeconfig(tmp_path, controlplane.server, user, "bad", **{"certificate-authority": ca,
                                                                     "tls-server-name": "api.example.com"})
    result = run_plugin("version", "--kubeconfig", bad)
    assert result.returncode == 3
    assert ("is not valid for 'api.example.com': tls-server-name in your kubeconfig does not match it"
            in result.stderr)
    assert "certificate-authority" not in result.stderr  # the CA is right: no advice about it


# ------------------------------------------------------------------------------------------- proxies


def proxied_kubeconfig(plane, tmp_path, proxy_url=None, name="p"):
    """The admin's credentials for https://kubernetes:PORT, a name only the test proxies resolve."""
    fields = {"certificate-authority": os.path.join(plane.pki, "ca.crt")}
    if proxy_url:
        fields["proxy-url"] = proxy_url
    return kubeconfig(tmp_path, f"https://kubernetes:{plane.port}", {"token": admin_token(plane)}, name, **fields)


def test_http_proxy_with_basic_auth(controlplane, tmp_path):
    hosts = {"kubernetes": ("127.0.0.1", controlplane.port)}
    with ConnectProxy(hosts, user="jo@corp", password="pä:ss") as proxy:
        url = f"http://jo%40corp:p%C3%A4%3Ass@127.0.0.1:{proxy.port}"
        result = run_plugin("version", "-v", "--kubeconfig", proxied_kubeconfig(controlplane, tmp_path, url))
        assert result.returncode == 0, result.stderr
        assert proxy.targets == [f"kubernetes:{controlplane.port}"]
        assert proxy.authorizations == ["Basic " + base64.b64encode("jo@corp:pä:ss".encode()).decode()]
        assert "pä" not in result.stderr and "p%C3%A4" not in result.stderr

        wrong = f"http://jo%40corp:wrong-secret@127.0.0.1:{proxy.port}"
        refused = run_plugin("version", "-v", "--kubeconfig", proxied_kubeconfig(controlplane, tmp_path, wrong))
    assert refused.returncode == 3
    assert (f"the proxy http://127.0.0.1:{proxy.port} refused to connect to https://kubernetes:{controlplane.port}: "
            "407 Proxy Authentication Required") in refused.stderr
    assert "wrong-secret" not in refused.stdout + refused.stderr


def test_https_proxy_from_the_environment_and_no_proxy(controlplane, tmp_path):
    hosts = {"kubernetes": ("127.0.0.1", controlplane.port)}
    config = proxied_kubeconfig(controlplane, tmp_path)
    with ConnectProxy(hosts, user="u", password="secret-pass") as proxy:
        env = {"HTTPS_PROXY": f"http://u:secret-pass@127.0.0.1:{proxy.port}"}
        result = run_plugin("version", "--kubeconfig", config, env=env)
        assert result.returncode == 0, result.stderr
        assert len(proxy.targets) == 1
        bypassed = run_plugin("version", "--kubeconfig", config, env={**env, "NO_PROXY": "kubernetes"})
    assert bypassed.returncode == 3 and "cannot resolve the host" in bypassed.stderr  # went direct, as asked


def test_socks5_proxy_with_a_password_resolves_names_remotely(controlplane, tmp_path):
    hosts = {"kubernetes": ("127.0.0.1", controlplane.port)}
    with Socks5Proxy(hosts, user="jo", password="s0cks-secret") as proxy:
        url = f"socks5://jo:s0cks-secret@127.0.0.1:{proxy.port}"
        result = run_plugin("status", "-o", "json", "--kubeconfig", proxied_kubeconfig(controlplane, tmp_path, url))
        assert result.returncode in (0, 1), result.stderr  # a report: every request went through the proxy
        json.loads(result.stdout)
        assert proxy.requests and set(proxy.requests) == {("domain", "kubernetes")}  # the proxy resolved it
        wrong = url.replace("s0cks-secret", "not-it")
        refused = run_plugin("version", "--kubeconfig", proxied_kubeconfig(controlplane, tmp_path, wrong))
    assert refused.returncode == 3
    assert f"through the proxy socks5://127.0.0.1:{proxy.port}" in refused.stderr
    assert "not-it" not in refused.stderr and "s0cks-secret" not in refused.stderr


# ------------------------------------------------------------------------------------------- impersonation


def test_impersonation_as_kubectl_sends_it(controlplane, tmp_path):
    flags = ["--as", "jürgen", "--as-uid", "42", "--as-group", "開発", "--as-group", "ops",
             "--as-user-extra", "scopes=view", "--as-user-extra", "scopes=edit", "--as-user-extra", "dept/ü=x"]
    api = client(controlplane.kubeconfig("admin"), *flags)
    review = api.create("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    ours = review["status"]["userInfo"]
    kubectl = os.path.join(os.path.dirname(sys.executable), "kubectl")
    theirs = json.loads(subprocess.run([kubectl, "--kubeconfig", controlplane.kubeconfig("admin"), "auth", "whoami",
                                        "-o", "json", *flags], capture_output=True, text=True, check=True).stdout)
    assert ours == theirs["status"]["userInfo"]
    assert (ours["username"], ours["uid"]) == ("jürgen", "42")
    assert {"開発", "ops"} <= set(ours["groups"])
    assert ours["extra"] == {"scopes": ["view", "edit"], "dept/ü": ["x"]}


def test_impersonation_from_the_kubeconfig_as_kubectl_reads_it(controlplane, tmp_path):
    config = json.load(open(controlplane.kubeconfig("admin")))
    config["users"][0]["user"].update({"as": "jürgen", "as-groups": ["開発"], "as-user-extra": {"scopes": ["view"]}})
    path = tmp_path / "impersonating.kubeconfig"
    path.write_text(json.dumps(config))
    review = client(str(path)).create("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                      {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    kubectl = os.path.join(os.path.dirname(sys.executable), "kubectl")
    theirs = json.loads(subprocess.run([kubectl, "--kubeconfig", str(path), "auth", "whoami", "-o", "json"],
                                       capture_output=True, text=True, check=True).stdout)
    assert review["status"]["userInfo"] == theirs["status"]["userInfo"]
    assert review["status"]["userInfo"]["username"] == "jürgen"
