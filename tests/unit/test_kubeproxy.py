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
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "kube-system"},
        "data": data,
    }


def node(name="n1", kubelet="v1.30.2", labels=None, annotations=None, provider=None):
    obj = {
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
        "spec": {},
        "status": {"nodeInfo": {"kubeletVersion": kubelet}},
    }
    if provider:
        obj["spec"]["providerID"] = provider
    return obj


def pod(name, argv, labels=None):
    return {
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels or {}},
        "spec": {"containers": [{"name": "kube-proxy", "command": argv}]},
    }


def kubeadm_daemonset(extra_args=()):
    return {
        "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "kube-proxy",
                            "command": [
                                "/usr/local/bin/kube-proxy",
                                "--config=/var/lib/kube-proxy/config.conf",
                                "--hostname-override=$(NODE_NAME)",
                                *extra_args,
                            ],
                            "volumeMounts": [{"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"}],
                        }
                    ],
                    "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}],
                }
            }
        },
    }


# ------------------------------------------------------------------------------------------- small facts


@pytest.mark.parametrize(
    "configured, mode",
    [
        ("", "iptables"),
        ("ipvs", "ipvs"),
        ("IPVS", "ipvs"),
        (" nftables ", "nftables"),
        ("iptables", "iptables"),
        ("kernelspace", "kernelspace"),
        (None, None),
    ],
)
def test_effective_mode(configured, mode):
    assert kp.effective_mode(configured) == mode


@pytest.mark.parametrize(
    "mode, strict, needed",
    [
        ("ipvs", False, True),
        ("ipvs", None, True),
        ("ipvs", True, False),
        ("iptables", False, False),
        ("nftables", False, False),
        (None, False, None),
        (None, True, None),
    ],
)
def test_needs_strict_arp(mode, strict, needed):
    assert kp.needs_strict_arp(mode, strict) is needed


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["kube-proxy", "--proxy-mode=ipvs", "--ipvs-strict-arp"], ("ipvs", True, None)),
        (["kube-proxy", "--proxy-mode", "ipvs", "--ipvs-strict-arp=false"], ("ipvs", False, None)),
        (["kube-proxy", "-proxy-mode=nftables", "--config", "/c.yaml"], ("nftables", None, "/c.yaml")),
        (
            ["kube-proxy", "--ipvs-strict-arp=True", "--config=/var/lib/kube-proxy/config.conf"],
            (None, True, "/var/lib/kube-proxy/config.conf"),
        ),
        (["kube-proxy", "--v=2"], (None, None, None)),
        ([], (None, None, None)),
    ],
)
def test_proxy_flags(argv, expected):
    assert kp.proxy_flags(argv) == expected


def test_node_args_proxy_flags_both_forms():
    argv = [
        "server",
        "--kube-proxy-arg",
        "proxy-mode=ipvs",
        "--kube-proxy-arg=ipvs-strict-arp=true",
        "--disable",
        "servicelb",
    ]
    assert kp.node_args_proxy_flags(argv) == ("ipvs", True, None)
    assert kp.node_args_proxy_flags(["server", "--disable=traefik"]) == (None, None, None)


@pytest.mark.parametrize(
    "nodes, distro",
    [
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
    ],
)
def test_distribution(nodes, distro):
    assert kp.distribution(nodes) == distro


# ------------------------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    "text, expected",
    [
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
    ],
)
def test_read_config(text, expected):
    assert kp.read_config(text) == expected


READ_REFUSED = [
    ("", "empty"),
    ("mode: [ipvs\n", "not valid YAML"),
    ("- a\n- b\n", "not a YAML mapping"),
    ("kind: KubeProxyConfiguration\nmode: 3\n", "`mode` is 3"),
    ("kind: KubeProxyConfiguration\nipvs: [strictARP]\n", "`ipvs` is list"),
    ("kind: KubeProxyConfiguration\nipvs:\n  strictARP: maybe\n", "ipvs.strictARP is 'maybe'"),
    ("kind: KubeProxyConfiguration\n---\nkind: KubeProxyConfiguration\n", "more than one"),
    ("kind: KubeletConfiguration\n---\nkind: Other\n", "no KubeProxyConfiguration"),
    ("kind: KubeProxyConfiguration\nipvs: " + "[" * 500 + "]" * 500, "nested more than 200 levels deep"),
]


@pytest.mark.parametrize("text, problem", READ_REFUSED)
def test_read_config_refuses(text, problem):
    with pytest.raises(kp.ConfigError, match=problem):
        kp.read_config(text)


