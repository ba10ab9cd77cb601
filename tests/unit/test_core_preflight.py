"""Every preflight check on hand-built object sets (raw dicts as the API server returns them)."""

import json

import pytest

from metallb_plugin import errors
from metallb_plugin.cli import parse
from metallb_plugin.commands import preflight as command
from metallb_plugin.core import ipam
from metallb_plugin.core import objects as k8s
from metallb_plugin.core import preflight as pf
from metallb_plugin.core.checks import FAIL, OK, SKIP, WARN, Skip, to_document
from metallb_plugin.core.preflight import (
    addons,
    addresses,
    installs,
    kubernetes,
    loadbalancers,
    nodes,
    permissions,
    policies,
    proxy,
)
from metallb_plugin.core.preflight import facts as pf_facts
from metallb_plugin.core.snapshot import Unreadable, unreadable_reason
from unit.inprocess import context

# --------------------------------------------------------------------------------------------- object builders


def meta(name, namespace=None, labels=None, annotations=None, owners=None):
    data = {"name": name}
    if namespace:
        data["namespace"] = namespace
    if labels:
        data["labels"] = labels
    if annotations:
        data["annotations"] = annotations
    if owners:
        data["ownerReferences"] = [{"kind": k, "name": "x"} for k in owners]
    return data


def node(
    name, labels=None, annotations=None, taints=None, addresses=None, provider=None, pod_cidrs=None, os_name="linux"
):
    spec = {}
    if taints:
        spec["taints"] = taints
    if provider:
        spec["providerID"] = provider
    if pod_cidrs:
        spec["podCIDRs"] = pod_cidrs
    labels = dict({"kubernetes.io/os": os_name}, **(labels or {}))
    return {
        "metadata": meta(name, labels=labels, annotations=annotations),
        "spec": spec,
        "status": {"addresses": [{"type": t, "address": a} for t, a in (addresses or [])]},
    }


def container(name="main", image="busybox", env=None, args=None):
    return {
        "name": name,
        "image": image,
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
        "args": args or [],
    }


def workload(kind, namespace, name, containers=None, labels=None, volumes=None):
    return {
        "kind": kind,
        "metadata": meta(name, namespace, labels),
        "spec": {"template": {"spec": {"containers": containers or [container()], "volumes": volumes or []}}},
    }


def daemonset(namespace, name, **kw):
    return workload("DaemonSet", namespace, name, **kw)


def deployment(namespace, name, **kw):
    return workload("Deployment", namespace, name, **kw)


def pod(namespace, name, containers, owners=None):
    return {"metadata": meta(name, namespace, owners=owners), "spec": {"containers": containers}}


def configmap(namespace, name, data):
    return {"metadata": meta(name, namespace), "data": data}


def service(
    namespace, name, ips=(), annotations=None, lb_class=None, kind="LoadBalancer", cluster_ip=None, conditions=None
):
    spec = {"type": kind}
    if lb_class:
        spec["loadBalancerClass"] = lb_class
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
        spec["clusterIPs"] = [cluster_ip]
    status = {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}
    if conditions:
        status["conditions"] = conditions
    return {"metadata": meta(name, namespace, annotations=annotations), "spec": spec, "status": status}


def crd(name, group=None, versions=(("v1", True),)):
    return {
        "metadata": {"name": name},
        "spec": {
            "group": group or name.split(".", 1)[1],
            "versions": [{"name": v, "served": True, "storage": storage} for v, storage in versions],
        },
    }


def namespace(name, labels=None):
    return {"metadata": meta(name, labels=labels)}


def policy(name, selector, ingress=None, types=None):
    spec = {"podSelector": selector}
    if ingress is not None:
        spec["ingress"] = ingress
    if types:
        spec["policyTypes"] = types
    return {"metadata": meta(name, "metallb-system"), "spec": spec}


def facts(**objects):
    """Facts where every source was read and is empty unless given; CRD-backed kinds are absent (None)."""
    given = {"namespace", "mode", "tag", "server", "server_error", "addresses", "permissions", "manifest"}
    options = {k: objects.pop(k) for k in list(objects) if k in given}
    result = pf.Facts(**options)
    result.server = options.get("server", {"major": "1", "minor": "37", "gitVersion": "v1.37.2"})
    for source in pf.SOURCES:
        result.objects[source.key] = None if (source.crd or source.optional) else []
    result.objects.update(objects)
    return result


def run(check, f):
    """(status, message, details) of one check function, Skip included."""
    try:
        result = check(f)
    except Skip as why:
        return SKIP, str(why), ()
    return result.status, result.message, result.details


FORBIDDEN = Unreadable("no permission to list nodes")

# --------------------------------------------------------------------------------------------- Kubernetes


@pytest.mark.parametrize(
    "server, expected",
    [
        ({"major": "1", "minor": "27+", "gitVersion": "v1.27.3-eks-1"}, (1, 27)),
        ({"gitVersion": "v1.30.1+k3s1"}, (1, 30)),
        ({"major": "", "minor": "", "gitVersion": "v1.19.0"}, (1, 19)),
        ({"gitVersion": "weird"}, None),
        (None, None),
    ],
)
def test_kubernetes_version(server, expected):
    assert k8s.kubernetes_version(server) == expected


