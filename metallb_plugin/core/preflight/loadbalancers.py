"""Competing load balancers: k3s/RKE2 ServiceLB, kube-vip, Cilium LB-IPAM, clouds, addresses assigned by others."""

from typing import Dict, Iterable, List, Optional

from metallb_plugin.core import objects as k8s
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, register
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.preflight.facts import (
    Facts,
    allocated_by_metallb,
)
from metallb_plugin.defaults import DOCS


def servicelb_nodes(nodes: Iterable[Obj]) -> List[str]:
    """Names of k3s server nodes started without --disable=servicelb, and RKE2 nodes with --enable-servicelb."""
    enabled = []
    for node in nodes:
        k3s = k8s.json_argv(k8s.annotations(node).get("k3s.io/node-args"))
        if k3s and k3s[0] == "server":
            disabled = [v.strip().lower() for flag in ("disable", "no-deploy") for v in k8s.flag_values(k3s, flag, ",")]
            if "servicelb" not in disabled and "--disable-cloud-controller" not in k3s:
                enabled.append(k8s.name(node))
        rke2 = k8s.json_argv(k8s.annotations(node).get("rke2.io/node-args"))
        if rke2 and k8s.flag_switch(rke2, "enable-servicelb"):
            enabled.append(k8s.name(node))
    return enabled


def is_svclb(daemonset: Obj) -> bool:
    return k8s.name(daemonset).startswith("svclb-") or "svccontroller.k3s.cattle.io/svcname" in k8s.labels(daemonset)


def check_servicelb(facts: Facts) -> Result:
    svclb = [k8s.qualified(ds) for ds in facts.items("daemonsets") if is_svclb(ds)]
    enabled = servicelb_nodes(facts.items("nodes"))
    if svclb:
        return Result(
            FAIL,
            f"k3s/RKE2 ServiceLB is serving LoadBalancer Services ({len(svclb)} svclb "
            f"DaemonSets): disable it with --disable=servicelb on every k3s server",
            tuple(sorted(svclb)),
        )
    if enabled:
        return Result(
            FAIL,
            f"k3s/RKE2 ServiceLB is enabled on {k8s.listing(enabled)}: start every k3s server with "
            "--disable=servicelb (RKE2: without --enable-servicelb)",
        )
    return Result(OK)


def _is_kube_vip(container: Obj) -> bool:
    image = container.get("image") or ""
    return "kube-vip" in image and "cloud-provider" not in image


def check_kube_vip(facts: Facts) -> Result:
    workloads = facts.items("daemonsets") + [
        p
        for p in facts.items("pods")  # static pods; pods of a DaemonSet are covered by the DaemonSet
        if not any(o.get("kind") == "DaemonSet" for o in k8s.meta(p).get("ownerReferences") or [])
    ]
    services_mode, control_plane_only = [], []
    for obj in workloads:
        for container in k8s.containers(obj, init=True):
            if not _is_kube_vip(container):
                continue
            env = k8s.env(container)
            if str(env.get("svc_enable", "")).lower() == "true" and str(env.get("lb_class_only", "")).lower() != "true":
                services_mode.append(k8s.qualified(obj))
            else:
                control_plane_only.append(k8s.qualified(obj))
    providers = [
        k8s.qualified(d)
        for d in facts.items("deployments")
        if k8s.name(d) == "kube-vip-cloud-provider"
        or any("kube-vip-cloud-provider" in (c.get("image") or "") for c in k8s.containers(d, init=True))
    ]
    if services_mode or providers:
        details = tuple(f"{n}: kube-vip with svc_enable=true" for n in services_mode) + tuple(
            f"{n}: kube-vip-cloud-provider (hands out LoadBalancer addresses)" for n in providers
        )
        return Result(
            FAIL,
            "kube-vip serves LoadBalancer Services: turn off its Services mode (svc_enable=false, "
            "or lb_class_only=true) and remove kube-vip-cloud-provider",
            details,
        )
    if control_plane_only:
        return Result(
            OK, details=(f"kube-vip runs for the control-plane address only ({k8s.listing(control_plane_only)})",)
        )
    return Result(OK)


