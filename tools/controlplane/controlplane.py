#!/usr/bin/env python3
"""Run a real etcd + kube-apiserver on loopback, with its own PKI and kubeconfigs (stdlib only).

    controlplane.py up DIR                       etcd + kube-apiserver (tier A): build if needed, start, wait
                                                 until ready, print `export KUBECONFIG=...`
    controlplane.py up --full [--nodes N] DIR    the full cluster (fullcluster.py): controllers, scheduler,
                                                 kwok nodes, the MetalLB kubelet stand-in, network namespaces
    controlplane.py down DIR                     stop what `up` started in DIR (either kind)

DIR receives:
  admin.kubeconfig    client certificate in group system:masters
  reader.kubeconfig   client certificate in group metallb:readers (may get/list/watch everything, nothing else)
  nobody.kubeconfig   client certificate with no RBAC at all
  admin.token         a static bearer token in group system:masters (for token and exec-plugin kubeconfigs)
  pki/ca.crt          the cluster CA
In tier A no controllers run (no kube-controller-manager, no kubelet): workload .status is only what a test
writes. A second `up` on a DIR whose cluster runs is refused.
"""

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

from netns import Unavailable, check_available

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("CONTROLPLANE_BIN", os.path.join(REPO, "bin"))
READER_GROUP = "metallb:readers"
SERVICE_CIDR = "10.96.0.0/12"


class AlreadyRunning(Exception):
    """`up` on a directory whose cluster is running."""


