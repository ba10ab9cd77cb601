"""What preflight reads and is asked: the Source table, Facts (the snapshot plus the command's inputs), helpers."""

from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from metallb_plugin.core import ipam, pool_usage, projections, releases
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.plan import Access as Access  # one permission as an access review asks it (re-exported)
from metallb_plugin.core.prometheus import Plan
from metallb_plugin.core.snapshot import ALL, CLUSTER, METALLB, SYSTEM, Snapshot, Source, Unreadable

L2, BGP = "l2", "bgp"

EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
MEMBERLIST_PORT = 7946
WEBHOOK_PORT = 9443

# The speaker DaemonSet's tolerations in every release manifest (v0.13-v0.16); the controller has none.
SPEAKER_TOLERATIONS = (
    {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
)


SOURCES = (
    Source("nodes", "v1", "nodes", CLUSTER, "nodes", fields=projections.NODE),
    Source("metallb_namespace", "v1", "namespaces", CLUSTER, "namespaces", field_selector="metadata.name={namespace}"),
    Source("daemonsets", "apps/v1", "daemonsets", ALL, "DaemonSets"),
    Source("deployments", "apps/v1", "deployments", ALL, "Deployments"),
    Source("pods", "v1", "pods", SYSTEM, "Pods"),
    Source("configmaps", "v1", "configmaps", SYSTEM, "ConfigMaps"),
    Source("legacy_configmaps", "v1", "configmaps", ALL, "ConfigMaps", field_selector="metadata.name=config"),
    Source("services", "v1", "services", ALL, "Services", fields=projections.SERVICE),
    Source("crds", "apiextensions.k8s.io/v1", "customresourcedefinitions", CLUSTER, "CustomResourceDefinitions"),
    Source("servicecidrs", "networking.k8s.io/v1", "servicecidrs", CLUSTER, "ServiceCIDRs", optional=True),
    Source(
        "networkpolicies",
        "networking.k8s.io/v1",
        "networkpolicies",
        METALLB,
        "NetworkPolicies",
        after="metallb_namespace",
    ),
    Source("ipaddresspools", "", "ipaddresspools", ALL, "IPAddressPools", crd="ipaddresspools.metallb.io"),
    Source("metallbs", "", "metallbs", ALL, "MetalLB resources", crd="metallbs.metallb.io"),
    Source(
        "ciliumpools",
        "",
        "ciliumloadbalancerippools",
        CLUSTER,
        "CiliumLoadBalancerIPPools",
        crd="ciliumloadbalancerippools.cilium.io",
    ),
)


@dataclass
class Facts(Snapshot):
    """The snapshot preflight read (objects[key]: a list, None when not served, or Unreadable) and its inputs."""

    mode: str = L2
    tag: str = releases.DEFAULT_TAG  # the MetalLB release to check against
    server_error: str = ""  # why /version could not be read: the API check fails with it, and nothing else runs
    addresses: Optional[List[ipam.AddressRange]] = None  # planned pool addresses when --addresses was given
    permissions: Union[List[Tuple["Access", bool, str]], Unreadable, None] = None  # access reviews, or why not
    manifest: Optional["ManifestCheck"] = None  # when --manifest was given
    prometheus: Optional[Plan] = None  # the Prometheus variant's ServiceMonitors and RoleBinding (--prometheus)


@dataclass
class ManifestCheck:
    """What the command learned from --manifest FILE and its server-side dry run."""

    path: str
    release: Optional[Tuple[str, str]] = None  # (tag, file) when the digest is a known upstream file
    sha256: str = ""
    errors: List[str] = field(default_factory=list)  # ["CustomResourceDefinition/x: server message"]
    tried: int = 0  # cluster-scoped objects dry-run


def is_linux(node: Obj) -> bool:
    os_name = k8s.labels(node).get("kubernetes.io/os") or ((node.get("status") or {}).get("nodeInfo") or {}).get(
        "operatingSystem"
    )
    return os_name in (None, "", "linux")


def allocated_by_metallb(service: Obj) -> bool:
    return pool_usage.annotated_pool(service) is not None
