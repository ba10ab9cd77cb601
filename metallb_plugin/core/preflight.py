"""Preflight: is this cluster ready for MetalLB? The checks, as data, over facts read from the cluster.

Pure: no I/O. `commands/preflight.py` gathers the facts (one LIST per kind of object, raw JSON dicts) into a
`Facts`, then runs `checks(facts)` through `core.checks.run_checks`. A kind that could not be read is stored as
`Unreadable(reason)`; a check that needs it is reported as skipped with that reason, never as a pass.

Result conventions: a warning or failure explains itself in `message` (details list the objects concerned); a pass
puts what it found (the CNI, the kube-proxy mode, the number of addresses) in `details`, which the text output
shows under the line.
"""

from dataclasses import dataclass, field
from typing import Optional

from metallb_plugin.core import installation, ipam, kubeproxy, legacy, releases, selectors
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip
from metallb_plugin.defaults import DOCS, KUBE_SYSTEM, NAMESPACE

# where a source is listed: the whole cluster (cluster-scoped kinds), every namespace, kube-system, or the
# MetalLB namespace (only when it exists)
CLUSTER, ALL, SYSTEM, METALLB = "cluster", "all namespaces", "kube-system", "metallb"

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


# --------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Source:
    """One LIST the command makes: `key` in Facts.objects, what to list and where."""

    key: str
    api_version: str  # "" for a CRD-backed kind: the version is read from the CRD
    plural: str
    scope: str
    what: str
    field_selector: Optional[str] = None  # may contain {namespace}
    crd: Optional[str] = None  # listed only when this CRD exists
    optional: bool = False  # a server that does not serve the kind (404) means "none", not an error


SOURCES = (
    Source("nodes", "v1", "nodes", CLUSTER, "nodes"),
    Source("metallb_namespace", "v1", "namespaces", CLUSTER, "namespaces", field_selector="metadata.name={namespace}"),
    Source("daemonsets", "apps/v1", "daemonsets", ALL, "DaemonSets"),
    Source("deployments", "apps/v1", "deployments", ALL, "Deployments"),
    Source("pods", "v1", "pods", SYSTEM, "Pods"),
    Source("configmaps", "v1", "configmaps", SYSTEM, "ConfigMaps"),
    Source("legacy_configmaps", "v1", "configmaps", ALL, "ConfigMaps", field_selector="metadata.name=config"),
    Source("services", "v1", "services", ALL, "Services"),
    Source("crds", "apiextensions.k8s.io/v1", "customresourcedefinitions", CLUSTER, "CustomResourceDefinitions"),
    Source("servicecidrs", "networking.k8s.io/v1", "servicecidrs", CLUSTER, "ServiceCIDRs", optional=True),
    Source("networkpolicies", "networking.k8s.io/v1", "networkpolicies", METALLB, "NetworkPolicies"),
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


class Unreadable:
    """A kind the command could not read; checks that need it are skipped with this reason."""

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return f"Unreadable({self.reason!r})"


def unreadable_reason(source, namespace, forbidden):
    where = {CLUSTER: "", ALL: " in all namespaces", SYSTEM: " in kube-system", METALLB: f" in namespace {namespace}"}[
        source.scope
    ]
    if forbidden:
        return f"no permission to list {source.what}{where}"
    return f"could not list {source.what}{where}"


@dataclass(frozen=True)
class Access:
    """One permission install needs, as a SelfSubjectAccessReview asks it."""

    verb: str
    group: str
    resource: str
    namespace: Optional[str] = None

    def __str__(self):
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        where = f"in namespace {self.namespace}" if self.namespace else "(cluster-wide)"
        return f"{self.verb} {resource} {where}"


@dataclass
class Facts:
    """Everything the checks look at. objects[key] is a list of raw dicts, None (not served) or Unreadable."""

    namespace: str = NAMESPACE
    mode: str = L2
    tag: str = releases.DEFAULT_TAG  # the MetalLB release to check against
    server: Optional[dict] = None  # the /version document
    objects: dict = field(default_factory=dict)
    addresses: Optional[list] = None  # planned pool addresses (ipam ranges) when --addresses was given
    permissions: object = None  # [(Access, allowed, reason)] or Unreadable
    manifest: object = None  # ManifestCheck when --manifest was given

    def items(self, key):
        """The objects of one source; Skip when they could not be read."""
        value = self.objects.get(key)
        if isinstance(value, Unreadable):
            raise Skip(value.reason)
        return list(value or [])

    def readable(self, key):
        return not isinstance(self.objects.get(key), Unreadable)

    def served(self, key):
        return self.objects.get(key) is not None and self.readable(key)


@dataclass
class ManifestCheck:
    """What the command learned from --manifest FILE and its server-side dry run."""

    path: str
    release: Optional[tuple] = None  # (tag, file) when the digest is a known upstream file
    sha256: str = ""
    errors: list = field(default_factory=list)  # ["CustomResourceDefinition/x: server message"]
    tried: int = 0  # cluster-scoped objects dry-run


# --------------------------------------------------------------------------------------------- helpers


def is_linux(node):
    os_name = k8s.labels(node).get("kubernetes.io/os") or ((node.get("status") or {}).get("nodeInfo") or {}).get(
        "operatingSystem"
    )
    return os_name in (None, "", "linux")


def node_addresses(node):
    """[(type, address)] of a node's InternalIP / ExternalIP addresses."""
    return [
        (a.get("type"), a.get("address"))
        for a in (node.get("status") or {}).get("addresses") or []
        if a.get("type") in ("InternalIP", "ExternalIP") and a.get("address")
    ]


def is_load_balancer(service):
    return (service.get("spec") or {}).get("type") == "LoadBalancer"


def ingress_addresses(service):
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]