def test_kubernetes_version_check():
    old = facts(server={"gitVersion": "v1.20.4"})
    status, message, _ = run(kubernetes.check_kubernetes_version, old)
    assert status == FAIL
    assert "v1.20.4 is older than 1.21, the oldest that MetalLB v0.16.1 supports" in message
    old.tag = "v0.13.12"  # no documented floor before v0.14.2, but no CEL either
    assert run(kubernetes.check_kubernetes_version, old)[0] == WARN
    assert run(kubernetes.check_kubernetes_version, facts(server={"gitVersion": "v1.24.0"}))[0] == WARN
    status, _, details = run(kubernetes.check_kubernetes_version, facts())
    assert status == OK and details == ("Kubernetes v1.37.2; MetalLB v0.16.1 needs 1.21 or newer",)
    assert run(kubernetes.check_kubernetes_version, facts(server={}))[0] == SKIP


# --------------------------------------------------------------------------------------------- existing installs

CONTROLLER_LABELS = {"app": "metallb", "component": "controller"}
SPEAKER_LABELS = {"app": "metallb", "component": "speaker"}
HELM = {"app.kubernetes.io/name": "metallb", "app.kubernetes.io/instance": "lb", "app.kubernetes.io/managed-by": "Helm"}


def metallb(ns, version="v0.14.9", helm=False):
    labels_c = dict(HELM, **{"app.kubernetes.io/component": "controller"}) if helm else CONTROLLER_LABELS
    labels_s = dict(HELM, **{"app.kubernetes.io/component": "speaker"}) if helm else SPEAKER_LABELS
    return {
        "deployments": [
            deployment(
                ns,
                "lb-controller" if helm else "controller",
                labels=labels_c,
                containers=[container("controller", f"quay.io/metallb/controller:{version}")],
            )
        ],
        "daemonsets": [
            daemonset(
                ns,
                "lb-speaker" if helm else "speaker",
                labels=labels_s,
                containers=[container("speaker", f"quay.io/metallb/speaker:{version}")],
            )
        ],
    }


def test_no_existing_install():
    assert run(installs.check_existing_install, facts()) == (OK, "", ("no MetalLB controller or speaker found",))


def test_existing_manifest_install_in_the_namespace():
    status, message, details = run(installs.check_existing_install, facts(**metallb("metallb-system")))
    assert status == WARN
    assert message == (
        "MetalLB v0.14.9 is already installed in metallb-system: kubectl metallb install would upgrade it to v0.16.1"
    )
    assert details == ("metallb-system: MetalLB v0.14.9 (manifest, native backend)",)


def test_existing_install_version_words():
    assert installs._change("v0.16.1", "v0.16.1") == "re-apply the same release"
    assert installs._change("v0.16.1", "v0.15.3") == "downgrade it to v0.15.3"
    assert installs._change(None, "v0.15.3") == "replace it with v0.15.3"


def test_existing_helm_install():
    status, message, _ = run(installs.check_existing_install, facts(**metallb("metallb-system", helm=True)))
    assert status == WARN and "by Helm release lb: upgrade it with helm" in message


def test_install_in_another_namespace_fails():
    status, message, _ = run(installs.check_existing_install, facts(**metallb("lb")))
    assert status == FAIL
    assert "already installed in namespace lb" in message and "(use -n lb)" in message


def test_operator_without_metallb():
    f = facts(deployments=[deployment("operators", "metallb-operator-controller-manager")])
    status, message, _ = run(installs.check_existing_install, f)
    assert status == WARN and "the MetalLB operator runs (operators/metallb-operator-controller-manager)" in message


def test_existing_install_skipped_without_permission():
    f = facts(deployments=Unreadable("no permission to list Deployments in all namespaces"))
    assert run(installs.check_existing_install, f) == (SKIP, "no permission to list Deployments in all namespaces", ())


LEGACY = "address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.168.1.240-192.168.1.250\n"


def test_legacy_configmap():
    f = facts(
        legacy_configmaps=[
            configmap("metallb-system", "config", {"config": LEGACY}),
            configmap("app", "config", {"config": "unrelated: true"}),
            configmap("other", "config", {"settings": "x"}),
        ]
    )
    status, message, details = run(installs.check_legacy_config, f)
    assert status == WARN
    assert message.startswith("ConfigMap metallb-system/config holds a MetalLB <= 0.12 configuration")
    assert details == ("kubectl metallb pools migrate --from-configmap metallb-system/config",)
    assert run(installs.check_legacy_config, facts(legacy_configmaps=f.objects["legacy_configmaps"][1:]))[0] == OK


def test_microk8s():
    f = facts(nodes=[node("mk", labels={"microk8s.io/cluster": "true"})])
    assert run(installs.check_microk8s, f)[0] == WARN
    assert run(installs.check_microk8s, facts(nodes=[node("a")]))[0] == OK


# --------------------------------------------------------------------------------------------- competing LBs


def k3s_node(name, args, key="k3s.io/node-args"):
    return node(name, annotations={key: json.dumps(args)})


@pytest.mark.parametrize(
    "args, enabled",
    [
        (["server"], True),
        (["server", "--disable", "traefik"], True),
        (["server", "--disable", "servicelb"], False),
        (["server", "--disable=traefik,servicelb"], False),
        (["server", "--no-deploy", "servicelb"], False),
        (["server", "--disable-cloud-controller"], False),
        (["agent", "--server", "https://x:6443"], False),
    ],
)
def test_k3s_node_args(args, enabled):
    assert loadbalancers.servicelb_nodes([k3s_node("n1", args)]) == (["n1"] if enabled else [])


def test_rke2_servicelb_is_opt_in():
    assert loadbalancers.servicelb_nodes([k3s_node("r", ["server"], "rke2.io/node-args")]) == []
    assert loadbalancers.servicelb_nodes([k3s_node("r", ["server", "--enable-servicelb"], "rke2.io/node-args")]) == [
        "r"
    ]


