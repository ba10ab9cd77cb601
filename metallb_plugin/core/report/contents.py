"""What `kubectl metallb report` collects, and where each piece goes in the archive (pure).

CLUSTER_SOURCES                     read first: workloads (to find MetalLB), Services, nodes, CRDs, webhooks,
                                    RBAC, Service events, kube-proxy's configuration
crd_sources(crds) -> [Source]       every metallb.io and frrk8s.metallb.io kind the cluster serves
NAMESPACE_SOURCES                   read in MetalLB's namespace (and frr-k8s' when it has its own)
object_files(snapshot, ...)         [(path, kind of list, items)] for every object file
log_targets(pods) -> ([Target], [(path, reason)])   current and previous logs; previous ones that cannot exist
file names: logs/NS/POD/CONTAINER.log, .previous.log; objects under cluster/, metallb/, frr-k8s/, ...
"""

from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from metallb_plugin.core import objects as k8s
from metallb_plugin.core.kubeproxy.locate import CONFIGMAP_NAMES
from metallb_plugin.core.objects import name
from metallb_plugin.core.snapshot import ALL, CLUSTER, METALLB, SYSTEM, Obj, Read, Snapshot, Source
from metallb_plugin.defaults import METALLB_GROUP

GROUPS = (METALLB_GROUP, "frrk8s.metallb.io")
NO_PREVIOUS = "no previous instance: the container has not restarted"
OURS = ("metallb", "frr-k8s", "frrk8s")  # RBAC and webhook objects whose names contain these are MetalLB's
KINDS = {  # plural -> kind of the built-in lists the report writes
    "deployments": "Deployment", "daemonsets": "DaemonSet", "pods": "Pod", "services": "Service",
    "endpointslices": "EndpointSlice", "configmaps": "ConfigMap", "secrets": "Secret", "events": "Event",
    "serviceaccounts": "ServiceAccount", "roles": "Role", "rolebindings": "RoleBinding",
    "networkpolicies": "NetworkPolicy", "nodes": "Node", "namespaces": "Namespace",
    "customresourcedefinitions": "CustomResourceDefinition", "clusterroles": "ClusterRole",
    "clusterrolebindings": "ClusterRoleBinding", "validatingwebhookconfigurations": "ValidatingWebhookConfiguration",
}  # fmt: skip


def _ours(items: List[Obj]) -> List[Obj]:
    return [o for o in items if any(word in name(o) for word in OURS)]


def _our_crds(items: List[Obj]) -> List[Obj]:
    """MetalLB's and frr-k8s' CRDs, without their schemas (the release's manifest has them)."""
    found = []
    for crd in items:
        if k8s.spec(crd).get("group") not in GROUPS:
            continue
        versions = [
            {k: v for k, v in version.items() if k != "schema"} for version in k8s.spec(crd).get("versions") or []
        ]
        found.append({**crd, "spec": {**k8s.spec(crd), "versions": versions}})
    return found


def _node_summary(items: List[Obj]) -> List[Obj]:
    """Nodes as MetalLB sees them: labels, annotations, taints, pod CIDRs, addresses, conditions, node info."""
    found = []
    for node in items:
        status = k8s.status(node)
        found.append({
            "apiVersion": "v1", "kind": "Node", "metadata": k8s.meta(node),
            "spec": {k: v for k, v in k8s.spec(node).items() if k in ("taints", "podCIDR", "podCIDRs", "providerID",
                                                                       "unschedulable")},
            "status": {k: v for k, v in status.items() if k in ("addresses", "conditions", "nodeInfo",
                                                                "daemonEndpoints")},
        })  # fmt: skip
    return found


def _kube_proxy(items: List[Obj]) -> List[Obj]:
    return [c for c in items if name(c) in CONFIGMAP_NAMES or name(c).startswith("kube-proxy")]