def allocated_by_metallb(service):
    return any(k8s.annotations(service).get(key) for key in ipam.ALLOCATED_FROM_POOL)


# --------------------------------------------------------------------------------------------- Kubernetes


def check_api(facts):
    return Result(OK)


def check_kubernetes_version(facts):
    have = k8s.kubernetes_version(facts.server)
    if have is None:
        raise Skip("the server did not report a version")
    shown = (facts.server or {}).get("gitVersion") or "%d.%d" % have
    need = releases.min_kubernetes(facts.tag)
    if need and have < need:
        return Result(
            FAIL,
            f"Kubernetes {shown} is older than {need[0]}.{need[1]}, the oldest that MetalLB "
            f"{facts.tag} supports (it reads EndpointSlices, GA in 1.21)",
        )
    if have < (1, 25):
        return Result(
            WARN,
            f"Kubernetes {shown} does not enforce CRD validation rules (1.25+): invalid MetalLB "
            "resources can be accepted and then ignored by MetalLB",
        )
    floor = f"; MetalLB {facts.tag} needs {need[0]}.{need[1]} or newer" if need else ""
    return Result(OK, details=(f"Kubernetes {shown}{floor}",))


# --------------------------------------------------------------------------------------------- existing installs


def check_existing_install(facts):
    deployments = facts.items("deployments")
    daemonsets = facts.items("daemonsets")
    metallbs = facts.items("metallbs") if facts.readable("metallbs") else []
    found = installation.find_installations(deployments, daemonsets, metallbs)
    operator = installation.find_operator(deployments)
    if not found:
        if operator:
            return Result(
                WARN,
                f"the MetalLB operator runs ({operator}): let it deploy MetalLB (a MetalLB resource) "
                "rather than installing the manifest next to it",
            )
        return Result(OK, details=("no MetalLB controller or speaker found",))
    described = tuple(_describe_install(i) for i in found)
    here = [i for i in found if i.namespace == facts.namespace]
    if not here:
        other = found[0]
        return Result(
            FAIL,
            f"MetalLB is already installed in namespace {other.namespace}: a second installation "
            f"in {facts.namespace} would compete with it (use -n {other.namespace})",
            described,
        )
    current = here[0]
    version = current.version or "(unknown version)"
    if current.managed_by == installation.HELM:
        return Result(
            WARN,
            f"MetalLB {version} is installed in {current.namespace} by Helm release "
            f"{current.helm_release}: upgrade it with helm, not with kubectl metallb install",
            described,
        )
    if current.managed_by == installation.OPERATOR:
        return Result(
            WARN,
            f"MetalLB {version} in {current.namespace} is managed by the MetalLB operator: change "
            "its MetalLB resource instead of installing the manifest",
            described,
        )
    return Result(
        WARN,
        f"MetalLB {version} is already installed in {current.namespace}: kubectl metallb install "
        f"would {_change(current.version, facts.tag)}",
        described,
    )


def _change(installed, tag):
    """What installing `tag` over `installed` means, in words."""
    try:
        have, want = releases.parse_version(installed), releases.parse_version(tag)
    except ValueError:
        return f"replace it with {tag}"
    if have == want:
        return "re-apply the same release"
    return f"{'upgrade' if have < want else 'downgrade'} it to {tag}"


def _describe_install(found):
    how = {installation.HELM: f"Helm release {found.helm_release}", installation.OPERATOR: "operator"}.get(
        found.managed_by, "manifest"
    )
    parts = [f"{found.namespace}: MetalLB {found.version or '(unknown version)'} ({how}, {found.backend} backend)"]
    return "; ".join(parts + list(found.notes))


def is_legacy_config(configmap):
    """A MetalLB <= 0.12 configuration: ConfigMap `config` whose `config` key holds address-pools or peers."""
    if k8s.name(configmap) != "config":
        return False
    try:
        config, _ = legacy.from_document(dict(configmap, kind="ConfigMap"))
    except legacy.LegacyConfigError:
        return False
    return any(str(k).lower() in legacy.TOP_KEYS for k in config)


def check_legacy_config(facts):
    legacy = [cm for cm in facts.items("legacy_configmaps") if is_legacy_config(cm)]
    if not legacy:
        return Result(OK)
    names = [k8s.qualified(cm) for cm in legacy]
    return Result(
        WARN,
        f"ConfigMap {k8s.listing(names)} holds a MetalLB <= 0.12 configuration, which MetalLB 0.13 "
        "and later ignore: convert it to custom resources",
        tuple(f"kubectl metallb pools migrate --from-configmap {name}" for name in names),
    )