def test_servicelb_daemonsets_fail():
    svclb = daemonset(
        "kube-system", "svclb-traefik-1a2b3c4d", labels={"svccontroller.k3s.cattle.io/svcname": "traefik"}
    )
    status, message, details = run(loadbalancers.check_servicelb, facts(daemonsets=[svclb]))
    assert status == FAIL and "(1 svclb DaemonSets)" in message
    assert details == ("kube-system/svclb-traefik-1a2b3c4d",)
    status, message, _ = run(loadbalancers.check_servicelb, facts(nodes=[k3s_node("srv", ["server"])]))
    assert status == FAIL and "enabled on srv" in message
    assert (
        run(loadbalancers.check_servicelb, facts(nodes=[k3s_node("srv", ["server", "--disable=servicelb"])]))[0] == OK
    )


KUBE_VIP = "ghcr.io/kube-vip/kube-vip:v0.8.0"


def test_kube_vip_services_mode():
    ds = daemonset(
        "kube-system",
        "kube-vip-ds",
        containers=[container("kube-vip", KUBE_VIP, env={"cp_enable": "true", "svc_enable": "true"})],
    )
    status, message, details = run(loadbalancers.check_kube_vip, facts(daemonsets=[ds]))
    assert status == FAIL and "kube-vip serves LoadBalancer Services" in message
    assert details == ("kube-system/kube-vip-ds: kube-vip with svc_enable=true",)


def test_kube_vip_control_plane_only_and_class_only():
    static = pod(
        "kube-system", "kube-vip-cp1", [container("kube-vip", KUBE_VIP, env={"cp_enable": "true"})], owners=["Node"]
    )
    classy = pod(
        "kube-system",
        "kube-vip-cp2",
        [container("kube-vip", KUBE_VIP, env={"svc_enable": "true", "lb_class_only": "true"})],
        owners=["Node"],
    )
    status, _, details = run(loadbalancers.check_kube_vip, facts(pods=[static, classy]))
    assert status == OK
    assert details == (
        "kube-vip runs for the control-plane address only (kube-system/kube-vip-cp1, kube-system/kube-vip-cp2)",
    )


def test_kube_vip_cloud_provider():
    f = facts(
        deployments=[
            deployment(
                "kube-system",
                "kube-vip-cloud-provider",
                containers=[container("p", "ghcr.io/kube-vip/kube-vip-cloud-provider:v0.0.10")],
            )
        ]
    )
    status, _, details = run(loadbalancers.check_kube_vip, f)
    assert status == FAIL
    assert details == (
        "kube-system/kube-vip-cloud-provider: kube-vip-cloud-provider (hands out LoadBalancer addresses)",
    )


CILIUM_CRD = crd("ciliumloadbalancerippools.cilium.io", versions=(("v2alpha1", False), ("v2", True)))


def cilium_pool(name, cidr, selector=None):
    spec = {"blocks": [{"cidr": cidr}]}
    if selector:
        spec["serviceSelector"] = selector
    return {"metadata": {"name": name}, "spec": spec}


def test_cilium_lb_ipam():
    assert run(loadbalancers.check_cilium_lbipam, facts()) == (OK, "", ())
    dormant = facts(crds=[CILIUM_CRD], ciliumpools=[])
    assert run(loadbalancers.check_cilium_lbipam, dormant)[2] == (
        "Cilium LB-IPAM is installed but dormant: no CiliumLoadBalancerIPPool exists",
    )
    active = facts(crds=[CILIUM_CRD], ciliumpools=[cilium_pool("blue", "10.0.10.0/24")])
    status, message, details = run(loadbalancers.check_cilium_lbipam, active)
    assert status == FAIL and "from 1 CiliumLoadBalancerIPPool(s)" in message
    assert details == ("blue: 10.0.10.0/24",)
    scoped = facts(crds=[CILIUM_CRD], ciliumpools=[cilium_pool("red", "10.0.11.0/24", {"matchLabels": {"c": "r"}})])
    assert run(loadbalancers.check_cilium_lbipam, scoped)[0] == WARN
    off = facts(
        crds=[CILIUM_CRD],
        ciliumpools=[cilium_pool("blue", "10.0.10.0/24")],
        configmaps=[configmap("kube-system", "cilium-config", {"enable-lb-ipam": "false"})],
    )
    assert run(loadbalancers.check_cilium_lbipam, off)[0] == OK
    assert k8s.crd_version(CILIUM_CRD) == "v2"


def test_cloud_provider():
    assert run(loadbalancers.check_cloud_provider, facts(nodes=[node("a")]))[0] == OK
    aws = facts(nodes=[node("a", provider="aws:///eu-west-1a/i-0abc"), node("b", provider="aws:///eu-west-1a/i-1")])
    status, message, details = run(loadbalancers.check_cloud_provider, aws)
    assert status == FAIL and "nodes run on AWS, where MetalLB does not work" in message
    assert details == ("AWS: a, b",)
    status, message, _ = run(loadbalancers.check_cloud_provider, facts(nodes=[node("h", provider="hcloud://123")]))
    assert status == WARN and "Hetzner Cloud" in message
    kind = facts(nodes=[node("k", provider="kind://docker/kind/kind-control-plane")])
    assert run(loadbalancers.check_cloud_provider, kind) == (OK, "", ("kind: k",))
    ccm = facts(deployments=[deployment("kube-system", "hcloud-cloud-controller-manager")])
    status, message, details = run(loadbalancers.check_cloud_provider, ccm)
    assert status == WARN and "a cloud controller manager runs" in message
    assert details == ("cloud controller manager: kube-system/hcloud-cloud-controller-manager",)