class ControlPlane:
    components = ("etcd", "apiserver")  # in start order; stopped in reverse
    def __init__(self, workdir, audit=False, event_ttl=None):
        self.dir = os.path.abspath(workdir)
        self.audit = audit  # write every request to audit.log (JSON lines), for counting requests for real
        self.event_ttl = event_ttl  # how long etcd keeps an Event (kube-apiserver's default: 1h)
        self.pki = os.path.join(self.dir, "pki")
        state = self._state()
        self.port = state.get("port")
        self.etcd_port = state.get("etcd_port")
        self.full = "full" in state  # written by the full cluster (fullcluster.py)

    # -- paths and state

    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def server(self):
        return f"https://127.0.0.1:{self.port}"

    def kubeconfig(self, who="admin"):
        return self.path(f"{who}.kubeconfig")

    def _state(self):
        try:
            with open(os.path.join(self.dir, "state.json")) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    # -- lifecycle

    def running(self):
        return any(_running(self.path(f"{name}.pid")) for name in self.components)

    def refuse_if_running(self):
        if self.running():
            raise AlreadyRunning(f"a cluster is already running in {self.dir}; stop it first with: "
                                 f"python3 tools/controlplane/controlplane.py down {self.dir}")

    def build(self):
        subprocess.run([os.path.join(HERE, "build.sh"), "--tier-a"], check=True, stdout=2)  # stdout may be eval'd

    def up(self, timeout=180):
        self.refuse_if_running()
        self.build()
        self.start_store(timeout)
        self.start_apiserver()
        self._wait(self._apiserver_ready, timeout, "apiserver")
        for who, user in (("admin", "admin"), ("reader", "reader"), ("nobody", "nobody")):
            self._write_kubeconfig(who, user)
        self._grant_reader()
        return self

    def start_store(self, timeout):
        """PKI (once), ports, etcd: everything the API server needs before it starts."""
        os.makedirs(self.pki, exist_ok=True)
        if not all(os.path.exists(os.path.join(self.pki, f"{name}.crt")) for name in ("ca", *self._certs())):
            self._make_pki()  # once, or again for a directory made before a certificate was added
        self.etcd_port, peer_port, self.port = _free_ports(3)
        self._save_state()
        self.start_etcd(peer_port)
        self._wait(self._etcd_ready, timeout, "etcd")

    def _save_state(self, **extra):
        with open(self.path("state.json"), "w") as handle:
            json.dump({"port": self.port, "etcd_port": self.etcd_port, **extra}, handle)

    def _etcd_ready(self):
        return _http_ok(f"http://127.0.0.1:{self.etcd_port}/health")

    def start_etcd(self, peer_port=None):
        peer_port = peer_port or _free_ports(1)[0]
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{peer_port}"
        self._spawn("etcd", [
            os.path.join(BIN, "etcd"), "--name=node0", f"--data-dir={self.path('etcd-data')}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=node0={peer}", "--unsafe-no-fsync", "--log-level=warn",
        ])

    def start_apiserver(self):
        """(Re)start kube-apiserver on the recorded port; tests use this to restart it after a kill."""
        self._spawn("apiserver", [os.path.join(BIN, "kube-apiserver"), *self._apiserver_flags()])

    def _apiserver_flags(self):
        pki = self.pki
        return [
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--cert-dir={self.path('certdir')}",
            f"--tls-cert-file={pki}/apiserver.crt", f"--tls-private-key-file={pki}/apiserver.key",
            f"--client-ca-file={pki}/ca.crt",
            f"--token-auth-file={self.path('tokens.csv')}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki}/sa.pub", f"--service-account-signing-key-file={pki}/sa.key",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC", "--allow-privileged=true",
            # webhooks and aggregated APIs are called at their Service's endpoints, never at a DNS name that the
            # machine's resolver would send elsewhere: nothing leaves the machine
            "--enable-aggregator-routing=true",
            "--disable-admission-plugins=ServiceAccount",
            # loopback cannot be published as the kubernetes Service's endpoint; nothing needs it here
            "--endpoint-reconciler-type=none",
            *(self._audit_flags() if self.audit else []),
            *([f"--event-ttl={self.event_ttl}"] if self.event_ttl else []),
        ]

    def _audit_flags(self):
        policy = self.path("audit-policy.json")
        with open(policy, "w") as handle:  # two events per request: as it arrives, and when its response is complete
            json.dump({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                       "omitStages": ["ResponseStarted"], "rules": [{"level": "Metadata"}]},
                      handle)
        return [f"--audit-policy-file={policy}", f"--audit-log-path={self.path('audit.log')}",
                "--audit-log-format=json", "--audit-log-mode=blocking", "--audit-log-maxsize=0"]

    def stop_apiserver(self, sig=signal.SIGKILL):
        _stop(self.path("apiserver.pid"), sig)

    def apiserver_ready(self):
        return self._apiserver_ready()

    def down(self):
        for name in reversed(self.components):
            _stop(self.path(f"{name}.pid"))

    def _spawn(self, name, argv, pass_fds=()):
        with open(self.path(f"{name}.log"), "ab") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, pass_fds=pass_fds)
        with open(self.path(f"{name}.pid"), "w") as handle:
            handle.write(str(process.pid))

    def _wait(self, ready, timeout, name):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _running(self.path(f"{name}.pid")):
            if ready():
                return
            time.sleep(0.5)
        with open(self.path(f"{name}.log"), errors="replace") as handle:
            tail = handle.read()[-2000:]
        raise RuntimeError(f"{name} did not become ready within {timeout}s; end of {name}.log:\n{tail}")

    # -- TLS material

    def _openssl(self, *args):
        subprocess.run(["openssl", *args], check=True, cwd=self.pki, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def _certs(self):
        """{file name: (subject, extended key usage, subjectAltName or None)} signed by the cluster CA."""
        return {
            "apiserver": ("/CN=kube-apiserver", "serverAuth",
                          "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,IP:127.0.0.1,IP:10.96.0.1"),
            "admin": ("/O=system:masters/CN=admin", "clientAuth", None),
            "reader": (f"/O={READER_GROUP}/CN=reader", "clientAuth", None),
            "nobody": ("/CN=nobody", "clientAuth", None),
        }

    def _make_pki(self):
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        self._openssl("req", "-x509", *ec, "-days", "7", "-subj", "/CN=metallb-test-ca",
                      "-keyout", "ca.key", "-out", "ca.crt")
        for name, (subject, usage, san) in self._certs().items():
            self._openssl("req", *ec, "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.csr")
            with open(os.path.join(self.pki, f"{name}.ext"), "w") as handle:
                handle.write(f"extendedKeyUsage={usage}\n" + (f"subjectAltName={san}\n" if san else ""))
            self._openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                          "-CAcreateserial", "-days", "7", "-extfile", f"{name}.ext", "-out", f"{name}.crt")
        self._openssl("genrsa", "-out", "sa.key", "2048")
        self._openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")
        token = secrets.token_hex(24)
        with open(self.path("tokens.csv"), "w") as handle:
            handle.write(f'{token},admin-token,admin-token-uid,"system:masters"\n')
        with open(self.path("admin.token"), "w") as handle:
            handle.write(token)

    def _write_kubeconfig(self, who, user, server=None):
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {
                "server": server or self.server, "certificate-authority": os.path.join(self.pki, "ca.crt")}}],
            "users": [{"name": user, "user": {
                "client-certificate": os.path.join(self.pki, f"{who}.crt"),
                "client-key": os.path.join(self.pki, f"{who}.key")}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
        }
        with open(self.kubeconfig(who), "w") as handle:  # JSON is YAML: kubectl and the client read it
            json.dump(config, handle, indent=2)

    # -- API calls during set-up (stdlib HTTPS with the admin certificate)

    def _tls(self, who="admin"):
        context = ssl.create_default_context(cafile=os.path.join(self.pki, "ca.crt"))
        context.load_cert_chain(os.path.join(self.pki, f"{who}.crt"), os.path.join(self.pki, f"{who}.key"))
        return context

    def _apiserver_ready(self):
        return _http_ok(f"{self.server}/readyz", self._tls())

    def _apply(self, path, obj):
        request = urllib.request.Request(
            f"{self.server}{path}?fieldManager=controlplane&force=true", data=json.dumps(obj).encode(),
            method="PATCH", headers={"Content-Type": "application/apply-patch+yaml"})
        urllib.request.urlopen(request, context=self._tls(), timeout=30).read()

    def _grant_reader(self):
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        self._apply(f"{rbac}/clusterroles/metallb-test-reader", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "metallb-test-reader"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]})
        self._apply(f"{rbac}/clusterrolebindings/metallb-test-reader", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "metallb-test-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "metallb-test-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": READER_GROUP}]})


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _http_ok(url, context=None):
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _pid(pidfile):
    try:
        with open(pidfile) as handle:
            return int(handle.read())
    except (FileNotFoundError, ValueError):
        return None


def _running(pidfile):
    pid = _pid(pidfile)
    return pid is not None and _alive(pid)


def _stop(pidfile, sig=signal.SIGTERM):
    """Stop the process (and its process group: each component leads its own) recorded in pidfile."""
    pid = _pid(pidfile)
    if pid is None:
        return
    try:
        _signal_group(pid, sig)
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.05)
        else:
            _signal_group(pid, signal.SIGKILL)
        _reap(pid)
    except ProcessLookupError:
        pass
    os.remove(pidfile)


