"""Kubelet stand-in for MetalLB's Pods on the full cluster's fake nodes (stdlib only).

    kubelet.py DIR

kwok plays the kubelet for every other Pod; it leaves MetalLB's Pods (label app=metallb: controller and speaker)
and frr-k8s' (app=frr-k8s, app=frr-k8s-webhook-server) to this program, which does for them what a kubelet does:
- runs the real programs of the Pod's image (images.py) with the Pod's args and env ($(VAR), fieldRef,
  secretKeyRef, configMapKeyRef, envFrom), inside its node's network namespace (hostNetwork) or a network
  namespace of the Pod's own, as a CNI plugin makes it (an address from 203.0.113.128/25, reachable from the
  control plane's namespace, where the API server calls webhooks): MetalLB's binary for its image tag
  (quay.io/metallb/speaker:v0.16.1 -> bin/metallb/v0.16.1/speaker), or, for frr-k8s' and FRR's images, the
  container's command in a root of its own (rootfs.py); init containers first, one at a time, each to success;
  an image this machine has nothing for cannot be pulled (ErrImagePull);
- projects the volumes the Pod mounts (Secrets, ConfigMaps, service account tokens) into the Pod's directory and
  keeps them in sync, switching each atomically as a kubelet does. The process gets its own /tmp and /run (so
  /var/run/secrets/kubernetes.io/serviceaccount is its service account's, and MetalLB talks to the API server as
  that account, with its real RBAC, through the in-cluster configuration); other mount paths are reached through
  its env and args, which are pointed at their directories (a path a binary hard-codes elsewhere is not seen: the
  speaker's optional /etc/metallb files);
- owns the Pod's status: Running with a pod IP, Ready only once the real readiness probe passes and Ready=False
  when it fails; a failing liveness probe restarts the container; an exit means restartCount+1 and
  CrashLoopBackOff until the kubelet's back-off (10 s, doubling up to 5 min) restarts it; events Started,
  Killing, Unhealthy, BackOff, Failed and FailedMount, as a kubelet writes them;
- stops the process when its Pod is deleted (SIGTERM, the grace period, SIGKILL), and whatever it started that
  left its process group (FRR's daemons) with it, then removes the Pod;
- writes each container's output to pods/NS_POD_UID/CONTAINER.log, the last terminated instance's to
  CONTAINER.previous.log (what kubeletserver.py serves for `kubectl logs` and `--previous`).
Every process leads its own process group; SIGTERM or SIGINT stop them all. When the process that owns the
cluster (a test session) is gone, the whole cluster is stopped.
"""

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