def test_foreign_load_balancer_addresses():
    metallb_svc = service("a", "web", ["192.168.1.240"], annotations={"metallb.io/ip-allocated-from-pool": "p"})
    classed = service("a", "nlb", ["3.3.3.3"], lb_class="service.k8s.aws/nlb")
    pending = service("a", "pending")
    cilium = service("b", "c", ["10.0.10.1"], conditions=[{"type": "cilium.io/IPAMRequestSatisfied", "status": "True"}])
    klipper = service("kube-system", "traefik", ["192.168.1.10"])
    svclb = daemonset("kube-system", "svclb-traefik-abc", labels={"svccontroller.k3s.cattle.io/svcname": "traefik"})
    assert run(loadbalancers.check_foreign_addresses, facts(services=[metallb_svc, classed, pending]))[0] == OK
    f = facts(services=[metallb_svc, cilium, klipper], daemonsets=[svclb])
    status, message, details = run(loadbalancers.check_foreign_addresses, f)
    assert status == WARN and message.startswith("2 LoadBalancer Service(s) already have an address")
    assert details == ("b/c: 10.0.10.1 (Cilium LB-IPAM)", "kube-system/traefik: 192.168.1.10 (k3s ServiceLB)")
    on_node = facts(services=[klipper], nodes=[node("n", addresses=[("InternalIP", "192.168.1.10")])])
    assert run(loadbalancers.check_foreign_addresses, on_node)[2] == (
        "kube-system/traefik: 192.168.1.10 (node addresses: ServiceLB-style)",
    )


# --------------------------------------------------------------------------------------------- network add-on


def test_detect_addons():
    assert addons.detect_addons(daemonsets=[daemonset("calico-system", "calico-node")]) == {
        "Calico": "DaemonSet calico-system/calico-node"
    }
    both = addons.detect_addons(daemonsets=[daemonset("kube-system", "canal"), daemonset("kube-system", "calico-node")])
    assert list(both) == ["Canal"]
    k3s = addons.detect_addons(
        daemonsets=[], nodes=[node("n", annotations={"flannel.alpha.coreos.com/backend-type": "vxlan"})]
    )
    assert k3s == {"Flannel": "flannel annotations on node n"}
    by_label = addons.detect_addons(daemonsets=[daemonset("kube-system", "cni", labels={"k8s-app": "cilium"})])
    assert by_label == {"Cilium": "DaemonSet kube-system/cni"}
    # DaemonSets unreadable: ConfigMaps and CRDs still tell
    assert addons.detect_addons(configmaps=[configmap("kube-system", "antrea-config", {})]) == {
        "Antrea": "ConfigMap kube-system/antrea-config"
    }
    assert addons.detect_addons(crds=[crd("ippools.kubeovn.io")]) == {"Kube-OVN": "CRDs of kubeovn.io"}


def test_network_addon_check():
    calico = facts(daemonsets=[daemonset("kube-system", "calico-node")])
    assert run(addons.check_network_addon, calico) == (
        OK,
        "",
        ("Calico (DaemonSet kube-system/calico-node): mostly compatible",),
    )
    calico.mode = pf.BGP
    status, message, _ = run(addons.check_network_addon, calico)
    assert status == WARN and "Calico's own BGP sessions" in message and "/configuration/calico/" in message
    router = facts(mode=pf.BGP, daemonsets=[daemonset("kube-system", "kube-router")])
    assert "kube-router's own BGP peering" in run(addons.check_network_addon, router)[1]
    advertising = facts(
        daemonsets=[
            daemonset(
                "kube-system",
                "kube-router",
                containers=[container(args=["--run-router=true", "--advertise-loadbalancer-ip=true"])],
            )
        ]
    )
    assert run(addons.check_network_addon, advertising)[0] == WARN
    weave = facts(daemonsets=[daemonset("kube-system", "weave-net")])
    assert "NO_MASQ_LOCAL" in run(addons.check_network_addon, weave)[1]
    status, message, _ = run(addons.check_network_addon, facts())
    assert status == WARN and message.startswith("no known network add-on found")
    nothing = facts(
        daemonsets=Unreadable("no permission to list DaemonSets in all namespaces"),
        configmaps=Unreadable("x"),
        crds=Unreadable("x"),
        nodes=Unreadable("x"),
    )
    assert run(addons.check_network_addon, nothing) == (SKIP, "no permission to list DaemonSets in all namespaces", ())


# --------------------------------------------------------------------------------------------- kube-proxy


def kube_proxy_cm(mode="ipvs", strict=False):
    text = (
        f'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: "{mode}"\n'
        f"ipvs:\n  strictARP: {str(strict).lower()}\n"
    )
    return configmap("kube-system", "kube-proxy", {"config.conf": text})


def test_kubeadm_ipvs_without_strict_arp_fails():
    f = facts(configmaps=[kube_proxy_cm()], daemonsets=[daemonset("kube-system", "kube-proxy")])
    status, message, details = run(proxy.check_strict_arp, f)
    assert status == FAIL and "IPVS mode without strict ARP" in message
    assert details == ()  # editable: the check's hint (kubectl metallb strict-arp --enable) is the fix
    status, _, details = run(proxy.check_kube_proxy_mode, f)
    assert status == OK and details[0].startswith("ipvs mode (kubeadm; ConfigMap kube-system/kube-proxy")
    f.mode = pf.BGP
    assert run(proxy.check_strict_arp, f)[0] == WARN


def test_kubeadm_ipvs_with_strict_arp_and_iptables_pass():
    assert run(proxy.check_strict_arp, facts(configmaps=[kube_proxy_cm(strict=True)]))[0] == OK
    status, _, details = run(proxy.check_strict_arp, facts(configmaps=[kube_proxy_cm(mode="")]))
    assert status == OK and "iptables mode" in details[0]


