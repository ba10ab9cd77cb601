"""The full cluster: the real control plane, kwok nodes and MetalLB's real binaries, in network namespaces.

    controlplane.py up --full [--nodes N] DIR      (default 2 nodes)
    controlplane.py down DIR

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok run in a network namespace of their own;
every node has its own namespace with a veth on a LAN bridge; the kubelet stand-in (kubelet.py) runs MetalLB's
controller and speaker binaries for MetalLB's Pods. Namespaces (the prefix is unique to DIR, so clusters in
different directories run side by side; interface names are local to each namespace):
  PREFIX-lan   the LAN: bridge br0 with 198.51.100.2/24, where a client (arp.py) asks who has an address
  PREFIX-cp    control plane: eth0 198.51.100.1/24 on the bridge; the pod addresses kwok hands out
               (203.0.113.0/25) are local here
  PREFIX-n1..  node-a, node-b, ...: eth0 198.51.100.11/24, .12, ...; their speakers announce from there
  PREFIX-pod-UID  one per MetalLB Pod that does not use the host network (the controller): its address from
               203.0.113.128/25 on eth0, a veth to PREFIX-cp, which routes that address to it
No namespace has a default route, so no packet can leave them. A forwarder makes the API server, which listens
only inside PREFIX-cp, reachable at 127.0.0.1:PORT here: kubectl, the plugin and tests run unchanged.
DIR receives, besides what tier A writes: controller-manager.kubeconfig, scheduler.kubeconfig, kwok.yaml, a log
per component, pods/ (per MetalLB Pod: its projected volumes, kubeconfig and container logs). kubeletserver.py
serves those logs to the API server at each node's address, port 10250, as a kubelet does (`kubectl logs`,
`--previous`); the API server reaches kubelets at their InternalIP, never by host name.
"""

import json
import os
import socket
import subprocess
import sys
import time

import frr
import kubeletserver
import netns
from controlplane import BIN, HERE, ControlPlane, _pid, _stop
from kubeapi import Api, ApiError
from kubelet import APPS

APISERVER_IP = "198.51.100.1"
CLIENT_IP = "198.51.100.2"
KWOK_POD_CIDR = "203.0.113.0/25"  # the kubelet stand-in hands out the upper half
KWOK_STAGES = ("node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
               "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml")
# kwok's pod stages skip MetalLB's and frr-k8s' Pods: the kubelet stand-in runs them and owns their status
NOT_METALLB = ("    - key: '.metadata.labels.app'\n      operator: 'NotIn'\n      values:\n"
               + "".join(f"      - '{app}'\n" for app in APPS))