def cilium_config(facts: Facts) -> Obj:
    if not facts.readable("configmaps"):
        return {}
    for cm in facts.items("configmaps"):
        if k8s.name(cm) == "cilium-config":
            return cm.get("data") or {}
    return {}


def check_cilium_lbipam(facts: Facts) -> Result:
    crds = {k8s.name(c) for c in facts.items("crds")}
    if "ciliumloadbalancerippools.cilium.io" not in crds:
        return Result(OK)
    config = cilium_config(facts)
    if str(config.get("enable-lb-ipam", "")).lower() == "false":
        return Result(OK, details=("Cilium LB-IPAM is turned off (enable-lb-ipam: false in cilium-config)",))
    pools = facts.items("ciliumpools")
    if not pools:
        return Result(OK, details=("Cilium LB-IPAM is installed but dormant: no CiliumLoadBalancerIPPool exists",))
    details = []
    for pool in pools:
        spec = pool.get("spec") or {}
        blocks = [
            b.get("cidr") or f"{b.get('start')}-{b.get('stop')}" for b in spec.get("blocks") or spec.get("cidrs") or []
        ]
        scope = " (only Services matching its serviceSelector)" if spec.get("serviceSelector") else ""
        details.append(f"{k8s.name(pool)}: {', '.join(blocks) or 'no blocks'}{scope}")
    unscoped = [p for p in pools if not (p.get("spec") or {}).get("serviceSelector")]
    if unscoped:
        return Result(
            FAIL,
            f"Cilium LB-IPAM hands out LoadBalancer addresses from {len(pools)} "
            "CiliumLoadBalancerIPPool(s): delete them, or give each a serviceSelector that "
            "MetalLB's Services do not match",
            tuple(details),
        )
    return Result(
        WARN,
        "Cilium LB-IPAM pools exist, limited by serviceSelector: make sure no Service is meant for both",
        tuple(details),
    )


# providerID scheme -> (cloud, MetalLB compatible per its cloud page: True, False, or None = with caveats)
CLOUDS = {
    "aws": ("AWS", False),
    "gce": ("Google Cloud", False),
    "azure": ("Azure", False),
    "digitalocean": ("DigitalOcean", False),
    "hcloud": ("Hetzner Cloud", None),
    "openstack": ("OpenStack", None),
    "vsphere": ("VMware vSphere", True),
    "proxmox": ("Proxmox", True),
    "vultr": ("Vultr", True),
    "ovh": ("OVH", None),
    "kind": ("kind", True),
    "k3s": ("k3s", True),
}


def check_cloud_provider(facts: Facts) -> Result:
    nodes = facts.items("nodes")
    schemes: Dict[str, List[str]] = {}
    for node in nodes:
        provider = (node.get("spec") or {}).get("providerID") or ""
        if "://" in provider:
            schemes.setdefault(provider.split("://", 1)[0].lower(), []).append(k8s.name(node))
    ccm = []
    for key in ("deployments", "daemonsets", "pods"):
        if facts.readable(key):
            ccm += [
                k8s.qualified(o)
                for o in facts.items(key)
                if "cloud-controller-manager" in k8s.name(o)
                and not (key == "pods" and k8s.meta(o).get("ownerReferences"))
            ]
    bad, caveats, details = [], [], []
    for scheme, names in sorted(schemes.items()):
        cloud, compatible = CLOUDS.get(scheme, (scheme, None))
        details.append(f"{cloud}: {k8s.listing(names)}")
        if compatible is False:
            bad.append(cloud)
        elif compatible is None:
            caveats.append(cloud)
    details += [f"cloud controller manager: {name}" for name in ccm]
    if bad:
        return Result(
            FAIL,
            f"nodes run on {', '.join(bad)}, where MetalLB does not work: use the cloud's own load balancer",
            tuple(details),
        )
    if caveats or ccm:
        what = f"nodes run on {', '.join(caveats)}" if caveats else "a cloud controller manager runs"
        return Result(
            WARN,
            f"{what}: MetalLB works there only with the provider's caveats, and the cloud "
            "controller may serve LoadBalancer Services itself",
            tuple(details),
        )
    return Result(OK, details=tuple(details))