def test_k3s_ipvs_hint_is_the_flag():
    n = k3s_node("srv", ["server", "--disable=servicelb", "--kube-proxy-arg=proxy-mode=ipvs"])
    n["status"]["nodeInfo"] = {"kubeletVersion": "v1.30.1+k3s1"}
    status, _, details = run(proxy.check_strict_arp, facts(nodes=[n]))
    assert status == FAIL and "--kube-proxy-arg=ipvs-strict-arp=true" in details[0]


def test_unknown_kube_proxy():
    status, message, _ = run(proxy.check_kube_proxy_mode, facts())
    assert status == WARN and "not found in the API" in message
    assert run(proxy.check_strict_arp, facts()) == (SKIP, "kube-proxy's mode is not known", ())
    assert run(proxy.check_strict_arp, facts(configmaps=FORBIDDEN))[0] == SKIP


def test_cilium_replaces_kube_proxy():
    f = facts(configmaps=[configmap("kube-system", "cilium-config", {"kube-proxy-replacement": "true"})])
    assert run(proxy.check_kube_proxy_mode, f)[0] == OK
    assert run(proxy.check_strict_arp, f)[0] == OK


# --------------------------------------------------------------------------------------------- nodes


def test_linux_nodes():
    assert run(nodes.check_linux_nodes, facts())[0] == FAIL
    windows = [node("w", os_name="windows"), node("w2", os_name="windows")]
    assert run(nodes.check_linux_nodes, facts(nodes=windows[:1]))[1].startswith("the only node does not run Linux")
    assert run(nodes.check_linux_nodes, facts(nodes=windows))[1].startswith("none of the 2 nodes runs Linux")
    assert run(nodes.check_linux_nodes, facts(nodes=[node("a"), node("w", os_name="windows")]))[2] == (
        "1 Linux node(s); 1 non-Linux node(s) will not run a speaker",
    )
    assert run(nodes.check_linux_nodes, facts(nodes=FORBIDDEN)) == (SKIP, "no permission to list nodes", ())


def test_excluded_nodes():
    label = {pf_facts.EXCLUDE_LB_LABEL: ""}
    status, message, details = run(nodes.check_excluded_nodes, facts(nodes=[node("solo", labels=label)]))
    assert status == WARN and message.startswith("the only node is labelled")
    assert "--ignore-exclude-lb" in message and details == ("solo",)
    status, message, _ = run(nodes.check_excluded_nodes, facts(nodes=[node("cp", labels=label), node("w1")]))
    assert status == WARN and message.startswith("1 of 2 nodes is labelled")
    assert run(nodes.check_excluded_nodes, facts(nodes=[node("w1")]))[0] == OK


CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def test_taints():
    assert run(nodes.check_taints, facts(nodes=[node("cp", taints=[CONTROL_PLANE]), node("w")]))[0] == OK
    status, message, details = run(nodes.check_taints, facts(nodes=[node("cp", taints=[CONTROL_PLANE])]))
    assert status == FAIL and "controller does not tolerate" in message
    assert details == ("cp: node-role.kubernetes.io/control-plane:NoSchedule",)
    gpu = {"key": "gpu", "value": "yes", "effect": "NoSchedule"}
    soft = {"key": "soft", "effect": "PreferNoSchedule"}
    transient = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
    f = facts(nodes=[node("g", taints=[gpu, soft]), node("w", taints=[transient])])
    status, message, details = run(nodes.check_taints, f)
    assert status == WARN and details == ("g: gpu=yes:NoSchedule",)
    status, message, _ = run(nodes.check_taints, facts(nodes=[node("g", taints=[gpu])]))
    assert status == FAIL


def test_tolerates():
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert any(k8s.tolerates(t, taint) for t in [{"operator": "Exists"}])
    assert any(k8s.tolerates(t, taint) for t in [{"key": "k", "operator": "Equal", "value": "v"}])
    assert not any(k8s.tolerates(t, taint) for t in [{"key": "k", "operator": "Equal", "value": "w"}])
    assert not any(k8s.tolerates(t, taint) for t in [{"key": "k", "operator": "Exists", "effect": "NoExecute"}])


# --------------------------------------------------------------------------------------------- Pod Security


def test_pod_security():
    status, _, details = run(policies.check_pod_security, facts())
    assert status == OK and "does not exist yet" in details[0]
    privileged = facts(metallb_namespace=[namespace("metallb-system", {pf_facts.PSA_ENFORCE: "privileged"})])
    assert run(policies.check_pod_security, privileged)[0] == OK
    status, message, _ = run(
        policies.check_pod_security,
        facts(metallb_namespace=[namespace("metallb-system", {pf_facts.PSA_ENFORCE: "baseline"})]),
    )
    assert status == FAIL and "enforces Pod Security level 'baseline'" in message
    assert message.endswith(
        "kubectl label namespace metallb-system pod-security.kubernetes.io/enforce=privileged --overwrite"
    )
    assert run(policies.check_pod_security, facts(metallb_namespace=[namespace("metallb-system")]))[0] == WARN
    assert (
        run(policies.check_pod_security, facts(metallb_namespace=Unreadable("no permission to list namespaces")))[0]
        == SKIP
    )


# --------------------------------------------------------------------------------------------- memberlist


def test_memberlist_is_a_reminder_not_a_pass():
    status, message, _ = run(policies.check_memberlist_ports, facts())
    assert status == WARN and "TCP and UDP port 7946" in message and "cannot be checked" in message


