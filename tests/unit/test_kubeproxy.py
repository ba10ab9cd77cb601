"""core/kubeproxy: locating kube-proxy's configuration, reading mode and strictARP, the verdict for MetalLB."""

import json

import pytest

from metallb_plugin.core import kubeproxy as kp

# What `kubeadm init` (v1.30+) writes into kube-system/kube-proxy config.conf: every field, defaulted.
KUBEADM = """\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: MODE
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
"""


def kubeadm(mode='""', strict="false"):
    return KUBEADM.replace("mode: MODE", f"mode: {mode}").replace("strictARP: false", f"strictARP: {strict}")


def configmap(name, data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "kube-system"},
            "data": data}


def node(name="n1", kubelet="v1.30.2", labels=None, annotations=None, provider=None):
    obj = {"metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
           "spec": {}, "status": {"nodeInfo": {"kubeletVersion": kubelet}}}
    if provider:
        obj["spec"]["providerID"] = provider
    return obj


def pod(name, argv, labels=None):
    return {"metadata": {"name": name, "namespace": "kube-system", "labels": labels or {}},
            "spec": {"containers": [{"name": "kube-proxy", "command": argv}]}}


def kubeadm_daemonset(extra_args=()):
    return {"metadata": {"name": "kube-proxy", "namespace": "kube-system"}, "spec": {"template": {"spec": {
        "containers": [{"name": "kube-proxy", "command": ["/usr/local/bin/kube-proxy",
                                                          "--config=/var/lib/kube-proxy/config.conf",
                                                          "--hostname-override=$(NODE_NAME)", *extra_args],
                        "volumeMounts": [{"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"}]}],
        "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}]}}}}


# ------------------------------------------------------------------------------------------- small facts


@pytest.mark.parametrize("configured, mode", [
    ("", "iptables"), ("ipvs", "ipvs"), ("IPVS", "ipvs"), (" nftables ", "nftables"), ("iptables", "iptables"),
    ("kernelspace", "kernelspace"), (None, None),
])
def test_effective_mode(configured, mode):
    assert kp.effective_mode(configured) == mode


@pytest.mark.parametrize("mode, strict, needed", [
    ("ipvs", False, True), ("ipvs", None, True), ("ipvs", True, False), ("iptables", False, False),
    ("nftables", False, False), (None, False, None), (None, True, None),
])
def test_needs_strict_arp(mode, strict, needed):
    assert kp.needs_strict_arp(mode, strict) is needed


@pytest.mark.parametrize("argv, expected", [
    (["kube-proxy", "--proxy-mode=ipvs", "--ipvs-strict-arp"], ("ipvs", True, None)),
    (["kube-proxy", "--proxy-mode", "ipvs", "--ipvs-strict-arp=false"], ("ipvs", False, None)),
    (["kube-proxy", "-proxy-mode=nftables", "--config", "/c.yaml"], ("nftables", None, "/c.yaml")),
    (["kube-proxy", "--ipvs-strict-arp=True", "--config=/var/lib/kube-proxy/config.conf"],
     (None, True, "/var/lib/kube-proxy/config.conf")),
    (["kube-proxy", "--v=2"], (None, None, None)),
    ([], (None, None, None)),
])
def test_proxy_flags(argv, expected):
    assert kp.proxy_flags(argv) == expected


def test_node_args_proxy_flags_both_forms():
    argv = ["server", "--kube-proxy-arg", "proxy-mode=ipvs", "--kube-proxy-arg=ipvs-strict-arp=true",
            "--disable", "servicelb"]
    assert kp.node_args_proxy_flags(argv) == ("ipvs", True, None)
    assert kp.node_args_proxy_flags(["server", "--disable=traefik"]) == (None, None, None)


@pytest.mark.parametrize("nodes, distro", [
    ([node(kubelet="v1.30.2+k3s1")], "k3s"),
    ([node(labels={"node.kubernetes.io/instance-type": "k3s"})], "k3s"),
    ([node(annotations={"k3s.io/node-args": "[]"})], "k3s"),
    ([node(kubelet="v1.30.2+rke2r1", annotations={"rke2.io/node-args": "[]"})], "rke2"),
    ([node(labels={"microk8s.io/cluster": "true"})], "microk8s"),
    ([node(kubelet="v1.30.2+k0s")], "k0s"),
    ([node(kubelet="v1.30.2-eks-036c24b")], "eks"),
    ([node(provider="kind://docker/kind/kind-control-plane")], "kind"),
    ([node()], ""),
    ([], ""),
])
def test_distribution(nodes, distro):
    assert kp.distribution(nodes) == distro


# ------------------------------------------------------------------------------------------- reading


@pytest.mark.parametrize("text, expected", [
    (kubeadm(), ("", False)),
    (kubeadm("ipvs"), ("ipvs", False)),
    (kubeadm("ipvs", "true"), ("ipvs", True)),
    (kubeadm('"ipvs"', "yes"), ("ipvs", True)),
    ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n", ("ipvs", False)),
    ("kind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  scheduler: rr\n", ("ipvs", False)),
    ("kind: KubeProxyConfiguration\nmode: ipvs\nipvs: {strictARP: true}\n", ("ipvs", True)),
    ("kind: KubeProxyConfiguration\nmode:\nipvs:\n", ("", False)),
    ("mode: ipvs\r\nipvs:\r\n  strictARP: true\r\n", ("ipvs", True)),
    ("kind: KubeletConfiguration\n---\nkind: KubeProxyConfiguration\nmode: ipvs\n", ("ipvs", False)),
])
def test_read_config(text, expected):
    assert kp.read_config(text) == expected


@pytest.mark.parametrize("text, problem", [
    ("", "empty"),
    ("mode: [ipvs\n", "not valid YAML"),
    ("- a\n- b\n", "not a YAML mapping"),
    ("kind: KubeProxyConfiguration\nmode: 3\n", "`mode` is 3"),
    ("kind: KubeProxyConfiguration\nipvs: [strictARP]\n", "`ipvs` is list"),
    ("kind: KubeProxyConfiguration\nipvs:\n  strictARP: maybe\n", "ipvs.strictARP is 'maybe'"),
    ("kind: KubeProxyConfiguration\n---\nkind: KubeProxyConfiguration\n", "more than one"),
    ("kind: KubeletConfiguration\n---\nkind: Other\n", "no KubeProxyConfiguration"),
])
def test_read_config_refuses(text, problem):
    with pytest.raises(kp.ConfigError, match=problem):
        kp.read_config(text)


def test_invalid_yaml_names_the_line():
    with pytest.raises(kp.ConfigError, match=r"at line 4, column 1"):
        kp.read_config("kind: KubeProxyConfiguration\nipvs:\n  strictARP: [true\n")


# ------------------------------------------------------------------------------------------- inspect


def test_kubeadm_iptables_default():
    info = kp.inspect(nodes=[node()], configmaps=[configmap("kube-proxy", {"config.conf": kubeadm(),
                                                                            "kubeconfig.conf": "x"})],
                      daemonset=kubeadm_daemonset())
    assert (info.distribution, info.configured_mode, info.mode, info.strict_arp) == ("kubeadm", "", "iptables", False)
    assert info.needs_change is False
    assert info.editable
    assert info.location == kp.Location("ConfigMap", "kube-system", "kube-proxy", "config.conf")
    assert "does not need strict ARP" in info.message


def test_kubeadm_ipvs_needs_change_and_json_shape():
    info = kp.inspect(nodes=[node()], configmaps=[configmap("kube-proxy", {"config.conf": kubeadm("ipvs")})])
    assert info.needs_change is True
    doc = info.as_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert doc == {
        "distribution": "kubeadm",
        "location": {"kind": "ConfigMap", "namespace": "kube-system", "name": "kube-proxy", "key": "config.conf",
                     "description": "ConfigMap kube-system/kube-proxy, key config.conf"},
        "editable": True, "configuredMode": "ipvs", "mode": "ipvs", "strictARP": False,
        "metallbNeedsChange": True,
        "message": "kube-proxy runs in IPVS mode without strict ARP: MetalLB needs ipvs.strictARP: true",
        "hint": "", "problem": "", "notes": [],
    }


def test_kind_and_eks():
    kind = kp.inspect(nodes=[node(provider="kind://docker/kind/kind-control-plane")],
                      configmaps=[configmap("kube-proxy", {"config.conf": kubeadm("ipvs", "true")})])
    assert (kind.distribution, kind.needs_change) == ("kind", False)
    eks = kp.inspect(nodes=[node(kubelet="v1.29.0-eks-5e0fdde")],
                     configmaps=[configmap("kube-proxy-config", {"config": kubeadm("iptables")})])
    assert eks.distribution == "eks"
    assert eks.location == kp.Location("ConfigMap", "kube-system", "kube-proxy-config", "config")
    assert eks.mode == "iptables"


def test_eks_shaped_configmap_without_node_hint():
    info = kp.inspect(configmaps=[configmap("kube-proxy-config", {"config": kubeadm("ipvs")})])
    assert (info.distribution, info.location.name, info.needs_change) == ("eks", "kube-proxy-config", True)


def test_daemonset_mount_finds_unusual_configmap():
    ds = kubeadm_daemonset()
    ds["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] = "proxy-settings"
    ds["spec"]["template"]["spec"]["containers"][0]["command"][1] = "--config=/var/lib/kube-proxy/proxy.yaml"
    info = kp.inspect(configmaps=[configmap("proxy-settings", {"proxy.yaml": kubeadm("ipvs")})], daemonset=ds)
    assert info.location == kp.Location("ConfigMap", "kube-system", "proxy-settings", "proxy.yaml")
    assert (info.distribution, info.needs_change) == ("unknown", True)


def test_daemonset_flags_contradicting_the_file_are_noted():
    info = kp.inspect(configmaps=[configmap("kube-proxy", {"config.conf": kubeadm("ipvs")})],
                      daemonset=kubeadm_daemonset(["--ipvs-strict-arp=true"]))
    assert info.notes == ("the kube-proxy DaemonSet also passes --ipvs-strict-arp=true, which differs from the "
                          "configuration file",)


def test_quoted_boolean_is_read_with_a_note():
    text = "kind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: \"true\"\n"
    info = kp.inspect(configmaps=[configmap("kube-proxy", {"config.conf": text})])
    assert info.strict_arp is True
    assert 'quoted string "true"' in info.notes[0]


def test_malformed_configmap_is_a_problem_not_an_exception():
    info = kp.inspect(configmaps=[configmap("kube-proxy", {"config.conf": "mode: [ipvs\n"})])
    assert not info.editable
    assert info.needs_change is None
    assert info.problem.startswith("not valid YAML")
    assert info.message.startswith("ConfigMap kube-system/kube-proxy, key config.conf cannot be read: not valid")


def test_k3s_from_node_args():
    args = json.dumps(["server", "--kube-proxy-arg", "proxy-mode=ipvs", "--disable", "servicelb"])
    info = kp.inspect(nodes=[node(kubelet="v1.30.2+k3s1", annotations={"k3s.io/node-args": args})])
    assert (info.distribution, info.mode, info.strict_arp, info.needs_change) == ("k3s", "ipvs", False, True)
    assert not info.editable
    assert info.location.kind == "NodeArgs"
    assert "--kube-proxy-arg=ipvs-strict-arp=true" in info.hint
    assert "/etc/rancher/k3s/config.yaml" in info.hint


def test_k3s_default_is_iptables():
    info = kp.inspect(nodes=[node(annotations={"k3s.io/node-args": '["server"]'})])
    assert (info.mode, info.needs_change) == ("iptables", False)


def test_k3s_without_readable_annotation():
    info = kp.inspect(nodes=[node(kubelet="v1.30.2+k3s1")])
    assert (info.mode, info.needs_change) == (None, None)
    assert "k3s.io/node-args" in info.message


def test_rke2_static_pod_flags_win():
    pods = [pod("kube-proxy-n1", ["kube-proxy", "--proxy-mode=ipvs", "--ipvs-strict-arp=true"],
                {"component": "kube-proxy"})]
    info = kp.inspect(nodes=[node(kubelet="v1.30.2+rke2r1", annotations={"rke2.io/node-args": '["server"]'})],
                      pods=pods)
    assert (info.distribution, info.mode, info.strict_arp, info.needs_change) == ("rke2", "ipvs", True, False)
    assert "/etc/rancher/rke2/config.yaml" in info.hint


def test_microk8s():
    info = kp.inspect(nodes=[node(labels={"microk8s.io/cluster": "true"})],
                      configmaps=[configmap("kube-proxy", {"config.conf": kubeadm("ipvs")})])
    assert (info.distribution, info.mode, info.needs_change) == ("microk8s", None, None)
    assert "/var/snap/microk8s/current/args/kube-proxy" in info.hint
    assert "--ipvs-strict-arp=true" in info.hint


@pytest.mark.parametrize("value", ["true", "strict", "True"])
def test_kube_proxy_less_cilium(value):
    info = kp.inspect(nodes=[node()], configmaps=[configmap("cilium-config", {"kube-proxy-replacement": value})])
    assert (info.distribution, info.mode, info.needs_change) == ("cilium", None, False)
    assert info.location.kind == "CiliumConfig"
    assert "LB-IPAM" in info.hint


def test_cilium_beside_kube_proxy_is_kube_proxy():
    info = kp.inspect(configmaps=[configmap("cilium-config", {"kube-proxy-replacement": "true"}),
                                  configmap("kube-proxy", {"config.conf": kubeadm("ipvs")})],
                      daemonset=kubeadm_daemonset())
    assert (info.distribution, info.needs_change) == ("kubeadm", True)


def test_cilium_partial_replacement_is_not_kube_proxy_less():
    info = kp.inspect(configmaps=[configmap("cilium-config", {"kube-proxy-replacement": "false"})])
    assert info.location.kind == "Unknown"


def test_flag_configured_pods_fallback():
    info = kp.inspect(nodes=[node()], pods=[pod("kube-proxy-abcde", ["kube-proxy", "--proxy-mode=ipvs"],
                                                {"k8s-app": "kube-proxy"}), pod("coredns-1", ["coredns"])])
    assert info.location == kp.Location("PodArgs", "kube-system", "kube-proxy-abcde")
    assert (info.mode, info.strict_arp, info.needs_change) == ("ipvs", False, True)
    assert "--ipvs-strict-arp=true" in info.hint


def test_nothing_found():
    info = kp.inspect()
    assert (info.distribution, info.location.kind, info.needs_change) == ("unknown", "Unknown", None)
    assert info.hint == kp.UNKNOWN_HINT