def check_microk8s(facts):
    nodes = [n for n in facts.items("nodes") if k8s.labels(n).get("microk8s.io/cluster") == "true"]
    if not nodes:
        return Result(OK)
    return Result(
        WARN,
        "this is a MicroK8s cluster, which ships MetalLB as an addon (microk8s enable "
        "metallb:RANGE): use the addon or this plugin, not both",
    )


# --------------------------------------------------------------------------------------------- competing LBs


def servicelb_nodes(nodes):
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


def is_svclb(daemonset):
    return k8s.name(daemonset).startswith("svclb-") or "svccontroller.k3s.cattle.io/svcname" in k8s.labels(daemonset)


def check_servicelb(facts):
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


def _is_kube_vip(container):
    image = container.get("image") or ""
    return "kube-vip" in image and "cloud-provider" not in image


def check_kube_vip(facts):
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


def cilium_config(facts):
    if not facts.readable("configmaps"):
        return {}
    for cm in facts.items("configmaps"):
        if k8s.name(cm) == "cilium-config":
            return cm.get("data") or {}
    return {}


def check_cilium_lbipam(facts):
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


def check_cloud_provider(facts):
    nodes = facts.items("nodes")
    schemes = {}
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


def _suspect(service, facts):
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
        node_ips = {ip for n in facts.items("nodes") for _, ip in node_addresses(n)}
        if set(ingress_addresses(service)) & node_ips:
            return "node addresses: ServiceLB-style"
    return None


def foreign_load_balancers(services):
    """LoadBalancer Services without a class that have an address MetalLB did not allocate."""
    return [
        s
        for s in services
        if is_load_balancer(s)
        and not (s.get("spec") or {}).get("loadBalancerClass")
        and ingress_addresses(s)
        and not allocated_by_metallb(s)
    ]


def check_foreign_addresses(facts):
    foreign = foreign_load_balancers(facts.items("services"))
    if not foreign:
        return Result(OK)
    details = []
    for service in foreign:
        suspect = _suspect(service, facts)
        details.append(
            f"{k8s.qualified(service)}: {', '.join(ingress_addresses(service))}" + (f" ({suspect})" if suspect else "")
        )
    return Result(
        WARN,
        f"{len(foreign)} LoadBalancer Service(s) already have an address that MetalLB did not "
        "allocate: another load balancer implementation is at work",
        tuple(details),
    )


# --------------------------------------------------------------------------------------------- network add-on


@dataclass(frozen=True)
class Addon:
    name: str
    support: str  # MetalLB's network-addons table: "yes", "mostly", or "unlisted"
    daemonsets: tuple
    configmaps: tuple = ()
    crd_group: Optional[str] = None


ADDONS = (
    Addon("Canal", "yes", ("canal",), ("canal-config",)),
    Addon("Calico", "mostly", ("calico-node",), ("calico-config",), "crd.projectcalico.org"),
    Addon("Cilium", "yes", ("cilium",), ("cilium-config",), "cilium.io"),
    Addon("Flannel", "yes", ("kube-flannel-ds", "kube-flannel", "flannel"), ("kube-flannel-cfg",)),
    Addon("Antrea", "yes", ("antrea-agent",), ("antrea-config",), "crd.antrea.io"),
    Addon("Kube-OVN", "yes", ("kube-ovn-cni",), ("ovn-config",), "kubeovn.io"),
    Addon("kube-router", "mostly", ("kube-router",), ("kube-router-cfg",)),
    Addon("Weave Net", "unlisted", ("weave-net",), ("weave-net",)),
)
ADDON_NAMES = ", ".join(a.name for a in ADDONS)


def detect_addons(daemonsets=None, configmaps=None, crds=None, nodes=None):
    """{addon name: evidence} from whatever could be read (None: not readable)."""
    found = {}
    ds_names = {k8s.name(d): k8s.qualified(d) for d in daemonsets or []}
    ds_apps = {k8s.labels(d).get("k8s-app"): k8s.qualified(d) for d in daemonsets or [] if k8s.labels(d).get("k8s-app")}
    cm_names = {k8s.name(c) for c in configmaps or []}
    crd_groups = {(c.get("spec") or {}).get("group") for c in crds or []}
    for addon in ADDONS:
        for name in addon.daemonsets:
            where = ds_names.get(name) or ds_apps.get(name)
            if where:
                found.setdefault(addon.name, f"DaemonSet {where}")
        if addon.name not in found and daemonsets is None:  # no DaemonSets to look at: weaker evidence
            cm = next((c for c in addon.configmaps if c in cm_names), None)
            if cm:
                found[addon.name] = f"ConfigMap kube-system/{cm}"
            elif addon.crd_group and addon.crd_group in crd_groups:
                found[addon.name] = f"CRDs of {addon.crd_group}"
    if "Canal" in found:
        found.pop("Calico", None)
    elif not {"Flannel", "Canal"} & set(found):
        # k3s runs flannel inside its own process: only the nodes' annotations tell
        annotated = [n for n in nodes or [] if "flannel.alpha.coreos.com/backend-type" in k8s.annotations(n)]
        if annotated and not found:
            found["Flannel"] = f"flannel annotations on node {k8s.name(annotated[0])}"
    return found