def test_network_policies():
    ns = [namespace("metallb-system")]
    deny_all = policy("deny-all", {}, types=["Ingress"])
    status, _, details = run(policies.check_network_policies, facts(metallb_namespace=ns, networkpolicies=[deny_all]))
    assert status == WARN
    assert details == (
        "deny-all: blocks 7946/TCP, 7946/UDP to the speaker",
        "deny-all: blocks 9443/TCP to the controller",
    )
    memberlist_only = policy(
        "ml",
        {"matchLabels": {"app.kubernetes.io/component": "speaker"}},
        ingress=[{"ports": [{"port": 7946, "protocol": "TCP"}, {"port": "memberlist-udp", "protocol": "UDP"}]}],
    )
    assert run(policies.check_network_policies, facts(metallb_namespace=ns, networkpolicies=[memberlist_only]))[0] == OK
    tcp_only = policy(
        "tcp", {"matchLabels": {"component": "speaker"}}, ingress=[{"ports": [{"port": 7000, "endPort": 8000}]}]
    )
    assert run(policies.check_network_policies, facts(metallb_namespace=ns, networkpolicies=[tcp_only]))[2] == (
        "tcp: blocks 7946/UDP to the speaker",
    )
    egress = policy("egress", {}, types=["Egress"])
    allow_all = policy("all", {}, ingress=[{}])
    assert (
        run(policies.check_network_policies, facts(metallb_namespace=ns, networkpolicies=[egress, allow_all]))[0] == OK
    )
    other = policy("web", {"matchLabels": {"app": "web"}}, types=["Ingress"])
    assert run(policies.check_network_policies, facts(metallb_namespace=ns, networkpolicies=[other]))[0] == OK
    assert run(policies.check_network_policies, facts())[0] == OK  # no namespace yet: nothing can block


# --------------------------------------------------------------------------------------------- permissions


def test_needed_access():
    needs = permissions.needed_access("metallb-system")
    assert len(needs) == 2 * len(permissions.INSTALL_RESOURCES)
    assert str(needs[0]) == "create namespaces (cluster-wide)"
    assert str(needs[-1]) == "patch daemonsets.apps in namespace metallb-system"
    bgp = permissions.needed_access("lb", mode=pf.BGP, pools=True)
    assert [str(a) for a in bgp[-3:]] == [
        "create ipaddresspools.metallb.io in namespace lb",
        "create bgpadvertisements.metallb.io in namespace lb",
        "create bgppeers.metallb.io in namespace lb",
    ]


def test_permissions_check():
    needs = permissions.needed_access("metallb-system")
    granted = facts(permissions=[(a, True, "") for a in needs])
    assert run(permissions.check_permissions, granted) == (
        OK,
        "",
        ("all 26 permissions that install needs are granted",),
    )
    some = facts(permissions=[(a, a.resource != "clusterroles", "") for a in needs])
    status, message, details = run(permissions.check_permissions, some)
    assert status == FAIL and message == "2 of the 26 permissions that install needs are missing"
    assert details == (
        "create clusterroles.rbac.authorization.k8s.io (cluster-wide)",
        "patch clusterroles.rbac.authorization.k8s.io (cluster-wide)",
    )
    one = facts(permissions=[(a, a != needs[0], "") for a in needs])
    assert run(permissions.check_permissions, one)[1] == "1 of the 26 permissions that install needs is missing"
    assert run(permissions.check_permissions, facts(permissions=Unreadable("no SSAR")))[0] == SKIP


def test_manifest_dry_run_check():
    ok = pf.ManifestCheck("m.yaml", ("v0.16.1", "metallb-native.yaml"), "ab" * 32, [], 14)
    assert run(permissions.check_manifest_dry_run, facts(manifest=ok)) == (
        OK,
        "",
        ("14 cluster-scoped objects of v0.16.1 metallb-native.yaml pass a server-side dry run",),
    )
    bad = pf.ManifestCheck("m.yaml", None, "ab" * 32, ["customresourcedefinition.apiextensions.k8s.io/x: denied"], 14)
    status, message, _details = run(permissions.check_manifest_dry_run, facts(manifest=bad))
    assert status == FAIL and "refuses 1 of the 14 cluster-scoped objects of m.yaml" in message
    assert "not a known upstream release file (sha256 abababababab...)" in message
    unknown = pf.ManifestCheck("m.yaml", None, "ab" * 32, [], 3)
    assert run(permissions.check_manifest_dry_run, facts(manifest=unknown))[0] == WARN


# --------------------------------------------------------------------------------------------- planned addresses


def planned(*texts, **objects):
    return facts(addresses=addresses.parse_addresses(list(texts)), **objects)


def test_address_size():
    f = planned("192.168.10.0/24,192.168.11.1-192.168.11.10", "fc00::/120")
    assert run(addresses.check_address_size, f)[2] == (
        "522 usable addresses (IPv4: 266, IPv6: 256) in 192.168.10.0/24, 192.168.11.1-192.168.11.10, fc00::/120",
    )
    huge = planned("fc00::/64")
    assert run(addresses.check_address_size, huge)[2][0].startswith(f"{ipam.readable_count(2**64)} usable addresses")
    assert run(addresses.check_address_size, planned("192.0.2.7/32"))[2][0].startswith("1 usable address (IPv4: 1)")
    with pytest.raises(ValueError, match="host bits are set"):
        addresses.parse_addresses(["10.0.0.5/24"])


