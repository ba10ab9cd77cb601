"""install / uninstall end to end with MetalLB's real release manifests on a real API server.

Install changes cluster-wide state (CRDs, ClusterRoles, a webhook configuration), so this module runs its own API
server. The tests run in file order and build on each other: refusals on an empty cluster first, then an install of
v0.14.9, a no-op re-run, the upgrade to v0.16.1, the switch to FRR-K8s, uninstall --keep-crds and a reinstall.
No controllers run on this server, so what needs them is tested on the full cluster (tests/e2e) with the real
MetalLB: install --wait until it serves, a Pod the scheduler cannot place, uninstall of the namespace (which only
the namespace controller finalizes) and a reinstall right after it.
"""

import http.server
import json
import re
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading

import pytest
import yaml

from helpers import run_plugin, run_plugin_on_terminal

# sha256 of the upstream files, from the reference digests page (the same values the releases table pins)
V0149_NATIVE = "951065e85692aa106f1bb5d5a487d9306154923a794ab1d82122881cbaf588e4"
V0161_NATIVE = "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b"
V0161_FRR_K8S = "19313e5031714cc1489b3b0ed0ae6e58be0e92538b4a5ed9c529c847ef2bac62"
NS = "metallb-system"
REQUEST_LINE = re.compile(r"^(GET|POST|PATCH|PUT|DELETE) /\S* \d{3} \(\d+ ms\)$")


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


def requests_in(stderr):
    return [line.split()[0] for line in stderr.splitlines() if REQUEST_LINE.match(line)]


def results_in(stdout):
    """{"kind.group/name": result} from install's per-object lines (not the diff lines indented under them)."""
    return dict(line.split(" ")[:2] for line in stdout.splitlines() if line.strip() and not line.startswith(" "))