def _kube_router_advertises(facts):
    for ds in facts.items("daemonsets") if facts.readable("daemonsets") else []:
        for container in k8s.containers(ds, init=True):
            args = k8s.argv(container)
            if any(
                a.startswith(("--advertise-loadbalancer-ip", "--peer-router-ips")) and not a.endswith("=false")
                for a in args
            ):
                return True
    return False


def check_network_addon(facts):
    sources = {k: facts.items(k) if facts.readable(k) else None for k in ("daemonsets", "configmaps", "crds", "nodes")}
    if all(v is None for v in sources.values()):
        raise Skip(facts.objects["daemonsets"].reason)
    found = detect_addons(**sources)
    if not found:
        return Result(
            WARN,
            f"no known network add-on found (looked for {ADDON_NAMES}): check MetalLB's compatibility table for yours",
        )
    details = []
    problems = []
    for name, evidence in found.items():
        addon = next(a for a in ADDONS if a.name == name)
        support = {"yes": "compatible", "mostly": "mostly compatible", "unlisted": "no longer listed"}[addon.support]
        details.append(f"{name} ({evidence}): {support}")
        if name == "Calico" and facts.mode == BGP:
            problems.append(
                "Calico's own BGP sessions and MetalLB's cannot peer with the same router: let Calico "
                f"advertise the addresses, or peer MetalLB elsewhere ({DOCS}/configuration/calico/)"
            )
        if name == "kube-router" and (facts.mode == BGP or _kube_router_advertises(facts)):
            problems.append(
                "kube-router's own BGP peering cannot be used together with MetalLB in BGP mode "
                f"({DOCS}/configuration/kube-router/)"
            )
        if name == "Weave Net":
            problems.append(
                "Weave Net left MetalLB's compatibility table; with externalTrafficPolicy: Local it "
                "needs Weave 2.4+ with NO_MASQ_LOCAL"
            )
    if problems:
        return Result(WARN, "; ".join(problems), tuple(details))
    return Result(OK, details=tuple(details))


# --------------------------------------------------------------------------------------------- nodes


def check_linux_nodes(facts):
    nodes = facts.items("nodes")
    if not nodes:
        return Result(FAIL, "the cluster has no nodes: MetalLB's controller and speaker cannot run anywhere")
    linux = [n for n in nodes if is_linux(n)]
    if not linux:
        return Result(FAIL, f"none of the {len(nodes)} nodes runs Linux: MetalLB only runs on Linux nodes")
    other = len(nodes) - len(linux)
    extra = f"; {other} non-Linux node(s) will not run a speaker" if other else ""
    return Result(OK, details=(f"{len(linux)} Linux node(s){extra}",))


def check_excluded_nodes(facts):
    nodes = [n for n in facts.items("nodes") if is_linux(n)]
    excluded = [k8s.name(n) for n in nodes if EXCLUDE_LB_LABEL in k8s.labels(n)]
    if not excluded:
        return Result(OK)
    if len(excluded) == len(nodes):
        what = "the only node is" if len(nodes) == 1 else "every node is"
        return Result(
            WARN,
            f"{what} labelled {EXCLUDE_LB_LABEL}: MetalLB will announce no address at all. Remove "
            "the label, or run the speaker with --ignore-exclude-lb",
            tuple(excluded),
        )
    return Result(
        WARN,
        f"{len(excluded)} of {len(nodes)} nodes are labelled {EXCLUDE_LB_LABEL}: MetalLB will not "
        "announce addresses from them",
        tuple(excluded),
    )


def blocking_taints(node, tolerations):
    """The taints (as "key=value:Effect") that keep a pod with these tolerations off a node for good."""
    return [k8s.taint_text(t) for t in k8s.blocking_taints(node, tolerations, ignore=k8s.TRANSIENT_TAINTS)]


def check_taints(facts):
    nodes = [n for n in facts.items("nodes") if is_linux(n)]
    if not nodes:
        raise Skip("no Linux nodes")
    speaker_off = {k8s.name(n): blocking_taints(n, SPEAKER_TOLERATIONS) for n in nodes}
    speaker_off = {k: v for k, v in speaker_off.items() if v}
    controller_ok = [n for n in nodes if not blocking_taints(n, ())]
    details = tuple(f"{name}: {', '.join(taints)}" for name, taints in sorted(speaker_off.items()))
    if not controller_ok:
        return Result(
            FAIL,
            "every Linux node has a taint that MetalLB's controller does not tolerate (it tolerates "
            "none): it cannot be scheduled, so no address would be assigned. Remove the taint "
            "from a node, or add tolerations to the controller",
            details or tuple(f"{k8s.name(n)}: {', '.join(blocking_taints(n, ()))}" for n in nodes),
        )
    if len(speaker_off) == len(nodes):
        return Result(
            FAIL,
            "the speaker tolerates only the control-plane taints: no node can run it, so no address would be announced",
            details,
        )
    if speaker_off:
        return Result(
            WARN,
            f"{len(speaker_off)} node(s) have taints the speaker does not tolerate: they will not announce addresses",
            details,
        )
    return Result(OK)