def _alive(pid):
    """The process exists and is not a zombie (whoever its parent is: it may reap late)."""
    _reap(pid)
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        os.kill(pid, sig)  # not a group leader any more: at least the process itself


def _reap(pid):
    """Collect the exit status of our own child, so it does not linger as a zombie that still 'exists'."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def main(argv):
    args = list(argv)
    full = "--full" in args
    if full:
        args.remove("--full")
    nodes = None
    if "--nodes" in args:
        at = args.index("--nodes")
        nodes = args[at + 1] if at + 1 < len(args) else ""
        del args[at:at + 2]
        if not nodes.isdigit() or not 1 <= int(nodes) <= 8:
            print(f"error: --nodes takes a number from 1 to 8, not {nodes!r}", file=sys.stderr)
            return 2
    if len(args) != 2 or args[0] not in ("up", "down") or ((full or nodes) and args[0] != "up"):
        print(__doc__, file=sys.stderr)
        return 2
    command, directory = args
    if command == "down":
        if ControlPlane(directory).full:
            from fullcluster import FullCluster
            FullCluster(directory).down()
        else:
            ControlPlane(directory).down()
        return 0
    try:
        if full:
            from fullcluster import FullCluster
            check_available()
            plane = FullCluster(directory, nodes=int(nodes or 2))
        else:
            plane = ControlPlane(directory)
        plane.refuse_if_running()
    except (AlreadyRunning, Unavailable) as exc:  # a running cluster is left alone
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        plane.up()
    except KeyboardInterrupt:
        plane.down()  # nothing half-started is left behind
        return 130
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        plane.down()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"export KUBECONFIG={plane.kubeconfig()}")
    return 0


if __name__ == "__main__":
    import controlplane  # run main from the imported module, whose classes fullcluster.py shares

    sys.exit(controlplane.main(sys.argv[1:]))