def test_invalid_yaml_names_the_line():
    with pytest.raises(kp.ConfigError, match=r"at line 4, column 1"):
        kp.read_config("kind: KubeProxyConfiguration\nipvs:\n  strictARP: [true\n")


# ------------------------------------------------------------------------------------------- inspect


def test_kubeadm_iptables_default():
    info = kp.inspect(
        nodes=[node()],
        configmaps=[configmap("kube-proxy", {"config.conf": kubeadm(), "kubeconfig.conf": "x"})],
        daemonset=kubeadm_daemonset(),
    )
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
        "location": {
            "kind": "ConfigMap",
            "namespace": "kube-system",
            "name": "kube-proxy",
            "key": "config.conf",
            "description": "ConfigMap kube-system/kube-proxy, key config.conf",
        },
        "editable": True,
        "configuredMode": "ipvs",
        "mode": "ipvs",
        "strictARP": False,
        "metallbNeedsChange": True,
        "message": "kube-proxy runs in IPVS mode without strict ARP: MetalLB needs ipvs.strictARP: true",
        "hint": "",
        "problem": "",
        "notes": [],
    }


def test_kind_and_eks():
    kind = kp.inspect(
        nodes=[node(provider="kind://docker/kind/kind-control-plane")],
        configmaps=[configmap("kube-proxy", {"config.conf": kubeadm("ipvs", "true")})],
    )
    assert (kind.distribution, kind.needs_change) == ("kind", False)
    eks = kp.inspect(
        nodes=[node(kubelet="v1.29.0-eks-5e0fdde")],
        configmaps=[configmap("kube-proxy-config", {"config": kubeadm("iptables")})],
    )
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
    info = kp.inspect(
        configmaps=[configmap("kube-proxy", {"config.conf": kubeadm("ipvs")})],
        daemonset=kubeadm_daemonset(["--ipvs-strict-arp=true"]),
    )
    assert info.notes == (
        "the kube-proxy DaemonSet also passes --ipvs-strict-arp=true, which differs from the configuration file",
    )


def test_quoted_boolean_is_read_with_a_note():
    text = 'kind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: "true"\n'
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
    pods = [
        pod("kube-proxy-n1", ["kube-proxy", "--proxy-mode=ipvs", "--ipvs-strict-arp=true"], {"component": "kube-proxy"})
    ]
    info = kp.inspect(
        nodes=[node(kubelet="v1.30.2+rke2r1", annotations={"rke2.io/node-args": '["server"]'})], pods=pods
    )
    assert (info.distribution, info.mode, info.strict_arp, info.needs_change) == ("rke2", "ipvs", True, False)
    assert "/etc/rancher/rke2/config.yaml" in info.hint


def test_microk8s():
    info = kp.inspect(
        nodes=[node(labels={"microk8s.io/cluster": "true"})],
        configmaps=[configmap("kube-proxy", {"config.conf": kubeadm("ipvs")})],
    )
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
    info = kp.inspect(
        configmaps=[
            configmap("cilium-config", {"kube-proxy-replacement": "true"}),
            configmap("kube-proxy", {"config.conf": kubeadm("ipvs")}),
        ],
        daemonset=kubeadm_daemonset(),
    )
    assert (info.distribution, info.needs_change) == ("kubeadm", True)


def test_cilium_partial_replacement_is_not_kube_proxy_less():
    info = kp.inspect(configmaps=[configmap("cilium-config", {"kube-proxy-replacement": "false"})])
    assert info.location.kind == "Unknown"


def test_flag_configured_pods_fallback():
    info = kp.inspect(
        nodes=[node()],
        pods=[
            pod("kube-proxy-abcde", ["kube-proxy", "--proxy-mode=ipvs"], {"k8s-app": "kube-proxy"}),
            pod("coredns-1", ["coredns"]),
        ],
    )
    assert info.location == kp.Location("PodArgs", "kube-system", "kube-proxy-abcde")
    assert (info.mode, info.strict_arp, info.needs_change) == ("ipvs", False, True)
    assert "--ipvs-strict-arp=true" in info.hint


def test_nothing_found():
    info = kp.inspect()
    assert (info.distribution, info.location.kind, info.needs_change) == ("unknown", "Unknown", None)
    assert info.hint == kp.UNKNOWN_HINT


# ------------------------------------------------------------------------------------------- the text edit