import images
import netns
import podspec
from containers import BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_RESET, Container, Probe, signal_group, stop_group
from kubeapi import Api, ApiError

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = ("metallb", "frr-k8s", "frr-k8s-webhook-server")  # MetalLB's Pods and frr-k8s' (label app)
SELECTOR = f"app in ({','.join(APPS)})"
POD_ADDRESSES = ipaddress.ip_network("203.0.113.128/25")  # kwok hands out 203.0.113.0/25
LAN = "198.51.100.0/24"  # what a Pod's own namespace reaches (the API server is there)
SYNC_VOLUMES_EVERY = 2.0
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class PodRuntime:
    """One Pod on one node: its containers, volumes, status."""

    def __init__(self, kubelet, pod):
        self.kubelet = kubelet
        meta = pod["metadata"]
        self.uid, self.name, self.namespace = meta["uid"], meta["name"], meta["namespace"]
        self.node = pod["spec"]["nodeName"]
        host_network = pod["spec"].get("hostNetwork", False)
        node = kubelet.nodes[self.node]
        self.host_ip = node["ip"]
        self.own_netns = not host_network
        if host_network:
            self.netns, self.pod_ip = node["netns"], node["ip"]
        else:
            self.netns, self.pod_ip = f"{kubelet.prefix}-pod-{self.uid[:8]}", kubelet.allocate_ip()
            netns.pod_network(self.netns, self.pod_ip, kubelet.cp_netns, f"p{self.uid[:8]}", [LAN])
        self.dir = os.path.join(kubelet.dir, "pods", f"{self.namespace}_{self.name}_{self.uid[:8]}")
        self.rootfs = os.path.join(self.dir, "rootfs")
        for private in podspec.PRIVATE:
            os.makedirs(self.rootfs + private, exist_ok=True)
        self.pod = pod
        self.containers = [Container(c) for c in pod["spec"]["containers"]]
        self.init_containers = [Container(c) for c in pod["spec"].get("initContainers", [])]
        self.started = now_rfc3339()
        self.transitions = {}
        self.last_status = None
        self.mounted = False
        self.token_cache = {}
        self.kill_deadline = None

    # -- what the Pod refers to

    def with_status(self):
        """The Pod as the downward API sees it (status.podIP and hostIP are ours to set)."""
        pod = dict(self.pod)
        pod["status"] = dict(pod.get("status", {}), hostIP=self.host_ip, hostIPs=[{"ip": self.host_ip}],
                             podIP=self.pod_ip, podIPs=[{"ip": self.pod_ip}])
        return pod

    def token(self, audience=None, seconds=3600):
        key = (audience, seconds)
        token, refresh_at = self.token_cache.get(key, (None, 0))
        if token is None or time.monotonic() > refresh_at:
            spec = {"expirationSeconds": max(seconds, 600),
                    "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.name, "uid": self.uid}}
            if audience:
                spec["audiences"] = [audience]
            account = self.pod["spec"].get("serviceAccountName", "default")
            answer = self.kubelet.api.create(
                f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token", {"spec": spec})
            token = answer["status"]["token"]
            self.token_cache[key] = (token, time.monotonic() + 0.8 * spec["expirationSeconds"])
        return token

    def sync_volumes(self):
        """Project every volume the Pod's containers mount; False (and an event) while one cannot be set up."""
        secrets, configmaps = self.kubelet.objects(self.namespace)
        pod = self.with_status()
        try:
            for volume in self.pod["spec"].get("volumes", []):
                files = podspec.volume_files(pod, volume, secrets, configmaps, self.token)
                for mount in self._mounts(volume["name"]):
                    podspec.write_atomically(self.rootfs + podspec.in_pod(mount), files)
        except podspec.MountError as exc:
            self.kubelet.event(self, "Warning", "FailedMount", str(exc))
            return False
        return True

    def _mounts(self, volume):
        return sorted({m["mountPath"] for c in self.containers + self.init_containers
                       for m in c.spec.get("volumeMounts", []) if m["name"] == volume})

    # -- containers

    def step(self):
        if self.pod["metadata"].get("deletionTimestamp"):
            self.terminate()
            return
        if not self.mounted:
            self.mounted = self.sync_volumes()
            if not self.mounted:
                return
        pending = [c for c in self.init_containers if not c.completed]
        for container in pending[:1] or self.containers:  # init containers one at a time, to success, first
            self._step_container(container)

    @property
    def initialized(self):
        return all(c.completed for c in self.init_containers)

    def _step_container(self, c):
        now = time.monotonic()
        if c.process is None:
            if now < c.restart_at:
                return
            self._start(c)
            return
        code = c.process.poll()
        if code is not None:
            self._exited(c, code)
            return
        self._probe(c, c.readiness, now, liveness=False)
        self._probe(c, c.liveness, now, liveness=True)

    def _start(self, c):
        image = c.spec["image"]
        found = images.resolve(self.kubelet.bin, image)
        if found is None:
            c.waiting = ("ErrImagePull", f"nothing on this machine for image {image} ({images.BUILD_HINT})")
            self.kubelet.event(self, "Warning", "Failed", f"Failed to pull image \"{image}\": {c.waiting[1]}", c)
            c.restart_at = time.monotonic() + BACKOFF_FIRST
            return
        secrets, configmaps = self.kubelet.objects(self.namespace)
        try:
            env = podspec.environment(self.with_status(), c.spec, secrets, configmaps)
        except podspec.ConfigError as exc:
            c.waiting = ("CreateContainerConfigError", str(exc))
            self.kubelet.event(self, "Warning", "Failed", f"Error: {exc}", c)
            return
        if found.kind == images.ROOTFS:  # programs at fixed paths: a root of their own, volumes at their paths
            command = [podspec.expand(a, env) for a in c.spec.get("command", []) + c.spec.get("args", [])]
            argv, cwd = images.rootfs_argv(self.dir, c.name, found, self._volumes(c), command), "/"
        else:
            mounts = [m["mountPath"] for m in c.spec.get("volumeMounts", [])]
            env = {k: podspec.rewrite_paths(v, mounts) for k, v in env.items()}
            args = [podspec.rewrite_paths(podspec.expand(a, env), mounts)
                    for a in c.spec.get("command", [])[1:] + c.spec.get("args", [])]
            # `ip netns exec` gives the process a mount namespace of its own, where the Pod's /run and /tmp are
            # bound over the machine's (in this order: the Pod's directory may itself be under /tmp). It starts in
            # the binary's directory, which it keeps even when /tmp hides that directory's path.
            mounts_script = " && ".join(f'mount --bind "$0{p}" {p}' for p in podspec.PRIVATE)
            argv = ["sh", "-c", mounts_script + ' && exec "$@"', self.rootfs, "./" + os.path.basename(found.path),
                    *args]
            cwd = os.path.dirname(found.path)
        hostname = self.node if self.pod["spec"].get("hostNetwork") else self.name
        # the `kubernetes` Service's ClusterIP leads nowhere without kube-proxy: name the API server's own address
        full_env = {"PATH": PATH, "HOSTNAME": hostname, "KUBERNETES_SERVICE_HOST": self.kubelet.apiserver[0],
                    "KUBERNETES_SERVICE_PORT": str(self.kubelet.apiserver[1]),
                    "KUBERNETES_SERVICE_PORT_HTTPS": str(self.kubelet.apiserver[1]), **env,
                    **c.new_instance(self.uid)}
        with open(os.path.join(self.dir, f"{c.name}.log"), "ab") as log:
            c.process = subprocess.Popen(netns.exec_argv(self.netns, argv), env=full_env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                         cwd=cwd)
        c.started_at = (time.monotonic(), now_rfc3339())
        c.ready = "readinessProbe" not in c.spec  # without a probe, running is ready
        c.readiness, c.liveness = Probe(c.spec.get("readinessProbe")), Probe(c.spec.get("livenessProbe"))
        self.kubelet.event(self, "Normal", "Started", f"Started container {c.name}", c)

    def _volumes(self, c):
        """(where it is here, mount path, read-only) of the Pod's /run and /tmp and of each volume c mounts."""
        return [(self.rootfs + p, p, False) for p in podspec.PRIVATE] + [
            (self.rootfs + podspec.in_pod(m["mountPath"]), m["mountPath"], m.get("readOnly", False))
            for m in c.spec.get("volumeMounts", [])]

    def _exited(self, c, code):
        c.reap()
        if code == 0 and c in self.init_containers:
            c.process, c.completed = None, {"exitCode": 0, "reason": "Completed", "startedAt": c.started_at[1],
                                            "finishedAt": now_rfc3339()}
            return
        log = os.path.join(self.dir, f"{c.name}.log")  # the terminated instance's log is now the previous one
        if os.path.exists(log):
            os.replace(log, os.path.join(self.dir, f"{c.name}.previous.log"))
        exit_code = code if code >= 0 else 128 - code
        c.last_terminated = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                             "startedAt": c.started_at[1], "finishedAt": now_rfc3339()}
        if time.monotonic() - c.started_at[0] > BACKOFF_RESET:
            c.backoff = BACKOFF_FIRST
        c.process, c.ready, c.restarts = None, False, c.restarts + 1
        c.restart_at = time.monotonic() + c.backoff
        c.waiting = ("CrashLoopBackOff", f"back-off {c.backoff}s restarting failed container={c.name} "
                                         f"pod={self.name}_{self.namespace}({self.uid})")
        self.kubelet.event(self, "Warning", "BackOff", "Back-off restarting failed container "
                                                       f"{c.name} in pod {self.name}_{self.namespace}({self.uid})", c)
        c.backoff = min(c.backoff * 2, BACKOFF_MAX)

    def _probe(self, c, probe, now, liveness):
        if probe.spec is None or now < probe.next_at:
            return
        host, port, path, scheme, timeout, period, delay, failure, success = podspec.http_probe(
            probe.spec, self.with_status(), c.spec)
        if now - c.started_at[0] < delay:
            return
        probe.next_at = now + period
        url = f"{scheme.lower()}://{host}:{port}{path}"
        try:
            code = netns.http_status(self.netns, host, port, path, scheme == "HTTPS", timeout)
            error = None if 200 <= code < 400 else f"HTTP probe failed with statuscode: {code}"
        except OSError as exc:
            error = f'Get "{url}": {exc.strerror or exc}'
        kind = "Liveness" if liveness else "Readiness"
        if error is None:
            probe.successes, probe.failures = probe.successes + 1, 0
            if not liveness and probe.successes >= success:
                c.ready = True
            return
        probe.successes, probe.failures = 0, probe.failures + 1
        self.kubelet.event(self, "Warning", "Unhealthy", f"{kind} probe failed: {error}", c)
        if probe.failures < failure:
            return
        if not liveness:
            c.ready = False
            return
        self.kubelet.event(self, "Normal", "Killing",
                           f"Container {c.name} failed liveness probe, will be restarted", c)
        stop_group(c.process, grace=self.pod["spec"].get("terminationGracePeriodSeconds", 30))

    def terminate(self):
        """Deleted: SIGTERM, the grace period, SIGKILL; then the Pod object goes (as the kubelet finishes it)."""
        running = [c for c in self.containers if c.process is not None and c.process.poll() is None]
        if self.kill_deadline is None:
            grace = self.pod["metadata"].get("deletionGracePeriodSeconds") or 0
            self.kill_deadline = time.monotonic() + grace
            for c in running:
                self.kubelet.event(self, "Normal", "Killing", f"Stopping container {c.name}", c)
                signal_group(c.process.pid, signal.SIGTERM)
        if running and time.monotonic() < self.kill_deadline:
            return
        self.kill()
        self.kubelet.api.delete(f"/api/v1/namespaces/{self.namespace}/pods/{self.name}",
                                {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}})

    def kill(self):
        for c in self.containers + self.init_containers:
            if c.process is not None:
                stop_group(c.process, grace=0)
                c.process = None
            c.reap()
        if self.own_netns:
            netns.delete(self.netns)

    # -- status

    def status(self):
        started_any = self.initialized and any(c.process is not None or c.restarts for c in self.containers)
        ready = all(c.ready for c in self.containers)
        unready = [c.name for c in self.containers if not c.ready]
        conditions = [
            self._condition("PodReadyToStartContainers", self.mounted),
            self._condition("Initialized", self.initialized),
            self._condition("ContainersReady", ready, "ContainersNotReady", unready),
            self._condition("Ready", ready, "ContainersNotReady", unready),
        ]
        return {"phase": "Running" if started_any else "Pending", "conditions": conditions,
                "hostIP": self.host_ip, "hostIPs": [{"ip": self.host_ip}],
                "podIP": self.pod_ip, "podIPs": [{"ip": self.pod_ip}], "startTime": self.started,
                "containerStatuses": [c.status(c.spec["image"]) for c in self.containers],
                **({"initContainerStatuses": [c.status(c.spec["image"]) for c in self.init_containers]}
                   if self.init_containers else {})}

    def _condition(self, kind, value, reason=None, unready=()):
        status = "True" if value else "False"
        if self.transitions.get(kind, (None,))[0] != status:
            self.transitions[kind] = (status, now_rfc3339())
        out = {"type": kind, "status": status, "lastTransitionTime": self.transitions[kind][1],
               "lastProbeTime": None}
        if not value and reason:
            out.update(reason=reason, message=f"containers with unready status: [{' '.join(unready)}]")
        return out

    def publish(self):
        status = self.status()
        if status != self.last_status:
            self.kubelet.api.patch(f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status",
                                   {"metadata": {"uid": self.uid}, "status": status}, kind="strategic")
            self.last_status = status