@pytest.mark.parametrize(
    "text, shown",
    [
        (
            "127.0.0.0/30",
            "127.0.0.0/30 is loopback (127.0.0.0/8): loopback addresses never leave the host that uses them",
        ),
        ("224.0.0.5-224.0.0.9", "224.0.0.5-224.0.0.9 is multicast (224.0.0.0/4)"),
        ("169.254.10.0/24", "169.254.10.0/24 is link-local (169.254.0.0/16)"),
        ("0.0.0.0/32", "0.0.0.0/32 is unspecified (0.0.0.0/8)"),
        ("255.255.255.255/32", "255.255.255.255/32 is reserved (240.0.0.0/4)"),
        ("0.0.0.0/0", "0.0.0.0/0 is every IPv4 address (0.0.0.0/0), loopback and multicast included"),
        ("::/0", "::/0 is every IPv6 address (::/0), loopback and multicast included"),
        ("::1/128", "::1/128 is loopback (::1/128)"),
        ("fe80::/64", "fe80::/64 is link-local (fe80::/10)"),
        ("ff02::/120", "ff02::/120 is multicast (ff00::/8)"),
        ("192.168.0.0-255.255.255.255", "192.168.0.0-255.255.255.255 includes broadcast addresses"),
    ],
)
def test_special_ranges_are_not_usable(text, shown):
    status, message, details = run(addresses.check_address_size, planned(text))
    assert status == FAIL and message.startswith("the planned range holds addresses no client can reach")
    assert any(d.startswith(shown) for d in details), details


def test_ordinary_ranges_are_usable():
    for text in ("192.168.10.240-192.168.10.250", "10.0.0.0/8", "198.51.100.0/24", "2001:db8::/64", "223.255.255.0/24"):
        assert run(addresses.check_address_size, planned(text))[0] == OK, text


def test_addresses_overlapping_nodes():
    nodes = [
        node("n1", addresses=[("InternalIP", "192.168.1.10"), ("Hostname", "n1")]),
        node("n2", addresses=[("ExternalIP", "203.0.113.5")]),
    ]
    status, _message, details = run(addresses.check_addresses_nodes, planned("192.168.1.0/24", nodes=nodes))
    assert status == WARN and details == ("n1: InternalIP 192.168.1.10",)
    assert run(addresses.check_addresses_nodes, planned("192.168.2.0/24", nodes=nodes))[0] == OK


def test_addresses_and_service_cidr():
    cidrs = [{"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/112"]}}]
    status, _, details = run(addresses.check_addresses_service_cidr, planned("10.100.0.0/24", servicecidrs=cidrs))
    assert status == WARN and details == ("10.100.0.0/24 overlaps service CIDR 10.96.0.0/12",)
    assert run(addresses.check_addresses_service_cidr, planned("192.168.0.0/24", servicecidrs=cidrs)) == (
        OK,
        "",
        ("service CIDR 10.96.0.0/12, fd00:10:96::/112",),
    )
    # an older server without ServiceCIDR: the ClusterIPs in use still tell
    old = planned(
        "10.96.0.0/28",
        servicecidrs=None,
        services=[service("default", "kubernetes", kind="ClusterIP", cluster_ip="10.96.0.1")],
    )
    assert run(addresses.check_addresses_service_cidr, old)[:2] == (
        WARN,
        "ClusterIPs of Services are inside the planned range, so it overlaps the service CIDR",
    )
    assert run(addresses.check_addresses_service_cidr, planned("10.0.0.0/24", servicecidrs=Unreadable("no")))[0] == SKIP


def test_addresses_and_pod_cidrs():
    nodes = [node("n1", pod_cidrs=["10.244.0.0/24"]), node("n2", pod_cidrs=["10.244.1.0/24"])]
    status, _, details = run(addresses.check_addresses_pod_cidr, planned("10.244.1.128/25", nodes=nodes))
    assert status == WARN and details == ("n2: pod CIDR 10.244.1.0/24",)
    assert run(addresses.check_addresses_pod_cidr, planned("10.245.0.0/16", nodes=nodes)) == (OK, "", ())
    assert "no node declares a pod CIDR" in run(addresses.check_addresses_pod_cidr, planned("10.0.0.0/8"))[2][0]


def test_addresses_and_existing_pools():
    pools = [
        {"metadata": meta("old", "metallb-system"), "spec": {"addresses": ["192.168.1.200-192.168.1.220", "bad entry"]}}
    ]
    status, message, details = run(addresses.check_addresses_pools, planned("192.168.1.192/27", ipaddresspools=pools))
    assert status == FAIL and "MetalLB's webhook refuses a pool that overlaps another" in message
    assert details == ("192.168.1.192/27 overlaps 192.168.1.200-192.168.1.220 of IPAddressPool metallb-system/old",)
    assert run(addresses.check_addresses_pools, planned("192.168.2.0/24", ipaddresspools=pools))[0] == OK
    assert run(addresses.check_addresses_pools, planned("192.168.2.0/24"))[0] == OK  # no metallb.io CRDs at all


def test_addresses_in_use():
    services = [service("a", "web", ["192.168.1.240"]), service("a", "np", kind="NodePort")]
    status, _, details = run(addresses.check_addresses_in_use, planned("192.168.1.240/29", services=services))
    assert status == WARN and details == ("a/web: 192.168.1.240",)


# --------------------------------------------------------------------------------------------- the list