def resource_versions(kubectl):
    out = {}
    for kind in ("crd", "clusterrole", "clusterrolebinding", "validatingwebhookconfiguration"):
        for item in json.loads(kubectl("get", kind, "-o", "json"))["items"]:
            out[(kind, item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    for item in json.loads(kubectl("get", "all,cm,secret,sa,role,rolebinding", "-n", NS, "-o", "json"))["items"]:
        out[(item["kind"], item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    return out


def metallb_state(kubectl):
    """What MetalLB-related state the cluster holds: CRD names, whether the namespace and webhook exist."""
    crds = [c["metadata"]["name"] for c in json.loads(kubectl("get", "crd", "-o", "json"))["items"]
            if "metallb.io" in c["metadata"]["name"]]
    namespace = kubectl("get", "namespace", NS, "--ignore-not-found", "-o", "name")
    vwc = kubectl("get", "validatingwebhookconfiguration", "--ignore-not-found", "-o", "name")
    return sorted(crds), namespace.strip(), vwc.strip()


# ------------------------------------------------------------------------------------------- no cluster needed


def test_print_needs_no_cluster(upstream_manifest, tmp_path):
    # a kubeconfig that points nowhere: --print must not even read it
    env = {"KUBECONFIG": str(tmp_path / "missing.kubeconfig")}
    result = run_plugin("install", "--print", "--manifest", upstream_manifest("v0.16.1"), "--sha256", V0161_NATIVE,
                        "--image-registry", "registry.local:5000/mirror", env=env)
    assert result.returncode == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert [d["kind"] for d in docs[:2]] == ["Namespace", "CustomResourceDefinition"]
    assert docs[-1]["kind"] == "ValidatingWebhookConfiguration"
    controller = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "controller")
    assert controller["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "registry.local:5000/mirror/controller:v0.16.1"
    assert "quay.io/metallb" not in result.stdout
    assert result.stderr.strip() == "printed 26 objects of MetalLB v0.16.1 (native); nothing was applied"


def test_list_versions():
    result = run_plugin("install", "--list-versions", "-o", "json")
    assert result.returncode == 0, result.stderr
    releases = json.loads(result.stdout)["releases"]
    assert releases[0] == {"version": "v0.16.1", "default": True, "modes": ["native", "frr", "frr-k8s"],
                           "prometheusModes": ["native", "frr", "frr-k8s"], "minKubernetes": "1.21"}
    assert releases[-1]["version"] == "v0.13.0" and releases[-1]["modes"] == ["native", "frr"]
    table = run_plugin("install", "--list-versions")
    assert table.stdout.splitlines()[0].split() == ["VERSION", "MODES", "PROMETHEUS", "MIN", "KUBERNETES"]
    assert "v0.16.1 (default)" in table.stdout


@pytest.mark.parametrize("argv, message", [
    (["--version", "v0.13.12", "--mode", "frr-k8s"], "MetalLB v0.13.12 has no manifest for frr-k8s mode"),
    (["--version", "v0.99.0"], "unknown MetalLB release v0.99.0"),
    (["--manifest", "x.yaml", "--version", "v0.16.1"], "do not combine it with --version"),
    (["--sha256", "0" * 64], "--sha256 checks a --manifest"),
    (["--manifest", "nowhere.yaml"], "--manifest nowhere.yaml: no such file"),
    (["--manifest", "ftp://example.com/m.yaml"], "only https:// (or http:// with --insecure)"),
    (["--manifest", "http://127.0.0.1:9/m.yaml"], "is plain http://"),
    (["--manifest", "x.yaml", "--sha256", "abc"], "'abc' is not a sha256 digest"),
])
def test_bad_input_is_a_usage_error(argv, message, tmp_path):
    result = run_plugin("install", "--print", *argv, env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_foreign_objects_in_a_manifest_are_refused(upstream_manifest, tmp_path):
    docs = list(yaml.safe_load_all(open(upstream_manifest("v0.16.1"))))
    docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "miner", "namespace": NS}})
    path = tmp_path / "tampered.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = run_plugin("install", "--print", "--manifest", str(path), env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 2
    assert "unexpected Pod miner: a MetalLB manifest contains only" in result.stderr
    assert result.stdout == ""


# ------------------------------------------------------------------------------------------- downloads


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def web(tmp_path_factory, upstream_manifest):
    """Local HTTP and HTTPS servers on 127.0.0.1 serving the upstream manifest; HTTPS with a CA made here."""
    root = tmp_path_factory.mktemp("web")
    shutil.copy(upstream_manifest("v0.16.1", "metallb-frr-k8s.yaml"), root / "metallb-frr-k8s.yaml")
    # the layout of raw.githubusercontent.com, with a genuine v0.16.1 file and a tampered v0.14.9 one
    release = root / "metallb" / "metallb" / "v0.16.1" / "config" / "manifests"
    release.mkdir(parents=True)
    shutil.copy(upstream_manifest("v0.16.1", "metallb-frr-k8s.yaml"), release / "metallb-frr-k8s.yaml")
    tampered = root / "metallb" / "metallb" / "v0.14.9" / "config" / "manifests"
    tampered.mkdir(parents=True)
    text = open(upstream_manifest("v0.14.9")).read()
    (tampered / "metallb-native.yaml").write_text(text.replace("quay.io/metallb/controller:v0.14.9",
                                                              "evil.example.com/controller:v0.14.9"))
    pki = tmp_path_factory.mktemp("webpki")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=pki)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=test mirror CA", "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr")
    # the same certificate also says raw.githubusercontent.com, for the mirror-in-the-middle proxy below
    (pki / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:raw.githubusercontent.com\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    servers = []
    for secure in (False, True):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), Quiet)
        if secure:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(pki / "server.crt"), str(pki / "server.key"))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    https_port = servers[1].server_address[1]

    class Tunnel(socketserver.StreamRequestHandler):
        """An HTTPS proxy that answers every CONNECT with a tunnel to the local HTTPS server (a mirror)."""

        def handle(self):
            request = self.rfile.readline().decode()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            tunnels.append(request.split()[1])
            upstream = socket.create_connection(("127.0.0.1", https_port))
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()

            def pipe(source, target):
                try:
                    while data := source.recv(65536):
                        target.sendall(data)
                except OSError:
                    pass
                finally:
                    target.close()

            back = threading.Thread(target=pipe, args=(upstream, self.connection), daemon=True)
            back.start()
            pipe(self.connection, upstream)
            back.join(timeout=10)

    tunnels = []
    proxy = socketserver.ThreadingTCPServer(("127.0.0.1", _free_port()), Tunnel)
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    servers.append(proxy)
    yield {"http": f"http://127.0.0.1:{servers[0].server_address[1]}", "https": f"https://127.0.0.1:{https_port}",
           "ca": str(pki / "ca.crt"), "proxy": f"http://127.0.0.1:{proxy.server_address[1]}", "tunnels": tunnels}
    for server in servers:
        server.shutdown()