class Kubelet:
    def __init__(self, directory):
        from controlplane import BIN
        self.dir = os.path.abspath(directory)
        with open(os.path.join(self.dir, "state.json")) as handle:
            state = json.load(handle)
        full = state["full"]
        pki = os.path.join(self.dir, "pki")
        self.api = Api(f"https://127.0.0.1:{state['port']}", os.path.join(pki, "ca.crt"),
                       os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.apiserver = (full["apiserver_ip"], state["port"])
        self.nodes = full["nodes"]
        self.prefix, self.cp_netns = full["prefix"], full["cp_netns"]
        self.owner_pid = full.get("owner_pid")
        self.bin = BIN
        self.pods = {}
        self.events = {}
        self.tick_objects = {}
        self.stopping = False

    def allocate_ip(self):
        used = {p.pod_ip for p in self.pods.values()}
        return next(str(ip) for ip in POD_ADDRESSES.hosts() if str(ip) not in used)

    def objects(self, namespace):
        """Secrets and ConfigMaps of a namespace, read once per loop."""
        if namespace not in self.tick_objects:
            self.tick_objects[namespace] = tuple(
                {o["metadata"]["name"]: dict(o, kind=kind)
                 for o in self.api.list(f"/api/v1/namespaces/{namespace}/{plural}")}
                for plural, kind in (("secrets", "Secret"), ("configmaps", "ConfigMap")))
        return self.tick_objects[namespace]

    def event(self, runtime, kind, reason, message, container=None):
        key = (runtime.uid, reason, message)
        stamp = now_rfc3339()
        path = f"/api/v1/namespaces/{runtime.namespace}/events"
        try:
            if key in self.events:
                name, count = self.events[key]
                self.api.patch(f"{path}/{name}", {"count": count + 1, "lastTimestamp": stamp})
                self.events[key] = (name, count + 1)
                return
            involved = {"apiVersion": "v1", "kind": "Pod", "name": runtime.name, "namespace": runtime.namespace,
                        "uid": runtime.uid}
            if container:
                involved["fieldPath"] = f"spec.containers{{{container.name}}}"
            name = f"{runtime.name}.{time.time_ns():x}"
            self.api.create(path, {
                "metadata": {"name": name, "namespace": runtime.namespace}, "involvedObject": involved,
                "type": kind, "reason": reason, "message": message, "count": 1,
                "firstTimestamp": stamp, "lastTimestamp": stamp,
                "source": {"component": "kubelet", "host": runtime.node},
                "reportingComponent": "kubelet", "reportingInstance": runtime.node})
            self.events[key] = (name, 1)
        except ApiError:
            pass  # events are best effort, as for a kubelet (the namespace may be going away)

    def sync(self, sync_volumes):
        self.tick_objects = {}
        seen = set()
        for pod in self.api.list("/api/v1/pods", labelSelector=SELECTOR):
            if pod["spec"].get("nodeName") not in self.nodes:
                continue
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            runtime = self.pods.get(uid)
            if runtime is None:
                runtime = self.pods[uid] = PodRuntime(self, pod)
            runtime.pod = pod
            try:
                if sync_volumes and runtime.mounted and not pod["metadata"].get("deletionTimestamp"):
                    runtime.sync_volumes()
                runtime.step()
                if not pod["metadata"].get("deletionTimestamp"):
                    runtime.publish()
            except ApiError as exc:
                if exc.status not in (404, 409):  # the Pod or its namespace went away meanwhile
                    print(f"pod {runtime.namespace}/{runtime.name}: {exc}", file=sys.stderr, flush=True)
        for uid in set(self.pods) - seen:  # gone (or force-deleted): nothing may keep running
            self.pods.pop(uid).kill()

    def owner_gone(self):
        if not self.owner_pid:
            return False
        try:
            os.kill(self.owner_pid, 0)
            return False
        except ProcessLookupError:
            return True

    def run(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: setattr(self, "stopping", True))
        last_volumes = 0.0
        while not self.stopping:
            if self.owner_gone():
                from fullcluster import FullCluster
                print("the cluster's owner is gone: stopping the cluster", file=sys.stderr, flush=True)
                self.shutdown()
                FullCluster(self.dir).down()
                return
            sync_volumes = time.monotonic() - last_volumes > SYNC_VOLUMES_EVERY
            if sync_volumes:
                last_volumes = time.monotonic()
            try:
                self.sync(sync_volumes)
            except (ApiError, OSError, RuntimeError) as exc:  # logged; the next round tries again
                print(f"sync: {exc}", file=sys.stderr, flush=True)
            time.sleep(0.5)
        self.shutdown()

    def shutdown(self):
        for runtime in self.pods.values():
            runtime.kill()


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, HERE)
    Kubelet(argv[0]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