# --------------------------------------------------------------------------------------------- Pod Security


def check_pod_security(facts):
    found = facts.items("metallb_namespace")
    if not found:
        return Result(
            OK,
            details=(
                f"namespace {facts.namespace} does not exist yet: kubectl metallb install "
                "creates it with the privileged Pod Security labels",
            ),
        )
    labels = k8s.labels(found[0])
    level = labels.get(PSA_ENFORCE)
    if level == "privileged":
        return Result(OK, details=(f"namespace {facts.namespace} enforces the privileged level",))
    fix = f"kubectl label namespace {facts.namespace} {PSA_ENFORCE}=privileged --overwrite"
    if level:
        return Result(
            FAIL,
            f"namespace {facts.namespace} enforces Pod Security level {level!r}: the speaker "
            "(hostNetwork, NET_RAW) would be rejected. Run: " + fix,
        )
    return Result(
        WARN,
        f"namespace {facts.namespace} has no {PSA_ENFORCE} label, so the cluster-wide default "
        "applies, which the API does not show; if it is stricter than privileged the speaker is "
        "rejected. Run: " + fix,
    )


# --------------------------------------------------------------------------------------------- memberlist


def check_memberlist_ports(facts):
    return Result(
        WARN,
        f"the speakers talk to each other on TCP and UDP port {MEMBERLIST_PORT} (memberlist): make "
        "sure host firewalls allow it between all nodes (this cannot be checked from the API)",
    )


# pod labels of MetalLB's components in the manifest and in the Helm chart
POD_LABELS = {
    "speaker": (
        {"app": "metallb", "component": "speaker"},
        {"app.kubernetes.io/name": "metallb", "app.kubernetes.io/component": "speaker"},
    ),
    "controller": (
        {"app": "metallb", "component": "controller"},
        {"app.kubernetes.io/name": "metallb", "app.kubernetes.io/component": "controller"},
    ),
}
NEEDED_PORTS = {
    "speaker": (MEMBERLIST_PORT, ("TCP", "UDP"), ("memberlist-tcp", "memberlist-udp")),
    "controller": (WEBHOOK_PORT, ("TCP",), ("webhook-server",)),
}


def _selects(selector, label_sets):
    return any(selectors.matches(selector, labels) for labels in label_sets)


def _rule_allows(rule, port, protocol, names):
    ports = rule.get("ports")
    if not ports:
        return True  # no ports: every port
    for item in ports:
        if item.get("protocol", "TCP") != protocol:
            continue
        value = item.get("port")
        if value is None or value in names or value == port or str(value) == str(port):
            return True
        end = item.get("endPort")
        if isinstance(value, int) and end and value <= port <= end:
            return True
    return False


def blocked_ports(policy, component):
    """The protocols of a component's needed port that a NetworkPolicy selecting it does not let in."""
    spec = policy.get("spec") or {}
    if not _selects(spec.get("podSelector") or {}, POD_LABELS[component]):
        return []
    types = spec.get("policyTypes") or ["Ingress"]
    if "Ingress" not in types:
        return []
    port, protocols, names = NEEDED_PORTS[component]
    rules = spec.get("ingress") or []
    return [f"{port}/{p}" for p in protocols if not any(_rule_allows(r, port, p, names) for r in rules)]


def check_network_policies(facts):
    if not facts.items("metallb_namespace"):
        return Result(OK)
    policies = facts.items("networkpolicies")
    details = []
    for policy in policies:
        for component in ("speaker", "controller"):
            blocked = blocked_ports(policy, component)
            if blocked:
                details.append(f"{k8s.name(policy)}: blocks {', '.join(blocked)} to the {component}")
    if details:
        return Result(
            WARN,
            f"NetworkPolicies in {facts.namespace} keep traffic MetalLB needs out (memberlist "
            f"{MEMBERLIST_PORT} between speakers, webhook {WEBHOOK_PORT} from the API server)",
            tuple(details),
        )
    return Result(OK)


# --------------------------------------------------------------------------------------------- permissions

# (group, resource, namespaced) of every kind in the release manifests; install creates them with server-side
# apply, which needs create (new objects) and patch (existing ones)
INSTALL_RESOURCES = (
    ("", "namespaces", False),
    ("apiextensions.k8s.io", "customresourcedefinitions", False),
    ("rbac.authorization.k8s.io", "clusterroles", False),
    ("rbac.authorization.k8s.io", "clusterrolebindings", False),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", False),
    ("", "serviceaccounts", True),
    ("", "configmaps", True),
    ("", "secrets", True),
    ("", "services", True),
    ("rbac.authorization.k8s.io", "roles", True),
    ("rbac.authorization.k8s.io", "rolebindings", True),
    ("apps", "deployments", True),
    ("apps", "daemonsets", True),
)
INSTALL_VERBS = ("create", "patch")
POOL_RESOURCES = {L2: ("ipaddresspools", "l2advertisements"), BGP: ("ipaddresspools", "bgpadvertisements", "bgppeers")}