def no_proxy_env(**extra):
    env = {"KUBECONFIG": "/nonexistent", "HTTPS_PROXY": "", "https_proxy": "", "HTTP_PROXY": "", "http_proxy": "",
           "NO_PROXY": "", "no_proxy": ""}
    env.update(extra)
    return env


def test_https_url_with_a_private_ca(web):
    url = f"{web['https']}/metallb-frr-k8s.yaml"
    result = run_plugin("install", "--print", "--manifest", url, "--sha256", V0161_FRR_K8S,
                        env=no_proxy_env(SSL_CERT_FILE=web["ca"]))
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout)]
    assert kinds.count("CustomResourceDefinition") == 13 and kinds[-1] == "ValidatingWebhookConfiguration"
    assert "printed 47 objects of MetalLB v0.16.1 (frr-k8s)" in result.stderr
    assert "downloading" not in result.stderr  # progress only on a terminal


def test_https_url_untrusted_without_the_ca(web):
    result = run_plugin("install", "--print", "--manifest", f"{web['https']}/metallb-frr-k8s.yaml",
                        "--sha256", V0161_FRR_K8S, env=no_proxy_env(SSL_CERT_FILE="/nonexistent-ca.pem"))
    assert result.returncode == 1
    assert "the server's certificate is not trusted" in result.stderr
    assert "SSL_CERT_FILE" in result.stderr


def test_https_url_checksum_mismatch(web):
    result = run_plugin("install", "--print", "--manifest", f"{web['https']}/metallb-frr-k8s.yaml",
                        "--sha256", V0161_NATIVE, env=no_proxy_env(SSL_CERT_FILE=web["ca"]))
    assert result.returncode == 2
    assert (f"checksum mismatch for {web['https']}/metallb-frr-k8s.yaml: expected sha256 {V0161_NATIVE}, "
            f"got {V0161_FRR_K8S}; nothing was applied") in result.stderr
    assert result.stdout == ""


def test_http_url_only_with_insecure_and_without_sha256_warns(web):
    url = f"{web['http']}/metallb-frr-k8s.yaml"
    refused = run_plugin("install", "--print", "--manifest", url, env=no_proxy_env())
    assert refused.returncode == 2 and "is plain http://" in refused.stderr
    allowed = run_plugin("install", "--print", "--insecure", "--manifest", url, env=no_proxy_env())
    assert allowed.returncode == 0, allowed.stderr
    assert (f"warning: no --sha256 given: the manifest's sha256 is {V0161_FRR_K8S} (it is MetalLB's v0.16.1 "
            "metallb-frr-k8s.yaml); pass --sha256 to verify it") in allowed.stderr


def test_missing_file_on_the_server(web):
    result = run_plugin("install", "--print", "--manifest", f"{web['https']}/nope.yaml", "--sha256", V0161_NATIVE,
                        env=no_proxy_env(SSL_CERT_FILE=web["ca"]))
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr


def test_https_proxy_is_used_and_no_proxy_bypasses_it(web):
    closed = f"http://127.0.0.1:{_free_port()}"
    url = f"{web['https']}/metallb-frr-k8s.yaml"
    through_proxy = run_plugin("install", "--print", "--manifest", url, "--sha256", V0161_FRR_K8S,
                               env=no_proxy_env(SSL_CERT_FILE=web["ca"], HTTPS_PROXY=closed, https_proxy=closed))
    assert through_proxy.returncode == 1  # the (dead) proxy was used
    assert "Connection refused" in through_proxy.stderr or "connection refused" in through_proxy.stderr
    bypassed = run_plugin("install", "--print", "--manifest", url, "--sha256", V0161_FRR_K8S,
                          env=no_proxy_env(SSL_CERT_FILE=web["ca"], HTTPS_PROXY=closed, https_proxy=closed,
                                           NO_PROXY="127.0.0.1", no_proxy="127.0.0.1"))
    assert bypassed.returncode == 0, bypassed.stderr


def test_release_download_is_checked_against_the_pinned_digest(web):
    # --version/--mode download from raw.githubusercontent.com; HTTPS_PROXY sends that through a local proxy whose
    # tunnel ends at the local mirror (its certificate, from the test CA, names raw.githubusercontent.com)
    env = no_proxy_env(SSL_CERT_FILE=web["ca"], HTTPS_PROXY=web["proxy"], https_proxy=web["proxy"])
    genuine = run_plugin("install", "--print", "--version", "v0.16.1", "--mode", "frr-k8s", env=env)
    assert genuine.returncode == 0, genuine.stderr
    assert "raw.githubusercontent.com:443" in web["tunnels"]
    assert "printed 47 objects of MetalLB v0.16.1 (frr-k8s)" in genuine.stderr
    tampered = run_plugin("install", "--print", "--version", "0.14.9", env=env)
    assert tampered.returncode == 1
    assert ("checksum mismatch for https://raw.githubusercontent.com/metallb/metallb/v0.14.9/config/manifests/"
            f"metallb-native.yaml: expected sha256 {V0149_NATIVE}, got ") in tampered.stderr
    assert tampered.stdout == ""


# ------------------------------------------------------------------------------------------- the cluster, in order


def test_empty_cluster_to_begin_with(kubectl):
    assert metallb_state(kubectl) == ([], "", "")


def test_uninstall_with_nothing_installed(admin):
    result = run_plugin("uninstall", "--yes", env=admin)
    assert result.returncode == 0, result.stderr
    assert "MetalLB is not installed in namespace metallb-system" in result.stderr


def test_checksum_mismatch_applies_nothing(admin, kubectl, upstream_manifest):
    result = run_plugin("install", "--manifest", upstream_manifest("v0.16.1"), "--sha256", V0149_NATIVE,
                        "-v", env=admin)
    assert result.returncode == 2
    assert f"expected sha256 {V0149_NATIVE}, got {V0161_NATIVE}; nothing was applied" in result.stderr
    assert requests_in(result.stderr) == []  # the cluster was not even contacted
    assert metallb_state(kubectl) == ([], "", "")


def test_dry_run_on_an_empty_cluster_changes_nothing(admin, kubectl, upstream_manifest):
    result = run_plugin("install", "--dry-run", "--manifest", upstream_manifest("v0.14.9"), "--sha256", V0149_NATIVE,
                        "-v", env=admin)
    assert result.returncode == 0, result.stderr
    results = results_in(result.stdout)
    assert len(results) == 24 and set(results.values()) == {"created"}
    assert ("dry run: MetalLB v0.14.9 (native): 24 created, 0 changed, 0 unchanged; nothing was changed (11 objects "
            "in namespace metallb-system could not be checked by the server: the namespace does not exist yet)"
            in result.stderr)
    # PATCH = server-side apply with dryRun=All, POST = the access reviews of what it would write
    assert set(requests_in(result.stderr)) == {"GET", "PATCH", "POST"}
    assert metallb_state(kubectl) == ([], "", "")


def test_prometheus_variant_needs_the_prometheus_operator(admin, kubectl, upstream_manifest, tmp_path):
    docs = list(yaml.safe_load_all(open(upstream_manifest("v0.16.1"))))
    docs.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                 "metadata": {"name": "controller-monitor", "namespace": NS},
                 "spec": {"endpoints": [{"port": "metricshttps"}], "selector": {"matchLabels": {"name": "x"}}}})
    path = tmp_path / "with-monitor.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = run_plugin("install", "--no-wait", "--manifest", str(path), env=admin)
    assert result.returncode == 1
    assert "warning: no --sha256 given" in result.stderr
    assert ("the server does not serve ServiceMonitor in monitoring.coreos.com/v1: the Prometheus variants need the "
            "Prometheus operator's CRDs") in result.stderr
    assert metallb_state(kubectl) == ([], "", "")


