"""The full cluster's Prometheus add-on: the real Prometheus operator, and a real Prometheus for every Prometheus Pod
the operator's StatefulSet makes (stdlib only).

    PrometheusAddon(cluster).up() / .down()     from a test: cluster is the running FullCluster
    addon.py pods DIR                           the Pod runner (started by up(); DIR: the full cluster's directory)

The operator runs in the control plane's network namespace with the admin's certificate. It turns a Prometheus
object into a StatefulSet (the controller-manager makes its Pod, kwok runs it: Running, Ready, an address from
203.0.113.0/25, which is local in the control plane's namespace) and a Secret with the generated configuration.
Beside kwok, the Pod runner runs what that Pod's containers run, with the Pod's own args and env: the init
container (the operator's config reloader, writing the configuration once), then Prometheus and the config
reloader, which reloads Prometheus whenever the operator rewrites the configuration. Their volumes (the
configuration Secret, the service account token, ...) are projected into the Pod's own /run as the kubelet stand-in
does (podspec.py), so Prometheus authenticates to the API server and to MetalLB's metrics endpoints with its
ServiceAccount's token. They run in the control plane's namespace, which reaches the API server, the nodes (the
speakers) and the controller's Pod address; the API server's service proxy reaches Prometheus at the Pod's address.
Binaries: bin/prometheus/ (build.sh): the image's name picks the binary (quay.io/prometheus/prometheus:TAG ->
prometheus). When the process that owns the cluster is gone, the runner stops.
"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import netns  # noqa: E402
import podspec  # noqa: E402
from controlplane import BIN, _stop  # noqa: E402
from kubeapi import Api, ApiError  # noqa: E402

SELECTOR = "app.kubernetes.io/managed-by=prometheus-operator,app.kubernetes.io/name=prometheus"
OPERATOR_WEB = "127.0.0.1:8079"  # the operator's own endpoint; Prometheus uses 9090 and the reloader 8080
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RESTART_AFTER = 5.0


class PrometheusAddon:
    """Starts and stops the operator and the Pod runner of a running FullCluster (their logs and pids are in its
    directory: prometheus-operator.log, prometheus-pods.log)."""

    def __init__(self, cluster):
        self.cluster = cluster

    def up(self):
        subprocess.run([os.path.join(HERE, "build.sh")], check=True, stdout=2)
        pki, address = self.cluster.pki, f"https://{self.cluster_ip()}"
        self.cluster._spawn("prometheus-operator", [
            os.path.join(BIN, "prometheus", "operator"), f"--apiserver={address}", f"--ca-file={pki}/ca.crt",
            f"--cert-file={pki}/admin.crt", f"--key-file={pki}/admin.key", f"--web.listen-address={OPERATOR_WEB}",
        ])
        self.cluster._spawn("prometheus-pods", [sys.executable, os.path.abspath(__file__), "pods", self.cluster.dir])
        return self

    def prometheus_version(self):
        """vX.Y.Z of the Prometheus binary (what a Prometheus object's spec.version should say)."""
        out = subprocess.run([os.path.join(BIN, "prometheus", "prometheus"), "--version"], capture_output=True,
                             text=True, check=True).stdout
        return "v" + out.split()[2]

    def cluster_ip(self):
        state = self.cluster._state()
        return f"{state['full']['apiserver_ip']}:{state['port']}"

    def down(self):
        for name in ("prometheus-pods", "prometheus-operator"):
            _stop(self.cluster.path(f"{name}.pid"))


# --------------------------------------------------------------------------------------------- the Pod runner


def write_file(path, data, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


class PodProcesses:
    """What one Prometheus Pod runs: its init containers once, then its containers (restarted when they exit)."""

    def __init__(self, runner, pod):
        meta = pod["metadata"]
        self.runner, self.pod, self.uid = runner, pod, meta["uid"]
        self.namespace, self.name = meta["namespace"], meta["name"]
        self.dir = os.path.join(runner.dir, "pods", f"{self.namespace}_{self.name}_{self.uid[:8]}")
        self.rootfs = os.path.join(self.dir, "rootfs")
        for private in podspec.PRIVATE:
            os.makedirs(self.rootfs + private, exist_ok=True)
        self.init = list(pod["spec"].get("initContainers", []))
        self.processes = {}  # container name -> Popen
        self.restart_at = {}
        self.tokens = {}
        self.mounted = False

    def token(self, audience=None, seconds=3600):
        if (audience, seconds) not in self.tokens:
            spec = {"expirationSeconds": max(seconds, 600),
                    "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.name, "uid": self.uid}}
            if audience:
                spec["audiences"] = [audience]
            account = self.pod["spec"].get("serviceAccountName", "default")
            answer = self.runner.api.create(
                f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token", {"spec": spec})
            self.tokens[(audience, seconds)] = answer["status"]["token"]
        return self.tokens[(audience, seconds)]

    def sync_volumes(self):
        secrets, configmaps = self.runner.objects(self.namespace)
        containers = self.pod["spec"].get("initContainers", []) + self.pod["spec"]["containers"]
        try:
            for volume in self.pod["spec"].get("volumes", []):
                files = podspec.volume_files(self.pod, volume, secrets, configmaps, self.token)
                for path, sub in {(m["mountPath"], m.get("subPath")) for c in containers
                                  for m in c.get("volumeMounts", []) if m["name"] == volume["name"]}:
                    where = self.rootfs + podspec.in_pod(path)
                    if not sub:
                        podspec.write_atomically(where, files)
                    elif sub in files and not os.path.exists(where):  # one file, bound once: no later updates
                        write_file(where, *files[sub])
        except podspec.MountError as exc:  # the operator has not written its Secrets yet
            self.runner.log(f"{self.namespace}/{self.name}: {exc}")
            return False
        return True

    def start(self, spec):
        name = spec["image"].split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
        binary = os.path.join(BIN, "prometheus", name)
        secrets, configmaps = self.runner.objects(self.namespace)
        env = podspec.environment(self.pod, spec, secrets, configmaps)
        mounts = [m["mountPath"] for m in spec.get("volumeMounts", [])]
        env = {k: podspec.rewrite_paths(v, mounts) for k, v in env.items()}
        args = [podspec.rewrite_paths(podspec.expand(a, env), mounts)
                for a in spec.get("command", [])[1:] + spec.get("args", [])]
        host, port = self.runner.apiserver
        env = {"PATH": PATH, "HOSTNAME": self.name, "KUBERNETES_SERVICE_HOST": host,
               "KUBERNETES_SERVICE_PORT": str(port), **env}
        mounts_script = " && ".join(f'mount --bind "$0{p}" {p}' for p in podspec.PRIVATE)
        argv = netns.exec_argv(self.runner.cp_netns, ["sh", "-c", mounts_script + ' && exec "$@"', self.rootfs,
                                                      "./" + name, *args])
        with open(os.path.join(self.dir, f"{spec['name']}.log"), "ab") as log:
            return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=os.path.dirname(binary))

    def step(self):
        if not self.mounted:
            self.mounted = self.sync_volumes()
            if not self.mounted:
                return
        while self.init:  # one at a time, each to completion, as a kubelet runs them
            process = self.processes.get(self.init[0]["name"]) or self.start(self.init[0])
            self.processes[self.init[0]["name"]] = process
            if process.poll() is None:
                return
            if process.returncode != 0:
                self.runner.log(f"{self.namespace}/{self.name}: init container {self.init[0]['name']} failed")
                del self.processes[self.init[0]["name"]]
                return
            self.init.pop(0)
        for spec in self.pod["spec"]["containers"]:
            process = self.processes.get(spec["name"])
            if process is not None and process.poll() is None:
                continue
            if process is not None and spec["name"] not in self.restart_at:
                self.runner.log(f"{self.namespace}/{self.name}: {spec['name']} exited ({process.returncode})")
                self.restart_at[spec["name"]] = time.monotonic() + RESTART_AFTER
            if time.monotonic() >= self.restart_at.get(spec["name"], 0):
                self.restart_at.pop(spec["name"], None)
                self.processes[spec["name"]] = self.start(spec)

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, 15)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
                    process.wait()


class PodRunner:
    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        with open(os.path.join(self.dir, "state.json")) as handle:
            state = json.load(handle)
        pki = os.path.join(self.dir, "pki")
        self.api = Api(f"https://127.0.0.1:{state['port']}", os.path.join(pki, "ca.crt"),
                       os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.apiserver = (state["full"]["apiserver_ip"], state["port"])
        self.cp_netns, self.owner_pid = state["full"]["cp_netns"], state["full"].get("owner_pid")
        self.pods, self.cache = {}, {}

    def log(self, line):
        print(line, file=sys.stderr, flush=True)

    def objects(self, namespace):
        if namespace not in self.cache:
            listed = {kind: self.api.list(f"/api/v1/namespaces/{namespace}/{kind.lower()}s")
                      for kind in ("Secret", "ConfigMap")}
            self.cache[namespace] = tuple({o["metadata"]["name"]: dict(o, kind=kind) for o in objs}
                                          for kind, objs in listed.items())
        return self.cache[namespace]

    def sync(self, resync):
        self.cache = {}
        seen = set()
        for pod in self.api.list("/api/v1/pods", labelSelector=SELECTOR):
            if pod["metadata"].get("deletionTimestamp") or not pod.get("status", {}).get("podIP"):
                continue
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            runtime = self.pods.setdefault(uid, PodProcesses(self, pod))
            if resync and runtime.mounted:
                runtime.sync_volumes()  # the operator rewrites the configuration as ServiceMonitors change
            runtime.step()
        for uid in set(self.pods) - seen:
            self.pods.pop(uid).stop()

    def owner_gone(self):
        return self.owner_pid is not None and not os.path.exists(f"/proc/{self.owner_pid}")

    def run(self):
        import signal

        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        last = 0.0
        while not stopping and not self.owner_gone():
            resync = time.monotonic() - last > 2.0
            last = time.monotonic() if resync else last
            try:
                self.sync(resync)
            except (ApiError, OSError, podspec.ConfigError) as exc:
                self.log(f"sync: {exc}")
            time.sleep(0.5)
        for runtime in self.pods.values():
            runtime.stop()


if __name__ == "__main__":
    if sys.argv[1:2] != ["pods"] or len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    PodRunner(sys.argv[2]).run()