def needed_access(namespace, resources=INSTALL_RESOURCES, mode=L2, pools=False):
    """Every (verb, group, resource, namespace) install needs; with pools, what creating a pool needs too."""
    needs = []
    for group, resource, namespaced in resources:
        for verb in INSTALL_VERBS:
            needs.append(Access(verb, group, resource, namespace if namespaced else None))
    if pools:
        needs += [Access("create", "metallb.io", r, namespace) for r in POOL_RESOURCES[mode]]
    return list(dict.fromkeys(needs))


def check_permissions(facts):
    if isinstance(facts.permissions, Unreadable):
        raise Skip(facts.permissions.reason)
    reviews = facts.permissions or []
    missing = [access for access, allowed, _ in reviews if not allowed]
    what = "install and the planned pool need" if facts.addresses is not None else "install needs"
    if missing:
        return Result(
            FAIL,
            f"{len(missing)} of the {len(reviews)} permissions that {what} are missing",
            tuple(str(m) for m in missing),
        )
    return Result(OK, details=(f"all {len(reviews)} permissions that {what} are granted",))


def check_manifest_dry_run(facts):
    manifest = facts.manifest
    known = (
        f"{manifest.release[0]} {manifest.release[1]}"
        if manifest.release
        else f"not a known upstream release file (sha256 {manifest.sha256[:12]}...)"
    )
    if manifest.errors:
        return Result(
            FAIL,
            f"the API server refuses {len(manifest.errors)} of the {manifest.tried} cluster-scoped "
            f"objects of {manifest.path} ({known}) in a server-side dry run",
            tuple(manifest.errors),
        )
    if not manifest.release:
        return Result(
            WARN, f"{manifest.path} is {known}; its {manifest.tried} cluster-scoped objects pass a server-side dry run"
        )
    return Result(OK, details=(f"{manifest.tried} cluster-scoped objects of {known} pass a server-side dry run",))


# --------------------------------------------------------------------------------------------- kube-proxy


def kube_proxy_facts(facts):
    """kubeproxy.inspect() over what was read (kube-system ConfigMaps and Pods, the kube-proxy DaemonSet)."""
    nodes = facts.items("nodes") if facts.readable("nodes") else []
    configmaps = facts.items("configmaps")  # without the ConfigMaps nothing can be said
    daemonset = None
    if facts.readable("daemonsets"):
        daemonset = next(
            (
                d
                for d in facts.items("daemonsets")
                if k8s.meta(d).get("namespace") == KUBE_SYSTEM and k8s.name(d) == kubeproxy.DAEMONSET
            ),
            None,
        )
    pods = facts.items("pods") if facts.readable("pods") else []
    return kubeproxy.inspect(nodes=nodes, configmaps=configmaps, daemonset=daemonset, pods=pods)


def check_kube_proxy_mode(facts):
    info = kube_proxy_facts(facts)
    where = info.location.describe()
    if info.problem:
        return Result(WARN, f"{where} cannot be read: {info.problem}")
    if info.distribution == "cilium":
        return Result(OK, details=(info.message,))
    if info.mode is None:
        return Result(WARN, info.message, tuple(x for x in (info.hint,) + tuple(info.notes) if x))
    return Result(OK, details=(f"{info.mode} mode ({info.distribution}; {where})",) + tuple(info.notes))


def check_strict_arp(facts):
    info = kube_proxy_facts(facts)
    if info.needs_change is None:
        raise Skip(
            "kube-proxy's mode is not known" if not info.problem else "kube-proxy's configuration cannot be read"
        )
    if not info.needs_change:
        return Result(OK, details=(info.message,))
    details = () if info.editable else (info.hint,)
    if facts.mode == BGP:
        return Result(
            WARN, info.message + " (MetalLB's installation guide asks for it in IPVS mode, BGP included)", details
        )
    return Result(FAIL, info.message, details)


# --------------------------------------------------------------------------------------------- planned addresses


def parse_addresses(values):
    """--addresses values (repeatable, comma-separated) -> [AddressRange]; ipam.AddressError when invalid."""
    return ipam.parse_entries(ipam.split_addresses(list(values)))


def _ranges_text(ranges):
    return ", ".join(str(r) for r in ranges)


def check_address_size(facts):
    size = ipam.capacity(facts.addresses)
    families = [f"IPv{v}: {ipam.readable_count(n)}" for v, n in ((4, size.v4), (6, size.v6)) if n]
    return Result(
        OK,
        details=(
            f"{ipam.readable_count(size.total)} usable addresses ({', '.join(families)}) in "
            f"{_ranges_text(facts.addresses)}",
        ),
    )