def test_helm_install_elsewhere_is_refused(admin, kubectl, namespace, upstream_manifest):
    helm = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "metallb-controller", "namespace": namespace, "labels": {
            "app.kubernetes.io/name": "metallb", "app.kubernetes.io/component": "controller",
            "app.kubernetes.io/instance": "metallb", "app.kubernetes.io/managed-by": "Helm"}},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {
            "metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "controller", "image": "quay.io/metallb/controller:v0.15.3"}]}}}}
    kubectl("apply", "-f", "-", input=json.dumps(helm))
    result = run_plugin("install", "--dry-run", "--manifest", upstream_manifest("v0.16.1"), "--sha256", V0161_NATIVE,
                        env=admin)
    assert result.returncode == 1
    assert f"MetalLB v0.15.3 in namespace {namespace} was installed with Helm (release metallb)" in result.stderr
    assert "helm upgrade" in result.stderr
    kubectl("delete", "deployment", "metallb-controller", "-n", namespace)


def test_install_v0_14_9(admin, kubectl, upstream_manifest):
    result = run_plugin("install", "--no-wait", "--yes", "--manifest", upstream_manifest("v0.14.9"), "--sha256",
                        V0149_NATIVE, env=admin)
    assert result.returncode == 0, result.stderr
    results = results_in(result.stdout)
    assert len(results) == 24 and set(results.values()) == {"created"}
    assert list(results)[0] == "namespace/metallb-system"
    assert list(results)[-1] == \
        "validatingwebhookconfiguration.admissionregistration.k8s.io/metallb-webhook-configuration"
    assert "CRDs Established (7/7)" in result.stderr
    assert "MetalLB v0.14.9 (native) installed in metallb-system: 24 created, 0 changed, 0 unchanged" in result.stderr
    # the real CRD schemas were accepted and are served
    crds, namespace, vwc = metallb_state(kubectl)
    assert len(crds) == 7 and namespace == "namespace/metallb-system"
    for name in crds:
        kubectl("wait", "--for=condition=Established", "--timeout=10s", f"crd/{name}")
    controller = json.loads(kubectl("get", "deployment", "controller", "-n", NS, "-o", "json",
                                    "--show-managed-fields"))
    assert [m["manager"] for m in controller["metadata"]["managedFields"]] == ["kubectl-metallb"]
    record = json.loads(kubectl("get", "configmap", "kubectl-metallb-install", "-n", NS, "-o", "json"))["data"]
    assert (record["version"], record["mode"], record["sha256"]) == ("v0.14.9", "native", V0149_NATIVE)
    assert len(json.loads(record["objects"])) == 24


def test_rerun_is_a_no_op(admin, kubectl, upstream_manifest):
    before = resource_versions(kubectl)
    result = run_plugin("install", "--no-wait", "-v", "--manifest", upstream_manifest("v0.14.9"),
                        "--sha256", V0149_NATIVE, env=admin)
    assert result.returncode == 0, result.stderr
    assert set(results_in(result.stdout).values()) == {"unchanged"}
    assert ("MetalLB v0.14.9 (native) is already installed in metallb-system: nothing changed (0 created, "
            "0 changed, 24 unchanged)") in result.stderr
    verbs = requests_in(result.stderr)
    # 2 LISTs (find installs) + /version + the install record + a GET and a dry-run apply per object; nothing to
    # write, so no access reviews, no question and no apply
    assert verbs.count("PATCH") == 24 and verbs.count("GET") == 2 + 1 + 1 + 24
    assert "POST" not in verbs and "DELETE" not in verbs and "PUT" not in verbs
    assert f"{len(verbs)} API requests in" in result.stderr
    assert resource_versions(kubectl) == before  # nothing was written


def test_rerun_json_shape(admin, upstream_manifest):
    result = run_plugin("install", "--no-wait", "-o", "json", "--manifest", upstream_manifest("v0.14.9"),
                        "--sha256", V0149_NATIVE, env=admin)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {k: doc[k] for k in ("action", "version", "previousVersion", "mode", "namespace", "dryRun", "ready")} == {
        "action": "reinstall", "version": "v0.14.9", "previousVersion": "v0.14.9", "mode": "native",
        "namespace": NS, "dryRun": False, "ready": None}
    assert doc["summary"] == {"created": 0, "changed": 0, "unchanged": 24, "deleted": 0}
    assert doc["objects"][0] == {"apiVersion": "v1", "kind": "Namespace", "name": NS, "result": "unchanged"}


def test_field_conflicts_are_reported_and_force_takes_ownership(admin, kubectl, upstream_manifest):
    # someone edits a field install owns, with a client-side tool
    kubectl("patch", "configmap", "metallb-excludel2", "-n", NS, "--type=merge", "--field-manager=hand-edit",
            "-p", json.dumps({"data": {"excludel2.yaml": "announcedInterfacesToExclude: [\"^eth9$\"]\n"}}))
    result = run_plugin("install", "--no-wait", "--manifest", upstream_manifest("v0.14.9"), "--sha256",
                        V0149_NATIVE, env=admin)
    assert result.returncode == 1
    assert "configmap/metallb-excludel2" in result.stderr and 'conflict with "hand-edit"' in result.stderr
    assert "--force-conflicts" in result.stderr
    forced = run_plugin("install", "--no-wait", "--yes", "--force-conflicts", "--manifest",
                        upstream_manifest("v0.14.9"), "--sha256", V0149_NATIVE, env=admin)
    assert forced.returncode == 0, forced.stderr
    assert results_in(forced.stdout)["configmap/metallb-excludel2"] == "changed"
    assert "eth9" not in kubectl("get", "configmap", "metallb-excludel2", "-n", NS, "-o", "yaml")


def test_upgrade_needs_confirmation_without_a_terminal(admin, upstream_manifest):
    result = run_plugin("install", "--no-wait", "--manifest", upstream_manifest("v0.16.1"), "--sha256",
                        V0161_NATIVE, env=admin)
    assert result.returncode == 2
    assert ("Upgrade MetalLB in metallb-system from v0.14.9 (native) to v0.16.1 (native)? Pass --yes to go ahead"
            in result.stderr)


def test_upgrade_asks_on_a_terminal(admin, kubectl, upstream_manifest):
    before = resource_versions(kubectl)
    code, out, err = run_plugin_on_terminal("install", "--no-wait", "--manifest", upstream_manifest("v0.16.1"),
                                            "--sha256", V0161_NATIVE, answer="n\n", env=admin)
    assert (code, out) == (1, "")
    assert "Upgrade MetalLB in metallb-system from v0.14.9 (native) to v0.16.1 (native)? [y/N] " in err
    assert "error: install cancelled; nothing was changed" in err
    assert "deployment.apps/controller changed" in err  # the plan, shown before the question
    assert "    ~ spec.template.spec.containers[name=controller].image: quay.io/metallb/controller:v0.14.9 -> " in err
    assert resource_versions(kubectl) == before


def test_upgrade_dry_run_shows_what_changes(admin, kubectl, upstream_manifest):
    before = resource_versions(kubectl)
    result = run_plugin("install", "--dry-run", "--manifest", upstream_manifest("v0.16.1"), "--sha256", V0161_NATIVE,
                        env=admin)
    assert result.returncode == 0, result.stderr
    results = results_in(result.stdout)
    assert results["customresourcedefinition.apiextensions.k8s.io/servicebgpstatuses.metallb.io"] == "created"
    assert results["customresourcedefinition.apiextensions.k8s.io/configurationstates.metallb.io"] == "created"
    assert results["deployment.apps/controller"] == "changed"  # new image
    assert results["serviceaccount/controller"] == "unchanged"
    assert "dry run: would upgrade MetalLB in metallb-system from v0.14.9 (native) to v0.16.1 (native)" \
        in result.stderr
    assert resource_versions(kubectl) == before


def test_upgrade_to_v0_16_1_removes_renamed_objects(admin, kubectl, upstream_manifest):
    # v0.14.9 and v0.16.1 use the same object names; the webhook Service and Secret were renamed in v0.14.4
    # (webhook-service -> metallb-webhook-service, webhook-server-cert -> metallb-webhook-cert). Leave the old
    # names behind as an install of <= v0.14.3 would have, recorded in install's record, to see them pruned.
    kubectl("apply", "--server-side", "--field-manager=kubectl-metallb", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "webhook-service", "namespace": NS},
         "spec": {"ports": [{"port": 443, "targetPort": 9443}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "webhook-server-cert", "namespace": NS},
         "type": "Opaque"}]))
    record = json.loads(kubectl("get", "configmap", "kubectl-metallb-install", "-n", NS, "-o", "json"))
    refs = json.loads(record["data"]["objects"])
    refs += [{"apiVersion": "v1", "kind": "Service", "namespace": NS, "name": "webhook-service"},
             {"apiVersion": "v1", "kind": "Secret", "namespace": NS, "name": "webhook-server-cert"}]
    kubectl("patch", "configmap", "kubectl-metallb-install", "-n", NS, "--type=merge",
            "-p", json.dumps({"data": {"objects": json.dumps(refs)}}))

    result = run_plugin("install", "--no-wait", "--yes", "--manifest", upstream_manifest("v0.16.1"),
                        "--sha256", V0161_NATIVE, env=admin)
    assert result.returncode == 0, result.stderr
    assert "upgrading MetalLB in metallb-system from v0.14.9 (native) to v0.16.1 (native)" in result.stderr
    results = results_in(result.stdout)
    assert results["service/webhook-service"] == "deleted"
    assert results["secret/webhook-server-cert"] == "deleted"
    assert results["service/metallb-webhook-service"] == "unchanged"
    assert "MetalLB v0.16.1 (native) upgraded from v0.14.9 in metallb-system: 2 created," in result.stderr
    assert kubectl("get", "service,secret", "-n", NS, "-o", "name").split() == [
        "service/metallb-webhook-service", "secret/metallb-webhook-cert"]
    assert len(metallb_state(kubectl)[0]) == 9
    image = kubectl("get", "deployment", "controller", "-n", NS, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == "quay.io/metallb/controller:v0.16.1"
    record = json.loads(kubectl("get", "configmap", "kubectl-metallb-install", "-n", NS, "-o", "json"))["data"]
    assert record["version"] == "v0.16.1" and len(json.loads(record["objects"])) == 26


def test_downgrade_is_refused(admin, upstream_manifest):
    result = run_plugin("install", "--no-wait", "--yes", "--manifest", upstream_manifest("v0.14.9"),
                        "--sha256", V0149_NATIVE, env=admin)
    assert result.returncode == 1
    assert "MetalLB v0.16.1 is installed; v0.14.9 is older" in result.stderr
    assert "pass --force" in result.stderr


def test_wait_times_out_naming_what_is_stuck(admin, upstream_manifest):
    # nothing patched: no controllers run here, so no pods are ever created
    result = run_plugin("install", "--timeout", "3s", "--manifest", upstream_manifest("v0.16.1"),
                        "--sha256", V0161_NATIVE, env=admin)
    assert result.returncode == 4
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: MetalLB is not ready after 3s: Deployment controller: 0/1 available")
    assert "DaemonSet speaker: ready on 0/0 nodes" in error
    assert "no pods were created" in error
    assert "webhook Service metallb-webhook-service: no endpoints (no EndpointSlice yet)" in error
    assert "waiting up to 3s for MetalLB to serve" in result.stderr


def test_switch_to_frr_k8s(admin, kubectl, upstream_manifest):
    result = run_plugin("install", "--no-wait", "--yes", "--manifest", upstream_manifest("v0.16.1", "metallb-frr-k8s.yaml"),
                        "--sha256", V0161_FRR_K8S, env=admin)
    assert result.returncode == 0, result.stderr
    assert "from v0.16.1 (native) to v0.16.1 (frr-k8s)" in result.stderr
    assert "CRDs Established (4/4)" in result.stderr  # the four frrk8s.metallb.io CRDs it added
    results = results_in(result.stdout)
    assert results["daemonset.apps/frr-k8s-daemon"] == "created"
    assert results["daemonset.apps/speaker"] == "changed"  # METALLB_BGP_TYPE=frr-k8s
    crds = metallb_state(kubectl)[0]
    assert "frrconfigurations.frrk8s.metallb.io" in crds and len(crds) == 13
    assert kubectl("get", "validatingwebhookconfiguration", "-o", "name").split() == [
        "validatingwebhookconfiguration.admissionregistration.k8s.io/frr-k8s-validating-webhook-configuration",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/metallb-webhook-configuration"]


def _configure_metallb(kubectl):
    # no webhook server runs here: let the API server skip the unreachable webhooks so the test can write CRs
    for name in ("metallb-webhook-configuration", "frr-k8s-validating-webhook-configuration"):
        hooks = json.loads(kubectl("get", "validatingwebhookconfiguration", name, "-o", "json"))["webhooks"]
        patch = [{"op": "replace", "path": f"/webhooks/{i}/failurePolicy", "value": "Ignore"} for i in range(len(hooks))]
        kubectl("patch", "validatingwebhookconfiguration", name, "--type=json", "-p", json.dumps(patch))
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "lab", "namespace": NS},
         "spec": {"addresses": ["192.168.10.0/24"]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement", "metadata": {"name": "lab", "namespace": NS}},
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "tor", "namespace": NS},
         "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "10.0.0.1", "password": "s3cret"}},
    ]))