def one_splice(old, new):
    """(removed, inserted, offset): the single differing region of two texts (common prefix and suffix stripped)."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return old[prefix : len(old) - suffix], new[prefix : len(new) - suffix], prefix


def data(text):
    import yaml

    return list(yaml.safe_load_all(text))


def with_strict(text, value):
    """The data of `text` with ipvs.strictARP set, the way the edit must change it."""
    docs = data(text)
    target = next(
        d for d in docs if isinstance(d, dict) and d.get("kind", "KubeProxyConfiguration") == "KubeProxyConfiguration"
    )
    if not value and (target.get("ipvs") or {}).get("strictARP") is None:
        return docs  # absent means false: nothing to write
    if not isinstance(target.get("ipvs"), dict):
        target["ipvs"] = {}
    target["ipvs"]["strictARP"] = value
    return docs


def test_kubeadm_defaults_change_one_line():
    old = kubeadm("ipvs")
    new = kp.set_strict_arp(old, True)
    assert new == old.replace("  strictARP: false\n", "  strictARP: true\n")
    assert kp.set_strict_arp(new, False) == old
    assert kp.unified_diff(old, new, "kube-system/kube-proxy/config.conf") == (
        "--- a/kube-system/kube-proxy/config.conf\n"
        "+++ b/kube-system/kube-proxy/config.conf\n"
        "@@ -34,7 +34,7 @@\n"
        "   excludeCIDRs: null\n"
        "   minSyncPeriod: 0s\n"
        '   scheduler: ""\n'
        "-  strictARP: false\n"
        "+  strictARP: true\n"
        "   syncPeriod: 0s\n"
        "   tcpFinTimeout: 0s\n"
        "   tcpTimeout: 0s\n"
    )


def test_already_set_returns_the_same_text():
    old = kubeadm("ipvs", "true")
    assert kp.set_strict_arp(old, True) is old
    assert kp.unified_diff(old, old, "x") == ""


EDITS = [
    pytest.param(
        "kind: KubeProxyConfiguration\nmode: ipvs\n",
        "ipvs:\n  strictARP: true\nkind: KubeProxyConfiguration\nmode: ipvs\n",
        id="ipvs-absent",
    ),
    pytest.param(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nmode: ipvs\n",
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nipvs:\n  strictARP: true\nmode: ipvs\n",
        id="ipvs-absent-sorted-place",
    ),
    pytest.param(
        "apiVersion: v1alpha1\nconntrack:\n  min: 1\n",
        "apiVersion: v1alpha1\nconntrack:\n  min: 1\nipvs:\n  strictARP: true\n",
        id="ipvs-absent-appended-after-nested",
    ),
    pytest.param(
        "mode: ipvs\nipvs:\n  scheduler: rr\n",
        "mode: ipvs\nipvs:\n  scheduler: rr\n  strictARP: true\n",
        id="strictARP-absent-appended",
    ),
    pytest.param(
        "mode: ipvs\nipvs:\n  scheduler: rr\n  syncPeriod: 30s\n",
        "mode: ipvs\nipvs:\n  scheduler: rr\n  strictARP: true\n  syncPeriod: 30s\n",
        id="strictARP-absent-sorted-place",
    ),
    pytest.param(
        "mode: ipvs\nipvs:\n    scheduler: rr\nconntrack:\n    min: 1",
        "mode: ipvs\nipvs:\n    scheduler: rr\n    strictARP: true\nconntrack:\n    min: 1",
        id="four-space-indent-no-final-newline",
    ),
    pytest.param(
        "conntrack:\n    min: 1\n",
        "conntrack:\n    min: 1\nipvs:\n    strictARP: true\n",
        id="new-block-follows-indent",
    ),
    pytest.param(
        "kind: KubeProxyConfiguration\nzz: |\n  text\n",
        "ipvs:\n  strictARP: true\nkind: KubeProxyConfiguration\nzz: |\n  text\n",
        id="last-is-block-scalar",
    ),
    pytest.param(
        "kind: KubeProxyConfiguration\r\nmode: ipvs\r\nipvs:\r\n  strictARP: false\r\n",
        "kind: KubeProxyConfiguration\r\nmode: ipvs\r\nipvs:\r\n  strictARP: true\r\n",
        id="crlf",
    ),
    pytest.param(
        "kind: KubeProxyConfiguration\r\nmode: ipvs\r\nipvs:\r\n  scheduler: rr\r\n",
        "kind: KubeProxyConfiguration\r\nmode: ipvs\r\nipvs:\r\n  scheduler: rr\r\n  strictARP: true\r\n",
        id="crlf-added",
    ),
    pytest.param("mode: ipvs\nipvs: {}\n", "mode: ipvs\nipvs: {strictARP: true}\n", id="flow-empty"),
    pytest.param(
        "mode: ipvs\nipvs: {scheduler: rr}\n", "mode: ipvs\nipvs: {strictARP: true, scheduler: rr}\n", id="flow"
    ),
    pytest.param(
        "mode: ipvs\nipvs: {strictARP: false, scheduler: rr}\n",
        "mode: ipvs\nipvs: {strictARP: true, scheduler: rr}\n",
        id="flow-present",
    ),
    pytest.param(
        "mode: ipvs\nipvs:   # IPVS settings\n",
        "mode: ipvs\nipvs: {strictARP: true}   # IPVS settings\n",
        id="ipvs-empty-with-comment",
    ),
    pytest.param("mode: ipvs\nipvs: null\n", "mode: ipvs\nipvs: {strictARP: true}\n", id="ipvs-null"),
    pytest.param("mode: ipvs\nipvs: ~\n", "mode: ipvs\nipvs: {strictARP: true}\n", id="ipvs-tilde"),
    pytest.param("mode: ipvs\nipvs:\n  strictARP:\n", "mode: ipvs\nipvs:\n  strictARP: true\n", id="value-empty"),
    pytest.param(
        'mode: ipvs\nipvs:\n  strictARP: "false"  # quoted\n',
        "mode: ipvs\nipvs:\n  strictARP: true  # quoted\n",
        id="double-quoted",
    ),
    pytest.param(
        "mode: ipvs\nipvs:\n  strictARP: 'false'\n", "mode: ipvs\nipvs:\n  strictARP: true\n", id="single-quoted"
    ),
    pytest.param("mode: ipvs\nipvs:\n  strictARP: False\n", "mode: ipvs\nipvs:\n  strictARP: true\n", id="capitalised"),
    pytest.param("mode: ipvs\nipvs:\n  strictARP: no\n", "mode: ipvs\nipvs:\n  strictARP: true\n", id="yaml11-no"),
    pytest.param(
        "mode: ipvs\nipvs:\n  strictARP: !!bool false\n", "mode: ipvs\nipvs:\n  strictARP: true\n", id="tagged"
    ),
    pytest.param(
        '# written by hand\nmode: "ipvs"   # IPVS!\nipvs:\n  # MetalLB wants this\n  strictARP: false'
        " # see metallb.io\n  scheduler: 'rr'\n",
        '# written by hand\nmode: "ipvs"   # IPVS!\nipvs:\n  # MetalLB wants this\n  strictARP: true'
        " # see metallb.io\n  scheduler: 'rr'\n",
        id="comments-and-quoting-kept",
    ),
    pytest.param(
        "{kind: KubeProxyConfiguration, mode: ipvs}",
        "{ipvs: {strictARP: true}, kind: KubeProxyConfiguration, mode: ipvs}",
        id="flow-document",
    ),
    pytest.param(
        "kind: KubeletConfiguration\nipvs:\n  strictARP: false\n---\nkind: KubeProxyConfiguration\n"
        "mode: ipvs\n---\nkind: Other\n",
        "kind: KubeletConfiguration\nipvs:\n  strictARP: false\n---\nipvs:\n  strictARP: true\n"
        "kind: KubeProxyConfiguration\nmode: ipvs\n---\nkind: Other\n",
        id="multi-document",
    ),
    pytest.param(
        "---\nmode: ipvs\nipvs:\n  strictARP: false\n...\n",
        "---\nmode: ipvs\nipvs:\n  strictARP: true\n...\n",
        id="explicit-markers",
    ),
    pytest.param(
        "\ufeffmode: ipvs\nipvs:\n  strictARP: false\n",
        "\ufeffmode: ipvs\nipvs:\n  strictARP: true\n",
        id="byte-order-mark",
    ),
    pytest.param(
        "mode: ipvs\nipvs:\n  excludeCIDRs:\n  - 10.0.0.0/8\n  - 192.168.0.0/16\n",
        "mode: ipvs\nipvs:\n  excludeCIDRs:\n  - 10.0.0.0/8\n  - 192.168.0.0/16\n  strictARP: true\n",
        id="after-a-sequence",
    ),
    pytest.param(
        "mode: ipvs\nipvs:\n  udpTimeout: |\n    0s\n",
        "mode: ipvs\nipvs:\n  strictARP: true\n  udpTimeout: |\n    0s\n",
        id="before-a-block-scalar",
    ),
]


@pytest.mark.parametrize("old, new", EDITS)
def test_edit_shapes(old, new):
    assert kp.set_strict_arp(old, True) == new
    assert data(new) == with_strict(old, True)
    assert kp.read_config(new)[1] is True


@pytest.mark.parametrize("old, new", EDITS)
def test_edit_round_trip(old, new):
    back = kp.set_strict_arp(new, False)
    assert data(back) == with_strict(new, False)
    assert kp.read_config(back)[1] is False
    assert kp.set_strict_arp(back, False) is back


@pytest.mark.parametrize(
    "text, problem",
    READ_REFUSED
    + [
        ("mode: ipvs\nipvs:\n  strictARP: {value: true}\n", "ipvs.strictARP is {'value': True}"),
        ("mode: ipvs\nipvs:\n  strictARP: false\n  strictARP: false\n", "`strictARP` appears more than once"),
        ("mode: ipvs\nipvs:\n  scheduler: rr\nipvs:\n  scheduler: rr\n", "`ipvs` appears more than once"),
        ("base: &b {strictARP: false}\nmode: ipvs\nipvs:\n  <<: *b\n", "merge keys"),
        ("mode: ipvs\nipvs: &shared\n  strictARP: false\nother: *shared\n", "change more than ipvs.strictARP"),
        ("mode: ipvs\nipvs: &a {scheduler: rr}\n", "unexpected mapping layout"),
    ],
)
def test_edit_refuses(text, problem):
    with pytest.raises(kp.ConfigError, match=problem):
        kp.set_strict_arp(text, True)


def test_unified_diff_without_final_newline():
    diff = kp.unified_diff("a: 1", "a: 2", "cm/key")
    assert diff.endswith("-a: 1\n\\ No newline at end of file\n+a: 2\n\\ No newline at end of file\n")


# ------------------------------------------------------------------------------------------- property

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

KEYS = [
    "apiVersion",
    "bindAddress",
    "clusterCIDR",
    "conntrack",
    "iptables",
    "kind",
    "logging",
    "mode",
    "nftables",
    "oomScoreAdj",
    "portRange",
    "zzz",
]
IPVS_KEYS = ["excludeCIDRs", "minSyncPeriod", "scheduler", "syncPeriod", "tcpTimeout", "udpTimeout"]
SCALARS = [
    "0s",
    '""',
    "''",
    "null",
    "~",
    "0",
    "-999",
    "true",
    "false",
    '"quoted: yes"',
    "'single'",
    "10.0.0.0/8",
    "rr",
    "|\n{deeper}x\n",
    "[a, b]",
    "{k: v}",
]
STRICT = ["true", "false", "True", "FALSE", "yes", "no", '"true"', "'false'", "!!bool true", "", "null"]
COMMENTS = ["", "  # a comment", " #x"]


@st.composite
def configs(draw):
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    step = draw(st.sampled_from([2, 4]))
    pad = " " * step

    def scalar():
        text = draw(st.sampled_from(SCALARS))
        return text.replace("{deeper}", pad * 2)

    def entry(key, indent):
        comment = draw(st.sampled_from(COMMENTS))
        if draw(st.booleans()):
            return [f"{indent}{key}: {scalar()}{comment}"]
        return [f"{indent}{key}:{comment}", f"{indent}{pad}inner: {scalar()}"]

    lines = []
    if draw(st.booleans()):
        lines.append("# kube-proxy configuration")
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS)))
    ipvs_at = draw(st.integers(0, len(keys)))
    ipvs_shape = draw(st.sampled_from(["absent", "empty", "null", "flow", "block"]))
    for i, key in enumerate(keys + [None]):
        if i == ipvs_at and ipvs_shape != "absent":
            inner = draw(st.lists(st.sampled_from(IPVS_KEYS), unique=True))
            strict = draw(st.one_of(st.none(), st.sampled_from(STRICT)))
            if strict is not None:
                inner.insert(draw(st.integers(0, len(inner))), "strictARP")
            values = {
                k: (strict if k == "strictARP" else draw(st.sampled_from(["0s", "rr", '""', "null"]))) for k in inner
            }
            if ipvs_shape == "empty":
                lines.append("ipvs:" + draw(st.sampled_from(COMMENTS)))
            elif ipvs_shape == "null":
                lines.append("ipvs: null")
            elif ipvs_shape == "flow":
                lines.append("ipvs: {" + ", ".join(f"{k}: {v or 'null'}" for k, v in values.items()) + "}")
            else:
                lines.append("ipvs:" + draw(st.sampled_from(COMMENTS)))
                if not values:
                    values = {"scheduler": "rr"}
                lines += [f"{pad}{k}: {v}".rstrip() + draw(st.sampled_from(COMMENTS)) for k, v in values.items()]
        if key == "kind":
            lines.append("kind: KubeProxyConfiguration")
        elif key == "mode":
            lines.append("mode: " + draw(st.sampled_from(["ipvs", '""', "iptables", "'nftables'", ""])))
        elif key is not None:
            lines += entry(key, "")
    if not lines or all(line.startswith("#") for line in lines):
        lines.append("mode: ipvs")
    text = nl.join(lines) + (nl if draw(st.booleans()) else "")
    before = draw(st.sampled_from(["", f"kind: KubeletConfiguration{nl}---{nl}"]))
    after = draw(st.sampled_from(["", f"---{nl}kind: Other{nl}ipvs:{nl}{pad}strictARP: false{nl}"]))
    if after and not text.endswith(nl):
        text += nl
    if before or after:  # several documents: the target must say what it is
        if "kind: KubeProxyConfiguration" not in text:
            text = f"kind: KubeProxyConfiguration{nl}" + text
    return before + text + after


@settings(max_examples=400, deadline=None)
@given(configs(), st.booleans())
def test_property_only_strict_arp_changes(text, value):
    new = kp.set_strict_arp(text, value)
    assert data(new) == with_strict(text, value)
    assert kp.read_config(new)[1] is value
    removed, inserted, at = one_splice(text, new)
    assert "\n" not in removed  # at most one old value token goes; everything around it stays byte-identical
    assert any(removed in token for token in STRICT + ["null", "~"]), removed
    if new is not text:
        assert ("true" if value else "false") in new[max(0, at - 5) : at + len(inserted) + 5]
    assert "\r\n" not in text or "\n" not in inserted.replace("\r\n", "")  # keeps CRLF line endings
    assert kp.set_strict_arp(new, value) is new


# ------------------------------------------------------------------------------------------- small helpers


@pytest.mark.parametrize(
    "text, written",
    [
        ("mode: ipvs\nipvs:\n  strictARP: true\n", True),
        ("mode: ipvs\nipvs:\n  strictARP: false\n", False),
        ("mode: ipvs\nipvs:\n  scheduler: rr\n", None),
        ("mode: ipvs\n", None),
        ('mode: ipvs\nipvs:\n  strictARP: "true"\n', "true"),
    ],
)
def test_written_strict_arp(text, written):
    assert kp.written_strict_arp(text) == written


@pytest.mark.parametrize("text", ["mode: ipvs\n", "mode: ipvs\nipvs:\n", "mode: ipvs\nipvs: {scheduler: rr}\n"])
def test_disabling_an_absent_value_changes_nothing(text):
    assert kp.set_strict_arp(text, False) is text  # absent is kube-proxy's default, false


def test_rollout_pending():
    ds = {
        "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}},
    }

    def proxy_pod(name, node, created, ready=True, labels=None, namespace="kube-system", deleting=False):
        meta = {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": created,
            "labels": {"k8s-app": "kube-proxy"} if labels is None else labels,
        }
        if deleting:
            meta["deletionTimestamp"] = "2026-07-01T10:00:30Z"
        return {
            "metadata": meta,
            "spec": {"nodeName": node},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
        }

    restart = "2026-07-01T10:00:00Z"
    pods = [
        proxy_pod("old", "n1", "2026-06-01T00:00:00Z"),
        proxy_pod("same-second", "n2", restart),
        proxy_pod("new-ready", "n3", "2026-07-01T10:00:05Z"),
        proxy_pod("new-unready", "n4", "2026-07-01T10:00:05Z", ready=False),
        proxy_pod("old-going", "n5", "2026-06-01T00:00:00Z", deleting=True),
        proxy_pod("other-app", "n6", "2026-06-01T00:00:00Z", labels={"k8s-app": "coredns"}),
        proxy_pod("other-ns", "n7", "2026-06-01T00:00:00Z", namespace="default"),
        {"metadata": {"name": "unscheduled", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}}},
    ]
    assert kp.rollout_pending(ds, pods, restart) == ["n1", "n2", "n4", "n5"]
    assert kp.rollout_pending(ds, [], restart) == []