def check_addresses_nodes(facts):
    hits = []
    for node in facts.items("nodes"):
        for kind, address in node_addresses(node):
            if ipam.contains(facts.addresses, address):
                hits.append(f"{k8s.name(node)}: {kind} {address}")
    if hits:
        return Result(
            WARN,
            f"{len(hits)} node address(es) are inside the planned range: MetalLB would hand them "
            "out and the node would lose traffic (ARP/NDP conflicts)",
            tuple(hits),
        )
    return Result(OK)


def service_cidrs(facts):
    """The service CIDRs (ServiceCIDR objects, Kubernetes 1.33+), or None when the server does not serve them."""
    if not facts.readable("servicecidrs"):
        raise Skip(facts.objects["servicecidrs"].reason)
    if facts.objects.get("servicecidrs") is None:
        return None
    return [cidr for obj in facts.items("servicecidrs") for cidr in (obj.get("spec") or {}).get("cidrs") or []]


def check_addresses_service_cidr(facts):
    cidrs = service_cidrs(facts)
    if cidrs is None:  # older server: at least the ClusterIPs in use must stay out
        used = [
            f"{k8s.qualified(s)}: {ip}"
            for s in facts.items("services")
            for ip in (s.get("spec") or {}).get("clusterIPs") or [(s.get("spec") or {}).get("clusterIP")]
            if ip and ip != "None" and ipam.contains(facts.addresses, ip)
        ]
        if used:
            return Result(
                WARN,
                "ClusterIPs of Services are inside the planned range, so it overlaps the service CIDR",
                tuple(used),
            )
        return Result(
            OK,
            details=(
                "the server does not list its service CIDR (ServiceCIDR, Kubernetes 1.33+); no "
                "ClusterIP is inside the planned range",
            ),
        )
    hits = [
        f"{_ranges_text(ipam.network_overlaps(facts.addresses, cidr))} overlaps service CIDR {cidr}"
        for cidr in cidrs
        if ipam.network_overlaps(facts.addresses, cidr)
    ]
    if hits:
        return Result(
            WARN, "the planned range overlaps the service CIDR: those addresses belong to ClusterIPs", tuple(hits)
        )
    return Result(OK, details=(f"service CIDR {', '.join(cidrs)}",) if cidrs else ())


def check_addresses_pod_cidr(facts):
    hits, seen = [], 0
    for node in facts.items("nodes"):
        spec = node.get("spec") or {}
        for cidr in spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []):
            seen += 1
            if ipam.network_overlaps(facts.addresses, cidr):
                hits.append(f"{k8s.name(node)}: pod CIDR {cidr}")
    if hits:
        return Result(WARN, "the planned range overlaps the pod network: those addresses belong to pods", tuple(hits))
    if not seen:
        return Result(
            OK,
            details=(
                "no node declares a pod CIDR (the network add-on may assign pod addresses "
                "itself: compare with its IP pools)",
            ),
        )
    return Result(OK)


def check_addresses_pools(facts):
    hits = []
    for pool in facts.items("ipaddresspools"):
        ranges, _ = k8s.pool_ranges(pool, lenient=True)  # a broken pool's readable entries still count
        for planned, existing in ipam.overlaps(facts.addresses, ranges):
            hits.append(f"{planned} overlaps {existing} of IPAddressPool {k8s.qualified(pool)}")
    if hits:
        return Result(WARN, "the planned range overlaps existing IPAddressPools, which MetalLB refuses", tuple(hits))
    return Result(OK)


def check_addresses_in_use(facts):
    used = [
        f"{k8s.qualified(s)}: {ip}"
        for s in facts.items("services")
        if is_load_balancer(s)
        for ip in ipam.ingress_ips(s)
        if ipam.contains(facts.addresses, ip)
    ]
    if used:
        return Result(
            WARN, f"{len(used)} address(es) of the planned range are already used by LoadBalancer Services", tuple(used)
        )
    return Result(OK)


# --------------------------------------------------------------------------------------------- the check list


