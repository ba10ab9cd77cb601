"""Cluster shapes for preflight's end-to-end tests, written as the objects a real cluster of that kind has.

No kubelets or controllers run on the test API server: Nodes are created as objects (with the status a kubelet
would report), DaemonSets exist without pods, and a LoadBalancer Service's address is written into its status
the way the load balancer implementation would. These are other distributions' and providers' pieces (kubeadm's
control-plane node, k3s' ServiceLB, Cilium, a cloud's nodes), which the full cluster (tests/e2e) does not have
either: preflight's checks of them can only be fed their objects.
"""

import json
import os
import subprocess
import sys
import time

import yaml

KUBECTL = os.path.join(os.path.dirname(sys.executable), "kubectl")


class Kubectl:
    """The real kubectl as one user of a control plane; usable from module-scoped fixtures."""

    def __init__(self, kubeconfig):
        self.kubeconfig = kubeconfig

    def __call__(self, *args, input=None, check=True):
        done = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, *args], input=input, capture_output=True,
                              text=True, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def apply(self, objects):
        """Server-side apply; then the status of Services (a subresource) as their LB implementation writes it."""
        objects = list(objects)
        self("apply", "--server-side", "--field-manager=test-setup", "--force-conflicts", "-f", "-",
             input=yaml.safe_dump_all(objects))
        for obj in objects:
            if obj["kind"] == "Service" and obj.get("status"):
                self("patch", "service", obj["metadata"]["name"], "-n", obj["metadata"]["namespace"],
                     "--subresource=status", "--type=merge", "-p", json.dumps({"status": obj["status"]}))
            if obj["kind"] == "CustomResourceDefinition":
                self("wait", "--for=condition=Established", "--timeout=60s", f"crd/{obj['metadata']['name']}")

    def delete(self, objects):
        for obj in reversed(list(objects)):
            meta = obj["metadata"]
            where = ["-n", meta["namespace"]] if meta.get("namespace") else []
            kind = obj["kind"].lower() + ("." + obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else "")
            self("delete", kind, meta["name"], *where, "--ignore-not-found", "--wait=false")


# --------------------------------------------------------------------------------------------- builders


def node(name, ip, pod_cidr=None, labels=None, annotations=None, taints=None, provider=None,
         kubelet="v1.37.2"):
    spec = {"taints": taints or []}
    if pod_cidr:
        spec.update(podCIDR=pod_cidr, podCIDRs=[pod_cidr])
    if provider:
        spec["providerID"] = provider
    meta = {"name": name, "labels": dict({"kubernetes.io/os": "linux", "kubernetes.io/hostname": name},
                                         **(labels or {}))}
    if annotations:
        meta["annotations"] = annotations
    info = {k: "" for k in ("bootID", "containerRuntimeVersion", "kernelVersion", "kubeProxyVersion", "machineID",
                            "osImage", "systemUUID")}
    info.update(kubeletVersion=kubelet, operatingSystem="linux", architecture="amd64")
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta, "spec": spec,
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                       "nodeInfo": info}}


def daemonset(namespace, name, image="registry.example/agent:v1", env=None, args=None, labels=None):
    labels = dict({"app": name}, **(labels or {}))
    container = {"name": name.split("-")[0] or "main", "image": image, "args": args or [],
                 "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": namespace,
                                                                       "labels": labels},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


def configmap(namespace, name, data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def load_balancer(namespace, name, ip=None, annotations=None):
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": 80}], "selector": {"app": name}}}
    if ip:
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}
    return svc


# --------------------------------------------------------------------------------------------- scenarios

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
NODE_IPS = {"cp1": "192.168.1.10", "w1": "192.168.1.11", "w2": "192.168.1.12"}


def kube_proxy_config(mode="ipvs", strict_arp=False):
    """kube-system/kube-proxy as kubeadm renders it (config.conf is a full KubeProxyConfiguration)."""
    text = (
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
        "bindAddress: 0.0.0.0\n"
        "clusterCIDR: 10.244.0.0/16\n"
        "ipvs:\n"
        "  excludeCIDRs: null\n"
        "  scheduler: \"\"\n"
        f"  strictARP: {str(strict_arp).lower()}\n"
        "kind: KubeProxyConfiguration\n"
        f"mode: {mode}\n"
    )
    return configmap("kube-system", "kube-proxy", {"config.conf": text, "kubeconfig.conf": "apiVersion: v1\n"})


def kubeadm(mode="ipvs", strict_arp=False):
    """Three kubeadm nodes (the control plane tainted and labelled as kubeadm does), kube-proxy, Calico."""
    nodes = [node("cp1", NODE_IPS["cp1"], "10.244.0.0/24", labels={EXCLUDE: "", "node-role.kubernetes.io/"
                                                                   "control-plane": ""}, taints=[CONTROL_PLANE_TAINT]),
             node("w1", NODE_IPS["w1"], "10.244.1.0/24"),
             node("w2", NODE_IPS["w2"], "10.244.2.0/24")]
    proxy = daemonset("kube-system", "kube-proxy", "registry.k8s.io/kube-proxy:v1.37.2",
                      args=["--config=/var/lib/kube-proxy/config.conf"], labels={"k8s-app": "kube-proxy"})
    calico = daemonset("kube-system", "calico-node", "docker.io/calico/node:v3.29.0", labels={"k8s-app": "calico-node"})
    return nodes + [kube_proxy_config(mode, strict_arp), proxy, calico]