CLUSTER_SOURCES = (
    Source("crds", "apiextensions.k8s.io/v1", "customresourcedefinitions", CLUSTER, "CustomResourceDefinitions",
           keep=_our_crds),
    Source("deployments", "apps/v1", "deployments", ALL, "Deployments"),
    Source("daemonsets", "apps/v1", "daemonsets", ALL, "DaemonSets"),
    Source("services", "v1", "services", ALL, "Services"),
    Source("nodes", "v1", "nodes", CLUSTER, "nodes", keep=_node_summary),
    Source("namespaces", "v1", "namespaces", CLUSTER, "namespaces"),
    Source("validatingwebhookconfigurations", "admissionregistration.k8s.io/v1", "validatingwebhookconfigurations",
           CLUSTER, "ValidatingWebhookConfigurations", keep=_ours),
    Source("clusterroles", "rbac.authorization.k8s.io/v1", "clusterroles", CLUSTER, "ClusterRoles", keep=_ours),
    Source("clusterrolebindings", "rbac.authorization.k8s.io/v1", "clusterrolebindings", CLUSTER,
           "ClusterRoleBindings", keep=_ours),
    Source("serviceEvents", "v1", "events", ALL, "Service events", field_selector="involvedObject.kind=Service"),
    Source("kubeproxy", "v1", "configmaps", SYSTEM, "ConfigMaps", keep=_kube_proxy),
)  # fmt: skip


def _plural(kind: str) -> str:
    """The plural a message uses for a kind (NetworkPolicy -> NetworkPolicies)."""
    return kind[:-1] + "ies" if kind.endswith("y") else kind + "s"


NAMESPACE_SOURCES = tuple(
    Source(plural, api_version, plural, METALLB, _plural(KINDS[plural]))
    for api_version, plural in (
        ("v1", "pods"), ("v1", "events"), ("v1", "secrets"), ("v1", "configmaps"), ("v1", "serviceaccounts"),
        ("v1", "services"), ("discovery.k8s.io/v1", "endpointslices"), ("rbac.authorization.k8s.io/v1", "roles"),
        ("rbac.authorization.k8s.io/v1", "rolebindings"), ("networking.k8s.io/v1", "networkpolicies"),
    )
)  # fmt: skip
LB_SLICES = Source("lbslices", "discovery.k8s.io/v1", "endpointslices", ALL, "EndpointSlices",
                   label_selector="{slice_selector}")  # fmt: skip


# the kinds of MetalLB v0.16 and frr-k8s v0.0.25 (group, version, scope, plural, kind): read when the CRDs cannot be
# listed (no permission)
KNOWN = (
    ("metallb.io", "v1beta1", "Namespaced", "ipaddresspools", "IPAddressPool"),
    ("metallb.io", "v1beta1", "Namespaced", "l2advertisements", "L2Advertisement"),
    ("metallb.io", "v1beta1", "Namespaced", "bgpadvertisements", "BGPAdvertisement"),
    ("metallb.io", "v1beta2", "Namespaced", "bgppeers", "BGPPeer"),
    ("metallb.io", "v1beta1", "Namespaced", "bfdprofiles", "BFDProfile"),
    ("metallb.io", "v1beta1", "Namespaced", "communities", "Community"),
    ("metallb.io", "v1beta1", "Namespaced", "configurationstates", "ConfigurationState"),
    ("metallb.io", "v1beta1", "Namespaced", "servicel2statuses", "ServiceL2Status"),
    ("metallb.io", "v1beta1", "Namespaced", "servicebgpstatuses", "ServiceBGPStatus"),
    ("frrk8s.metallb.io", "v1beta1", "Namespaced", "frrconfigurations", "FRRConfiguration"),
    ("frrk8s.metallb.io", "v1beta1", "Namespaced", "bgpsessionstates", "BGPSessionState"),
    ("frrk8s.metallb.io", "v1beta1", "Namespaced", "frrk8sconfigurations", "FRRK8sConfiguration"),
    ("frrk8s.metallb.io", "v1beta1", "Cluster", "frrnodestates", "FRRNodeState"),
)


def known_crds() -> List[Obj]:
    """Stand-ins for MetalLB's and frr-k8s' CRDs, for a reader who may not list CRDs."""
    return [
        {"metadata": {"name": f"{plural}.{group}"}, "spec": {"group": group, "scope": scope,
         "names": {"plural": plural, "kind": kind}, "versions": [{"name": version, "served": True, "storage": True}]}}
        for group, version, scope, plural, kind in KNOWN
    ]  # fmt: skip