class FullCluster(ControlPlane):
    components = ("forwarder", "etcd", "apiserver", "controller-manager", "scheduler", "kwok", "kubelet",
                  "kubelet-server")

    def __init__(self, workdir, nodes=2, owner_pid=None):
        super().__init__(workdir)
        self.prefix = netns.prefix_for(self.dir)
        saved = self._state().get("full")
        self.node_count = len(saved["nodes"]) if saved else nodes
        self.owner_pid = owner_pid if owner_pid is not None else (saved or {}).get("owner_pid")
        self.lan_netns, self.cp_netns = f"{self.prefix}-lan", f"{self.prefix}-cp"
        self.nodes = {f"node-{chr(ord('a') + i)}": {"ip": f"198.51.100.{11 + i}", "netns": f"{self.prefix}-n{i + 1}"}
                      for i in range(self.node_count)}

    # -- lifecycle

    def build(self):
        subprocess.run([os.path.join(HERE, "build.sh")], check=True, stdout=2)

    def up(self, timeout=180):
        netns.check_available()
        self.refuse_if_running()
        self.build()
        self._delete_network()  # what an earlier run in this directory may have left
        self._make_network()
        self.start_store(timeout)
        self._start_forwarder()
        self.start_apiserver()
        self._wait(self._apiserver_ready, timeout, "apiserver")
        for who, user in (("admin", "admin"), ("reader", "reader"), ("nobody", "nobody"),
                          ("controller-manager", "system:kube-controller-manager"),
                          ("scheduler", "system:kube-scheduler")):
            self._write_kubeconfig(who, user)
        self._grant_reader()
        self._start_controllers()
        api = self.api()
        for name, node in self.nodes.items():
            api.create("/api/v1/nodes", _node(name, node["ip"]))
        self._until(lambda: all(_ready(api.get(f"/api/v1/nodes/{n}")) for n in self.nodes), timeout,
                    "the nodes to become Ready (kwok.log)")
        self._until(lambda: api.get("/api/v1/namespaces/default/serviceaccounts/default", missing_ok=True),
                    timeout, "the default ServiceAccount (controller-manager.log)")
        ControlPlane._spawn(self, "kubelet", [sys.executable, os.path.join(HERE, "kubelet.py"), self.dir])
        ControlPlane._spawn(self, "kubelet-server", [sys.executable, os.path.join(HERE, "kubeletserver.py"), self.dir])
        return self

    def down(self):
        """Stop every process (the kubelet stand-in first: it stops MetalLB's) and delete the namespaces."""
        for name in reversed(self.components):
            if _pid(self.path(f"{name}.pid")) != os.getpid():  # the kubelet stand-in may be the one stopping it all
                _stop(self.path(f"{name}.pid"))
        frr.stop(self.dir)  # the BGP router, when a test started one (frr.py)
        self._delete_network()

    def api(self):
        return Api(self.server, os.path.join(self.pki, "ca.crt"), os.path.join(self.pki, "admin.crt"),
                   os.path.join(self.pki, "admin.key"))

    def _until(self, check, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (ApiError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {timeout}s waiting for {what}")

    # -- network

    def namespaces(self):
        return [self.lan_netns, self.cp_netns, *(node["netns"] for node in self.nodes.values())]

    def _make_network(self):
        lan = self.lan_netns
        netns.add(lan)
        netns.ip("link", "add", "br0", "type", "bridge", netns=lan)
        netns.ip("addr", "add", f"{CLIENT_IP}/24", "dev", "br0", netns=lan)
        netns.ip("link", "set", "br0", "up", netns=lan)
        ports = {self.cp_netns: ("cp", APISERVER_IP)}
        ports.update({node["netns"]: (name, node["ip"]) for name, node in self.nodes.items()})
        for namespace, (port, address) in ports.items():
            netns.add(namespace)
            netns.veth(namespace, "eth0", lan, port, f"{address}/24")
            netns.ip("link", "set", port, "master", "br0", netns=lan)
        # kwok's Pods run no process: their addresses are local here, so connecting to one is refused at once
        netns.ip("route", "add", "local", KWOK_POD_CIDR, "dev", "lo", netns=self.cp_netns)

    def _delete_network(self):
        listed = netns.ip("netns", "list", check=False).split("\n")
        mine = {line.split()[0] for line in listed if line.startswith(self.prefix + "-")}
        for namespace in sorted(mine | {n for n in self.namespaces() if netns.exists(n)}):
            netns.delete(namespace)

    # -- processes

    def _spawn(self, name, argv, pass_fds=()):
        super()._spawn(name, netns.exec_argv(self.cp_netns, argv), pass_fds)

    def _save_state(self, **extra):
        full = {"nodes": self.nodes, "prefix": self.prefix, "cp_netns": self.cp_netns, "lan_netns": self.lan_netns,
                "apiserver_ip": APISERVER_IP, "client_ip": CLIENT_IP, "owner_pid": self.owner_pid}
        super()._save_state(full=full, **extra)

    def _etcd_ready(self):
        try:
            return netns.http_status(self.cp_netns, "127.0.0.1", self.etcd_port, "/health", timeout=5) == 200
        except OSError:
            return False

    def _start_forwarder(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        with listener:
            self._spawn("forwarder", [sys.executable, os.path.join(HERE, "forward.py"), str(listener.fileno()),
                                      "127.0.0.1", str(self.port)], pass_fds=(listener.fileno(),))

    def _apiserver_flags(self):
        changed = {"--bind-address=127.0.0.1": "--bind-address=0.0.0.0",
                   "--advertise-address=127.0.0.1": f"--advertise-address={APISERVER_IP}",
                   "--endpoint-reconciler-type=none": "--endpoint-reconciler-type=lease"}
        # the ServiceAccount admission plugin stays on: the controller-manager creates the accounts here
        return [changed.get(flag, flag) for flag in super()._apiserver_flags()
                if flag != "--disable-admission-plugins=ServiceAccount"] + kubeletserver.apiserver_flags(self.pki)

    def _certs(self):
        certs = super()._certs()
        subject, usage, san = certs["apiserver"]
        certs["apiserver"] = (subject, usage, f"{san},IP:{APISERVER_IP}")
        certs["controller-manager"] = ("/CN=system:kube-controller-manager", "clientAuth", None)
        certs["scheduler"] = ("/CN=system:kube-scheduler", "clientAuth", None)
        certs.update(kubeletserver.certs(node["ip"] for node in self.nodes.values()))
        return certs

    def _start_controllers(self):
        pki = self.pki
        self._spawn("controller-manager", [
            os.path.join(BIN, "kube-controller-manager"), f"--kubeconfig={self.kubeconfig('controller-manager')}",
            "--bind-address=127.0.0.1", "--leader-elect=false", "--controllers=*",
            f"--service-account-private-key-file={pki}/sa.key", f"--root-ca-file={pki}/ca.crt",
            "--use-service-account-credentials=true",
            f"--cluster-signing-cert-file={pki}/ca.crt", f"--cluster-signing-key-file={pki}/ca.key",
            f"--flex-volume-plugin-dir={self.path('flexvolume')}",  # else it creates a directory under /usr
            # every node gets a pod CIDR of 16 addresses from kwok's half of the pod network (so 8 nodes at most),
            # and kwok gives its Pods addresses from their node's
            "--allocate-node-cidrs=true", f"--cluster-cidr={KWOK_POD_CIDR}", "--node-cidr-mask-size=28",
        ])
        self._spawn("scheduler", [os.path.join(BIN, "kube-scheduler"), f"--kubeconfig={self.kubeconfig('scheduler')}",
                                  "--bind-address=127.0.0.1", "--leader-elect=false"])
        self._write_kwok_config()
        self._spawn("kwok", [os.path.join(BIN, "kwok"), f"--kubeconfig={self.kubeconfig()}",
                             f"--config={self.path('kwok.yaml')}"])

    def _write_kwok_config(self):
        """kwok's options, and its stages read from the kwok module in Go's module cache (they ship there)."""
        options = {"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokConfiguration", "options": {
            "cidr": KWOK_POD_CIDR, "nodeIP": APISERVER_IP, "manageAllNodes": False,
            "manageNodesWithAnnotationSelector": "kwok.x-k8s.io/node=fake", "nodeLeaseDurationSeconds": 40,
            "nodeLeaseParallelism": 2, "podPlayStageParallelism": 2, "nodePlayStageParallelism": 2,
            "enableDebuggingHandlers": False}}
        documents = [json.dumps(options)]
        stages = os.path.join(_kwok_module(), "kustomize", "stage")
        for stage in KWOK_STAGES:
            with open(os.path.join(stages, stage)) as handle:
                text = handle.read()
            if stage.startswith("pod/"):
                anchor = "  selector:\n    matchExpressions:\n"
                if text.count(anchor) != 1:
                    raise RuntimeError(f"kwok stage {stage} does not have the expected selector")
                text = text.replace(anchor, anchor + NOT_METALLB)
            documents.append(text)
        with open(self.path("kwok.yaml"), "w") as handle:
            handle.write("\n---\n".join(documents))


def _kwok_module():
    """Directory of the kwok module the binary was built from (downloaded again if the cache was cleaned)."""
    info = subprocess.run(["go", "version", "-m", os.path.join(BIN, "kwok")], capture_output=True, text=True,
                          check=True).stdout
    version = next(line.split()[2] for line in info.splitlines() if line.split()[:2] == ["mod", "sigs.k8s.io/kwok"])
    env = dict(os.environ, GOTOOLCHAIN="local")
    out = subprocess.run(["go", "mod", "download", "-json", f"sigs.k8s.io/kwok@{version}"], capture_output=True,
                         text=True, check=True, env=env, cwd="/").stdout
    return json.loads(out)["Dir"]


def _node(name, address):
    capacity = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64"}},
            "status": {"addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
                       "capacity": capacity, "allocatable": capacity}}


def _ready(node):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))
