"""A synthetic large cluster on the test API server: nodes, LoadBalancer Services with their EndpointSlices, pools,
a MetalLB install, and the ServiceL2Status a speaker writes for each Service it announces in layer 2.

Objects are written in parallel through the plugin's own Client (raw JSON over one connection pool).
"""

import base64
import ipaddress
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from metallb_plugin.cluster import api_path

NS = "metallb-system"
POOL_BLOCK = ipaddress.ip_network("10.200.0.0/16")  # 50 pools of /22: room for 20,000 Services
PENDING_EVERY = 10  # one Service in ten is left pending, with an AllocationFailed event
CONTENT = 2  # what a cluster holds; part of its key, so that a cluster loaded by an older loader is loaded again


@dataclass(frozen=True)
class Size:
    nodes: int = 500
    services: int = 5000
    namespaces: int = 50
    pools: int = 50

    def scaled(self, factor):
        """Nodes and Services grow with the factor; pools and namespaces stay (kinds, not objects)."""
        return Size(self.nodes * factor, self.services * factor, self.namespaces, self.pools)

    def key(self):
        return json.dumps({**asdict(self), "content": CONTENT}, sort_keys=True)


def _parallel(function, items, workers=8):
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(function, items):
            pass


def pool_network(index):
    return list(POOL_BLOCK.subnets(new_prefix=22))[index]