def _suspect(service: Obj, facts: Facts) -> Optional[str]:
    """A guess at who assigned a Service's address, for the message."""
    if any(
        c.get("type") == "cilium.io/IPAMRequestSatisfied" and c.get("status") == "True"
        for c in (service.get("status") or {}).get("conditions") or []
    ):
        return "Cilium LB-IPAM"
    if facts.readable("daemonsets") and any(
        is_svclb(ds) and k8s.labels(ds).get("svccontroller.k3s.cattle.io/svcname") == k8s.name(service)
        for ds in facts.items("daemonsets")
    ):
        return "k3s ServiceLB"
    if any(k.startswith("kube-vip.io/") for k in k8s.annotations(service)):
        return "kube-vip"
    if facts.readable("nodes"):
        node_ips = {ip for n in facts.items("nodes") for _, ip in k8s.node_addresses(n)}
        if set(k8s.ingress_addresses(service)) & node_ips:
            return "node addresses: ServiceLB-style"
    return None


def foreign_load_balancers(services: Iterable[Obj]) -> List[Obj]:
    """LoadBalancer Services without a class that have an address MetalLB did not allocate."""
    return [
        s
        for s in services
        if k8s.is_load_balancer(s)
        and not (s.get("spec") or {}).get("loadBalancerClass")
        and k8s.ingress_addresses(s)
        and not allocated_by_metallb(s)
    ]


def check_foreign_addresses(facts: Facts) -> Result:
    foreign = foreign_load_balancers(facts.items("services"))
    if not foreign:
        return Result(OK)
    details = []
    for service in foreign:
        suspect = _suspect(service, facts)
        details.append(
            f"{k8s.qualified(service)}: {', '.join(k8s.ingress_addresses(service))}"
            + (f" ({suspect})" if suspect else "")
        )
    return Result(
        WARN,
        f"{len(foreign)} LoadBalancer Service(s) already have an address that MetalLB did not "
        "allocate: another load balancer implementation is at work",
        tuple(details),
    )


register(
    "competing-load-balancers",
    "Competing load balancers",
    (
        Check(
            "servicelb",
            "competing-load-balancers",
            "k3s/RKE2 ServiceLB is not active",
            check_servicelb,
            hint=f"{DOCS}/configuration/k3s/",
            needs=("daemonsets", "nodes"),
        ),
        Check(
            "kube-vip",
            "competing-load-balancers",
            "kube-vip does not serve LoadBalancer Services",
            check_kube_vip,
            hint="https://kube-vip.io/docs/usage/cloud-provider/",
            needs=("daemonsets", "pods", "deployments"),
        ),
        Check(
            "cilium-lb-ipam",
            "competing-load-balancers",
            "Cilium LB-IPAM does not hand out addresses",
            check_cilium_lbipam,
            hint="https://docs.cilium.io/en/stable/network/lb-ipam/",
            needs=("crds",),
        ),
        Check(
            "cloud-provider",
            "competing-load-balancers",
            "not running on a cloud with its own load balancer",
            check_cloud_provider,
            hint=f"{DOCS}/installation/clouds/",
            needs=("nodes",),
        ),
        Check(
            "foreign-addresses",
            "competing-load-balancers",
            "no LoadBalancer addresses from another implementation",
            check_foreign_addresses,
            severity="warning",
            hint=f"{DOCS}/troubleshooting/",
            needs=("services",),
        ),
    ),
)