def test_uninstall_asks_on_a_terminal(admin, kubectl, tmp_path):
    backup = tmp_path / "never.yaml"
    code, out, err = run_plugin_on_terminal("uninstall", "--backup", str(backup), answer="no\n", env=admin)
    assert (code, out) == (1, "")
    assert "Remove MetalLB v0.16.1 from namespace metallb-system? [y/N] " in err
    assert "error: uninstall cancelled; nothing was changed" in err
    assert not backup.exists()
    assert len(metallb_state(kubectl)[0]) == 13


def test_uninstall_keep_crds(admin, kubectl, tmp_path):
    _configure_metallb(kubectl)
    backup = tmp_path / "keep.yaml"
    result = run_plugin("uninstall", "--yes", "--keep-crds", "--backup", str(backup), env=admin)
    assert result.returncode == 0, result.stderr
    assert f"backed up 3 object(s) to {backup} (mode 0600)" in result.stderr
    crds, namespace, vwc = metallb_state(kubectl)
    assert len(crds) == 13 and namespace == "namespace/metallb-system" and vwc == ""
    assert kubectl("get", "deployment,daemonset", "-n", NS, "-o", "name") == ""
    assert kubectl("get", "ipaddresspools", "-n", NS, "-o", "name").strip() == "ipaddresspool.metallb.io/lab"
    assert "configmap/kubectl-metallb-install deleted" in result.stdout


def test_reinstall_after_keep_crds_keeps_the_configuration(admin, kubectl, upstream_manifest):
    result = run_plugin("install", "--no-wait", "--yes", "--manifest",
                        upstream_manifest("v0.16.1", "metallb-frr-k8s.yaml"), "--sha256", V0161_FRR_K8S, env=admin)
    assert result.returncode == 0, result.stderr
    assert "MetalLB v0.16.1 (frr-k8s) installed in metallb-system" in result.stderr
    assert len(metallb_state(kubectl)[0]) == 13
    assert kubectl("get", "ipaddresspools,l2advertisements,bgppeers", "-n", NS, "-o", "name").split() == [
        "ipaddresspool.metallb.io/lab", "l2advertisement.metallb.io/lab", "bgppeer.metallb.io/tor"]