def k3s():
    """A k3s server node started without --disable=servicelb, and what ServiceLB made for Traefik."""
    server = node("k3s-srv", "192.168.2.10", "10.42.0.0/24", kubelet="v1.37.2+k3s1",
                  labels={"node.kubernetes.io/instance-type": "k3s"},
                  annotations={"k3s.io/node-args": json.dumps(["server", "--disable", "traefik-dashboard"]),
                               "flannel.alpha.coreos.com/backend-type": "vxlan"})
    svclb = daemonset("kube-system", "svclb-traefik-7f4e2a1c", "rancher/klipper-lb:v0.4.9",
                      labels={"svccontroller.k3s.cattle.io/svcname": "traefik",
                              "svccontroller.k3s.cattle.io/svcnamespace": "kube-system"})
    traefik = load_balancer("kube-system", "traefik", "192.168.2.10")
    return [server, svclb, traefik]


def cilium_crd():
    """A minimal CRD for Cilium's LB-IPAM pools (the real one has a full schema; preflight only lists them)."""
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "ciliumloadbalancerippools.cilium.io"},
            "spec": {"group": "cilium.io", "scope": "Cluster",
                     "names": {"kind": "CiliumLoadBalancerIPPool", "plural": "ciliumloadbalancerippools",
                               "singular": "ciliumloadbalancerippool", "listKind": "CiliumLoadBalancerIPPoolList"},
                     "versions": [{"name": "v2alpha1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


def cilium_pool(name, cidr):
    return {"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool", "metadata": {"name": name},
            "spec": {"blocks": [{"cidr": cidr}]}}


def cilium():
    agent = daemonset("kube-system", "cilium", "quay.io/cilium/cilium:v1.17.0", labels={"k8s-app": "cilium"})
    config = configmap("kube-system", "cilium-config", {"enable-lb-ipam": "true", "kube-proxy-replacement": "false"})
    return [agent, config]


def cloud_node():
    return [node("ip-10-0-1-5.ec2.internal", "10.0.1.5", provider="aws:///us-east-1a/i-0abc123def4567890",
                 labels={"topology.kubernetes.io/region": "us-east-1"})]


LEGACY_CONFIG = """address-pools:
- name: default
  protocol: layer2
  addresses:
  - 192.168.1.240-192.168.1.250
"""


def legacy_configmap(namespace="metallb-system"):
    return configmap(namespace, "config", {"config": LEGACY_CONFIG})


def without_webhooks(documents):
    """An upstream manifest's objects minus its ValidatingWebhookConfiguration: no controller serves it here."""
    return [d for d in documents if d and d["kind"] != "ValidatingWebhookConfiguration"]


def reader_without_nodes(user):
    """RBAC for a user who may read what preflight reads, except Nodes."""
    rules = [
        {"apiGroups": [""], "resources": ["namespaces", "pods", "configmaps", "services"], "verbs": ["list"]},
        {"apiGroups": ["apps"], "resources": ["daemonsets", "deployments"], "verbs": ["list"]},
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["servicecidrs", "networkpolicies"], "verbs": ["list"]},
    ]
    return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "preflight-no-nodes"}, "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "preflight-no-nodes"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "preflight-no-nodes"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}]


def deny_metallb_crds():
    """An admission policy that refuses MetalLB's CRDs: what a server-side dry run catches and RBAC does not."""
    return [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
         "metadata": {"name": "no-metallb-crds"},
         "spec": {"failurePolicy": "Fail",
                  "matchConstraints": {"resourceRules": [{
                      "apiGroups": ["apiextensions.k8s.io"], "apiVersions": ["v1"],
                      "operations": ["CREATE", "UPDATE"], "resources": ["customresourcedefinitions"]}]},
                  "validations": [{"expression": "object.spec.group != 'metallb.io'",
                                   "message": "MetalLB CRDs are not allowed on this cluster"}]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
         "metadata": {"name": "no-metallb-crds"},
         "spec": {"policyName": "no-metallb-crds", "validationActions": ["Deny"]}},
    ]


PROBE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "probes.metallb.io"},
    "spec": {"group": "metallb.io", "scope": "Namespaced",
             "names": {"plural": "probes", "singular": "probe", "kind": "Probe"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object"}}}]}}


def wait_for_crd_policy(kubectl, enforced, timeout=60):
    """The API server loads admission policies asynchronously: wait until deny_metallb_crds is (not) in force."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run([KUBECTL, "--kubeconfig", kubectl.kubeconfig, "create", "--dry-run=server", "-f", "-"],
                              input=json.dumps(PROBE_CRD), capture_output=True, text=True, timeout=60)
        if ("not allowed on this cluster" in done.stderr) == enforced:
            return
        time.sleep(0.5)
    raise AssertionError(f"the admission policy was not {'in force' if enforced else 'lifted'} after {timeout}s")