def test_check_list_is_data_with_stable_ids():
    base = [o.check.id for o in pf.evaluate(facts())]
    assert base == [
        "kubernetes-api",
        "kubernetes-version",
        "existing-install",
        "legacy-config",
        "microk8s-addon",
        "servicelb",
        "kube-vip",
        "cilium-lb-ipam",
        "cloud-provider",
        "foreign-addresses",
        "network-addon",
        "kube-proxy-mode",
        "strict-arp",
        "linux-nodes",
        "excluded-nodes",
        "node-taints",
        "pod-security",
        "memberlist-ports",
        "network-policies",
        "permissions",
    ]
    with_extras = [o.check for o in pf.evaluate(planned("10.0.0.0/24", manifest=pf.ManifestCheck("m")))]
    assert [c.id for c in with_extras][len(base) :] == [
        "manifest-dry-run",
        "addresses-size",
        "addresses-nodes",
        "addresses-service-cidr",
        "addresses-pod-cidr",
        "addresses-pools",
        "addresses-in-use",
    ]
    for check in with_extras:
        assert check.severity in ("error", "warning")
        assert check.hint or check.id in ("kubernetes-api", "addresses-size")


def test_a_healthy_cluster_passes_with_only_the_memberlist_reminder():
    f = facts(
        nodes=[node("n1", addresses=[("InternalIP", "192.168.1.10")]), node("n2")],
        daemonsets=[daemonset("kube-system", "calico-node"), daemonset("kube-system", "kube-proxy")],
        configmaps=[kube_proxy_cm(strict=True)],
        permissions=[(a, True, "") for a in permissions.needed_access("metallb-system")],
    )
    outcomes = pf.evaluate(f)
    problems = {o.check.id: o.result.status for o in outcomes if o.result.status != OK}
    assert problems == {"memberlist-ports": WARN}
    doc = to_document(outcomes)
    assert doc["success"] is True
    not_asked = ("planned-addresses", "prometheus")  # no --addresses, no --prometheus
    assert [c["id"] for c in doc["categories"]] == [c for c in pf.CATEGORY_IDS if c not in not_asked]
    assert [c["name"] for c in doc["categories"]] == [
        "Kubernetes",
        "Existing installation",
        "Competing load balancers",
        "Network add-on",
        "kube-proxy",
        "Nodes",
        "Pod Security",
        "Memberlist",
        "Permissions",
    ]


def test_unreadable_kinds_skip_instead_of_passing():
    f = facts(
        **{s.key: Unreadable(f"no permission to list {s.what}") for s in pf.SOURCES},
        permissions=Unreadable("no permission to create SelfSubjectAccessReviews"),
    )
    outcomes = {o.check.id: o.result for o in pf.evaluate(f)}
    passed = sorted(k for k, r in outcomes.items() if r.status == OK)
    assert passed == ["kubernetes-api", "kubernetes-version"]  # both from /version, which anyone may read
    assert outcomes["linux-nodes"].status == SKIP and outcomes["linux-nodes"].message == "no permission to list nodes"
    assert outcomes["servicelb"].status == SKIP


def test_unreadable_reason():
    nodes = next(s for s in pf.SOURCES if s.key == "nodes")
    policies = next(s for s in pf.SOURCES if s.key == "networkpolicies")
    assert unreadable_reason(nodes, "x", True) == "no permission to list nodes"
    assert unreadable_reason(policies, "lb", False) == "could not list NetworkPolicies in namespace lb"


# --------------------------------------------------------------------------------------------- flags (no cluster)


def options(*argv):
    return command._options(parse(["preflight", *argv])[1], context())


def test_flags_are_checked_before_contacting_the_cluster(tmp_path):
    facts_, manifest = options(
        "--mode",
        "bgp",
        "--addresses",
        "10.0.0.0/24",
        "--addresses",
        "fc00::1-fc00::9",
        "--version",
        "0.15.3",
        "-n",
        "lb",
    )
    assert (facts_.mode, facts_.tag, facts_.namespace, manifest) == ("bgp", "v0.15.3", "lb", None)
    assert [str(r) for r in facts_.addresses] == ["10.0.0.0/24", "fc00::1-fc00::9"]
    with pytest.raises(errors.UsageError, match=r'^--addresses: invalid range "10.0.0.9-10.0.0.1"'):
        options("--addresses", "10.0.0.9-10.0.0.1")
    with pytest.raises(errors.UsageError, match="overlaps"):
        options("--addresses", "10.0.0.0/24,10.0.0.5-10.0.0.6")
    with pytest.raises(errors.UsageError, match=r"unknown MetalLB release v0.9.0; known releases are v0.13.0"):
        options("--version", "0.9.0")
    with pytest.raises(errors.UsageError, match="missing.yaml: no such file"):
        options("--manifest", str(tmp_path / "missing.yaml"))
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    with pytest.raises(errors.UsageError, match="is not a MetalLB manifest: it contains Pod"):
        options("--manifest", str(tmp_path / "bad.yaml"))
    with pytest.raises(SystemExit):
        options("--mode", "ospf")


def test_skip_check_reports_the_check_as_skipped_without_running_it():
    f = facts(configmaps=[kube_proxy_cm(strict=False)])
    outcomes = {o.check.id: o.result for o in pf.evaluate(f, skip=["strict-arp"])}
    assert (outcomes["strict-arp"].status, outcomes["strict-arp"].message) == (SKIP, "skipped (--skip-check)")
    assert pf.evaluate(f)[12].check.id == "strict-arp" and pf.evaluate(f)[12].result.status == FAIL


def test_skip_check_names_must_exist():
    with pytest.raises(
        errors.UsageError, match="--skip-check strict_arp: no such check; the checks are kubernetes-api"
    ):
        options("--skip-check", "strict_arp")


def test_an_unreachable_api_fails_the_first_check_and_nothing_else_runs():
    f = facts(server_error="cannot reach the API server")
    outcomes = pf.evaluate(f)
    assert [(o.check.id, o.result.status, o.result.message) for o in outcomes] == [
        ("kubernetes-api", FAIL, "cannot reach the API server")
    ]