def crd_sources(crds: Iterable[Obj]) -> List[Source]:
    """One Source per MetalLB / frr-k8s kind the cluster serves (its storage version), keyed group/plural."""
    found = []
    for crd in crds:
        spec = k8s.spec(crd)
        version = k8s.crd_version(crd)
        plural = (spec.get("names") or {}).get("plural")
        if version and plural:
            scope = ALL if spec.get("scope") == "Namespaced" else CLUSTER
            found.append(Source(f"{spec['group']}/{plural}", f"{spec['group']}/{version}", plural, scope,
                                f"{plural}.{spec['group']}", optional=True))  # fmt: skip
    return sorted(found, key=lambda s: s.key)


def crd_kinds(crds: Iterable[Obj]) -> Dict[str, str]:
    """group/plural -> kind."""
    return {
        f"{k8s.spec(c).get('group')}/{(k8s.spec(c).get('names') or {}).get('plural')}": str(
            (k8s.spec(c).get("names") or {}).get("kind")
        )
        for c in crds
    }


def load_balancers(services: Iterable[Obj]) -> List[Obj]:
    return [s for s in services if k8s.is_load_balancer(s)]


def in_namespaces(items: Iterable[Obj], namespaces: Set[str]) -> List[Obj]:
    return [o for o in items if k8s.namespace(o) in namespaces]


def service_keys(services: Iterable[Obj]) -> Set[Tuple[str, str]]:
    return {(k8s.namespace(s), name(s)) for s in services}


def events_of(events: Iterable[Obj], services: Set[Tuple[str, str]]) -> List[Obj]:
    """The events about these Services."""
    found = []
    for event in events:
        involved = event.get("involvedObject") or {}
        if (involved.get("namespace"), involved.get("name")) in services:
            found.append(event)
    return found


def slices_of(slices: Iterable[Obj], services: Set[Tuple[str, str]]) -> List[Obj]:
    return [s for s in slices if (k8s.namespace(s), k8s.labels(s).get("kubernetes.io/service-name")) in services]


def log_path(namespace: str, pod: str, container: str, previous: bool = False) -> str:
    return f"logs/{namespace}/{pod}/{container}{'.previous' if previous else ''}.log"


def log_targets(pods: Iterable[Obj]) -> Tuple[List[Tuple[str, str, str, bool]], List[Tuple[str, str]]]:
    """(namespace, pod, container, previous) of every log to read, and the previous logs that cannot exist
    (path, why): a container that never restarted has no previous instance."""
    targets: List[Tuple[str, str, str, bool]] = []
    absent: List[Tuple[str, str]] = []
    for pod in sorted(pods, key=k8s.key):
        status = k8s.status(pod)
        states = {s.get("name"): s for s in (status.get("initContainerStatuses") or [])
                  + (status.get("containerStatuses") or [])}  # fmt: skip
        for container in k8s.containers(pod, init=True):
            cname = str(container.get("name"))
            ns, pname = k8s.namespace(pod), name(pod)
            targets.append((ns, pname, cname, False))
            state = states.get(cname) or {}
            if state.get("restartCount") or (state.get("lastState") or {}).get("terminated"):
                targets.append((ns, pname, cname, True))
            else:
                absent.append((log_path(ns, pname, cname, True), NO_PREVIOUS))
    return targets, absent


def as_list(kind: str, items: Sequence[Obj], api_version: Optional[str] = None) -> Dict[str, Any]:
    """kubectl's List document of these items (each given its kind and apiVersion, which LIST answers omit)."""
    filled = []
    for item in items:
        item = dict(item)
        item.setdefault("kind", kind)
        if api_version:
            item.setdefault("apiVersion", api_version)
        filled.append(item)
    return {"apiVersion": "v1", "kind": "List", "items": filled}


def listed(snapshot: Snapshot, key: str) -> List[Obj]:
    """What was read of a key ([] when it was not served or could not be read)."""
    value: Read = snapshot.objects.get(key)
    return value if isinstance(value, list) else []