def nodes(client, size):
    def create(i):
        name = f"node-{i:05d}"
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
        if i < 3:
            labels["node-role.kubernetes.io/control-plane"] = ""
        client.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                        "metadata": {"name": name, "labels": labels},
                                        "spec": {"podCIDR": f"10.{64 + i // 256}.{i % 256}.0/24",
                                                 "podCIDRs": [f"10.{64 + i // 256}.{i % 256}.0/24"]}})
        client.patch(f"/api/v1/nodes/{name}/status", {"status": {
            "addresses": [{"type": "InternalIP", "address": f"192.168.{i // 250}.{i % 250 + 1}"},
                          {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "nodeInfo": {"kubeletVersion": "v1.37.2", "kubeProxyVersion": "", "osImage": "Debian",
                         "containerRuntimeVersion": "containerd://2.1", "kernelVersion": "6.12",
                         "operatingSystem": "linux", "architecture": "amd64", "machineID": "", "systemUUID": "",
                         "bootID": ""}}})

    _parallel(create, range(size.nodes))


def metallb(client, manifest_path, size):
    """The real v0.16.1 manifest; pools and advertisements go in before the webhook configuration exists."""
    import yaml

    with open(manifest_path) as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d]
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    rest = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
    for doc in crds:
        client.apply(client.object_path(doc), doc)
    for doc in crds:  # wait until established before creating custom resources
        name = doc["metadata"]["name"]
        path = api_path("apiextensions.k8s.io/v1", "customresourcedefinitions", name=name)
        while not any(c["type"] == "Established" and c["status"] == "True"
                      for c in (client.get(path).get("status") or {}).get("conditions", [])):
            time.sleep(0.2)
    namespace = next(d for d in rest if d["kind"] == "Namespace")
    client.apply(client.object_path(namespace), namespace)
    _config(client, size)
    vwc = [d for d in rest if d["kind"] == "ValidatingWebhookConfiguration"]
    for doc in [d for d in rest if d["kind"] != "ValidatingWebhookConfiguration"] + vwc:
        client.apply(client.object_path(doc), doc)
    _ready(client, vwc[0]["metadata"]["name"], size)


def _config(client, size):
    base = "metallb.io/v1beta1"
    for i in range(size.pools):
        client.create(api_path(base, "ipaddresspools", NS), {
            "apiVersion": base, "kind": "IPAddressPool", "metadata": {"name": f"pool-{i:02d}"},
            "spec": {"addresses": [str(pool_network(i))]}})
    half = size.pools // 2
    for i in range(half):
        client.create(api_path(base, "l2advertisements", NS), {
            "apiVersion": base, "kind": "L2Advertisement", "metadata": {"name": f"l2-{i:02d}"},
            "spec": {"ipAddressPools": [f"pool-{i:02d}"]}})
    for i in range(half, size.pools):
        client.create(api_path(base, "bgpadvertisements", NS), {
            "apiVersion": base, "kind": "BGPAdvertisement", "metadata": {"name": f"bgp-{i:02d}"},
            "spec": {"ipAddressPools": [f"pool-{i:02d}"]}})
    for i in range(2):
        client.create(api_path("metallb.io/v1beta2", "bgppeers", NS), {
            "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": f"router-{i}"},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": f"192.168.250.{i + 1}"}})


def _ready(client, vwc_name, size):
    """What MetalLB's controller and the kubelets would have done: status, secrets, webhook endpoints."""
    deploy = client.get(api_path("apps/v1", "deployments", NS, "controller"))
    client.patch(api_path("apps/v1", "deployments", NS, "controller", "status"), {"status": {
        "observedGeneration": deploy["metadata"]["generation"], "replicas": 1, "updatedReplicas": 1,
        "readyReplicas": 1, "availableReplicas": 1,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}})
    ds = client.get(api_path("apps/v1", "daemonsets", NS, "speaker"))
    client.patch(api_path("apps/v1", "daemonsets", NS, "speaker", "status"), {"status": {
        "observedGeneration": ds["metadata"]["generation"], "currentNumberScheduled": size.nodes,
        "desiredNumberScheduled": size.nodes, "numberMisscheduled": 0, "numberReady": size.nodes,
        "updatedNumberScheduled": size.nodes, "numberAvailable": size.nodes}})
    fake_ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nbench\n-----END CERTIFICATE-----\n").decode()
    client.apply(api_path("v1", "secrets", NS, "metallb-webhook-cert"), {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "metallb-webhook-cert", "namespace": NS},
        "data": {"ca.crt": fake_ca, "tls.crt": fake_ca, "tls.key": fake_ca}}, force=True)
    client.create(api_path("v1", "secrets", NS), {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "memberlist"},
        "data": {"secretkey": base64.b64encode(os.urandom(32)).decode()}})
    vwc_path = api_path("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", name=vwc_name)
    webhooks = client.get(vwc_path)["webhooks"]
    client.patch(vwc_path, [{"op": "replace", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": fake_ca}
                            for i in range(len(webhooks))], patch_type="json")
    client.create(api_path("discovery.k8s.io/v1", "endpointslices", NS), {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "metallb-webhook-service-bench",
                     "labels": {"kubernetes.io/service-name": "metallb-webhook-service"}},
        "addressType": "IPv4", "ports": [{"port": 9443, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.64.0.10"], "conditions": {"ready": True}}]})


def kube_proxy(client):
    config = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n" \
             "ipvs:\n  strictARP: true\n"
    client.create(api_path("v1", "configmaps", "kube-system"), {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "labels": {"app": "kube-proxy"}},
        "data": {"config.conf": config}})


def services(client, size):
    for n in range(size.namespaces):
        client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": f"bench-{n:02d}"}})
    hosts = {i: pool_network(i).hosts() for i in range(size.pools)}

    def plan(i):
        pool = i % size.pools
        return i, f"bench-{i % size.namespaces:02d}", pool, (None if i % PENDING_EVERY == 0 else
                                                              str(next(hosts[pool])))

    def create(job):
        i, namespace, pool, ip = job
        name = f"svc-{i:05d}"
        meta = {"name": name}
        if ip:
            meta["annotations"] = {"metallb.io/ip-allocated-from-pool": f"pool-{pool:02d}"}
        client.create(api_path("v1", "services", namespace), {
            "apiVersion": "v1", "kind": "Service", "metadata": meta,
            # without node ports: 5,000 Services would exhaust the default NodePort range
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "allocateLoadBalancerNodePorts": False,
                     "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
        endpoints = [(i * 7 + k) % size.nodes for k in (0, 1)]  # two Pods, as the endpointslice controller lists them
        client.create(api_path("discovery.k8s.io/v1", "endpointslices", namespace), {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-bench", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"10.{64 + n // 256}.{n % 256}.{i % 250 + 2}"], "nodeName": f"node-{n:05d}",
                           "conditions": {"ready": True}} for n in endpoints]})
        if ip:
            client.patch(api_path("v1", "services", namespace, name, "status"),
                         {"status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}})
            if pool < size.pools // 2:  # an L2 pool (see _config): the announcing speaker's status object
                l2_status(client, namespace, name, f"node-{endpoints[0]:05d}")
        else:
            allocation_failed(client, namespace, name)

    _parallel(create, [plan(i) for i in range(size.services)])


def _pending(size):
    """(namespace, name) of each Service left without an address."""
    return [(f"bench-{i % size.namespaces:02d}", f"svc-{i:05d}") for i in range(0, size.services, PENDING_EVERY)]


def allocation_failed(client, namespace, name):
    """The Warning event MetalLB's controller records for a Service it cannot give an address."""
    client.create(api_path("v1", "events", namespace), {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.alloc"},
        "involvedObject": {"apiVersion": "v1", "kind": "Service", "namespace": namespace, "name": name},
        "reason": "AllocationFailed", "type": "Warning", "count": 1,
        "message": f'Failed to allocate IP for "{namespace}/{name}": no available IPs',
        "source": {"component": "metallb-controller"},
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"})


def restore_events(client, size):
    """Create again the AllocationFailed events the API server has expired (its --event-ttl), so that a cluster
    loaded long ago still holds what it was loaded with; returns how many were missing."""
    kept = {(e["metadata"]["namespace"], e["involvedObject"]["name"])
            for e in client.list("/api/v1/events", field_selector="reason=AllocationFailed")}
    missing = [pending for pending in _pending(size) if pending not in kept]
    _parallel(lambda pending: allocation_failed(client, *pending), missing)
    return len(missing)


def l2_status(client, namespace, service, node):
    path = api_path("metallb.io/v1beta1", "servicel2statuses", NS)
    labels = {"metallb.io/node": node, "metallb.io/service-name": service, "metallb.io/service-namespace": namespace}
    created = client.create(path, {"apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status",
                                   "metadata": {"generateName": "l2-", "labels": labels}})
    client.patch(f"{path}/{created['metadata']['name']}/status", {"status": {
        "node": node, "serviceName": service, "serviceNamespace": namespace, "interfaces": [{"name": "eth0"}]}})


def load(client, size, manifest_path):
    nodes(client, size)
    kube_proxy(client)
    metallb(client, manifest_path, size)
    services(client, size)