def checks(facts):
    """The checks for this run, in display order (planned-address and manifest checks only when asked for)."""
    k8s, install, lbs, cni = "Kubernetes", "Existing installation", "Competing load balancers", "Network add-on"
    nodes, psa, ml, perms = "Nodes", "Pod Security", "Memberlist", "Permissions"
    found = [
        Check("kubernetes-api", k8s, "can reach the Kubernetes API", check_api),
        Check(
            "kubernetes-version",
            k8s,
            "Kubernetes version is supported by the MetalLB release",
            check_kubernetes_version,
            hint=f"{DOCS}/release-notes/",
        ),
        Check(
            "existing-install",
            install,
            "no other MetalLB installation",
            check_existing_install,
            hint="kubectl metallb status",
        ),
        Check(
            "legacy-config",
            install,
            "no legacy MetalLB ConfigMap configuration",
            check_legacy_config,
            severity="warning",
            hint="kubectl metallb pools migrate",
        ),
        Check(
            "microk8s-addon",
            install,
            "not a MicroK8s cluster with its own MetalLB addon",
            check_microk8s,
            severity="warning",
            hint="https://microk8s.io/docs/addon-metallb",
        ),
        Check("servicelb", lbs, "k3s/RKE2 ServiceLB is not active", check_servicelb, hint=f"{DOCS}/configuration/k3s/"),
        Check(
            "kube-vip",
            lbs,
            "kube-vip does not serve LoadBalancer Services",
            check_kube_vip,
            hint="https://kube-vip.io/docs/usage/cloud-provider/",
        ),
        Check(
            "cilium-lb-ipam",
            lbs,
            "Cilium LB-IPAM does not hand out addresses",
            check_cilium_lbipam,
            hint="https://docs.cilium.io/en/stable/network/lb-ipam/",
        ),
        Check(
            "cloud-provider",
            lbs,
            "not running on a cloud with its own load balancer",
            check_cloud_provider,
            hint=f"{DOCS}/installation/clouds/",
        ),
        Check(
            "foreign-addresses",
            lbs,
            "no LoadBalancer addresses from another implementation",
            check_foreign_addresses,
            severity="warning",
            hint=f"{DOCS}/troubleshooting/",
        ),
        Check(
            "network-addon",
            cni,
            "network add-on is compatible with MetalLB",
            check_network_addon,
            severity="warning",
            hint=f"{DOCS}/installation/network-addons/",
        ),
    ]
    found += kube_proxy_checks()
    found += [
        Check(
            "linux-nodes",
            nodes,
            "Linux nodes are present",
            check_linux_nodes,
            hint="kubectl get nodes -L kubernetes.io/os",
        ),
        Check(
            "excluded-nodes",
            nodes,
            f"no node is labelled {EXCLUDE_LB_LABEL}",
            check_excluded_nodes,
            severity="warning",
            hint=f"{DOCS}/troubleshooting/",
        ),
        Check(
            "node-taints",
            nodes,
            "MetalLB's pods tolerate the nodes' taints",
            check_taints,
            hint="kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints",
        ),
        Check(
            "pod-security",
            psa,
            f"namespace {facts.namespace} allows privileged pods",
            check_pod_security,
            hint=f"{DOCS}/installation/",
        ),
        Check(
            "memberlist-ports",
            ml,
            f"memberlist needs TCP and UDP port {MEMBERLIST_PORT} open between nodes",
            check_memberlist_ports,
            severity="warning",
            hint=f"{DOCS}/#requirements",
        ),
        Check(
            "network-policies",
            ml,
            f"no NetworkPolicy in {facts.namespace} blocks MetalLB",
            check_network_policies,
            severity="warning",
            hint=f"kubectl get networkpolicies -n {facts.namespace}",
        ),
        Check(
            "permissions",
            perms,
            "you may create everything install needs",
            check_permissions,
            hint=f"kubectl auth can-i --list -n {facts.namespace}",
        ),
    ]
    if facts.manifest is not None:
        found.append(
            Check(
                "manifest-dry-run",
                perms,
                "the API server accepts the release's cluster-scoped objects",
                check_manifest_dry_run,
                hint="kubectl apply --server-side --dry-run=server -f MANIFEST",
            )
        )
    if facts.addresses is not None:
        found += address_checks()
    return found


def kube_proxy_checks():
    category = "kube-proxy"
    return [
        Check(
            "kube-proxy-mode",
            category,
            "kube-proxy's mode is known",
            check_kube_proxy_mode,
            severity="warning",
            hint=f"{DOCS}/installation/#preparation",
        ),
        Check(
            "strict-arp",
            category,
            "kube-proxy does not answer ARP for MetalLB's addresses (strictARP)",
            check_strict_arp,
            hint="kubectl metallb strict-arp --enable",
        ),
    ]


def address_checks():
    category = "Planned addresses"
    return [
        Check("addresses-size", category, "planned addresses are usable", check_address_size),
        Check(
            "addresses-nodes",
            category,
            "planned addresses avoid node addresses",
            check_addresses_nodes,
            severity="warning",
            hint="kubectl get nodes -o wide",
        ),
        Check(
            "addresses-service-cidr",
            category,
            "planned addresses avoid the service CIDR",
            check_addresses_service_cidr,
            severity="warning",
            hint="kubectl get servicecidrs",
        ),
        Check(
            "addresses-pod-cidr",
            category,
            "planned addresses avoid the pod CIDRs",
            check_addresses_pod_cidr,
            severity="warning",
            hint="kubectl get nodes -o custom-columns=NAME:.metadata.name,PODCIDRS:.spec.podCIDRs",
        ),
        Check(
            "addresses-pools",
            category,
            "planned addresses avoid existing IPAddressPools",
            check_addresses_pools,
            severity="warning",
            hint="kubectl metallb pools",
        ),
        Check(
            "addresses-in-use",
            category,
            "planned addresses are not used by LoadBalancer Services yet",
            check_addresses_in_use,
            severity="warning",
            hint="kubectl get services -A --field-selector spec.type=LoadBalancer",
        ),
    ]
