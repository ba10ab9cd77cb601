"""Where kube-proxy's configuration lives and what it says: its mode, ipvs.strictARP, and whether MetalLB needs
a change (pure).


Pure functions over the raw JSON (plain dicts) of Kubernetes objects: no I/O, no cluster, no printing.

The one entry point for callers (strict-arp, preflight) is `inspect()`:

    info = inspect(nodes=..., configmaps=..., daemonset=..., pods=...)
    info.needs_change      # True: kube-proxy runs IPVS without strict ARP (MetalLB layer 2 needs it)
                           # False: nothing to do; None: cannot tell (see info.message / info.hint)
    info.as_dict()         # the stable JSON shape of `kubectl metallb strict-arp -o json`

What to read from the cluster and pass in (pass what you could read; missing input only makes the answer less
certain, it never raises):
  - nodes:      the Node list (distribution hints: kubelet version suffix, k3s/RKE2 node-args annotations,
                the MicroK8s label, kind providerID)
  - configmaps: ConfigMaps of `kube-system` (any iterable of raw ConfigMaps; only CONFIGMAP_NAMES matter, so a GET
                of each of those names is enough)
  - daemonset:  the DaemonSet kube-system/kube-proxy, or None (its ConfigMap volume and --config path locate a
                configuration with an unusual name)
  - pods:       Pods of `kube-system` (only those named kube-proxy* matter: RKE2 static pods, flag-configured
                kube-proxy)
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from metallb_plugin import defaults
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.kubeproxy.yamledit import ConfigError, _read
from metallb_plugin.core.objects import Obj

NAMESPACE = defaults.KUBE_SYSTEM
DAEMONSET = "kube-proxy"
CILIUM_CONFIGMAP = "cilium-config"

# (ConfigMap name, data key, distribution) in the order they are looked for.
CONFIG_LOCATIONS = (
    ("kube-proxy", "config.conf", "kubeadm"),  # kubeadm and kind (cmd/kubeadm/app/constants)
    ("kube-proxy-config", "config", "eks"),  # EKS managed add-on
)
CONFIGMAP_NAMES = tuple(name for name, _, _ in CONFIG_LOCATIONS) + (CILIUM_CONFIGMAP,)

IPTABLES, IPVS, NFTABLES, KERNELSPACE = "iptables", "ipvs", "nftables", "kernelspace"
MODES = (IPTABLES, IPVS, NFTABLES, KERNELSPACE)

# kube-proxy configuration the plugin cannot edit: where the setting lives instead (the exact flag or file).
K3S_HINT = (
    "k3s runs kube-proxy inside the k3s process: add --kube-proxy-arg=ipvs-strict-arp=true to every k3s "
    'server and agent (or `kube-proxy-arg: ["ipvs-strict-arp=true"]` in /etc/rancher/k3s/config.yaml) '
    "and restart k3s on each node"
)
RKE2_HINT = (
    "RKE2 runs kube-proxy as a static pod generated from its own configuration: add "
    '`kube-proxy-arg: ["ipvs-strict-arp=true"]` to /etc/rancher/rke2/config.yaml on every server and '
    "agent and restart rke2-server / rke2-agent on each node"
)
MICROK8S_HINT = (
    "MicroK8s runs kube-proxy as a snap service: add --ipvs-strict-arp=true to "
    "/var/snap/microk8s/current/args/kube-proxy on every node, then `sudo snap restart microk8s`"
)
CILIUM_HINT = (
    "Cilium replaces kube-proxy (kube-proxy-replacement in ConfigMap kube-system/cilium-config): there "
    "is no IPVS and strict ARP does not apply. Make sure Cilium's own LB-IPAM / L2 announcements do "
    "not also serve LoadBalancer Services"
)
FLAGS_HINT = (
    "kube-proxy is configured with command-line flags: add --ipvs-strict-arp=true to the kube-proxy "
    "pods' arguments where they are defined (their DaemonSet or static pod manifest)"
)
UNKNOWN_HINT = (
    "no kube-proxy configuration found in the API: check how kube-proxy is configured on the nodes "
    "(--proxy-mode / --ipvs-strict-arp flags, or ipvs.strictARP in its --config file)"
)


@dataclass(frozen=True)
class Location:
    """Where kube-proxy's configuration lives.

    kind: "ConfigMap" (editable by the plugin), "NodeArgs" (k3s/RKE2: read from a node annotation; set in
    `path` on each node), "File" (MicroK8s: `path` on each node), "PodArgs" (flags of kube-proxy pods),
    "CiliumConfig" (no kube-proxy), or "Unknown".
    """

    kind: str
    namespace: str = ""
    name: str = ""
    key: str = ""
    path: str = ""

    def describe(self) -> str:
        if self.kind == "ConfigMap":
            return f"ConfigMap {self.namespace}/{self.name}, key {self.key}"
        if self.kind == "NodeArgs":
            return f"{self.path} on each node (seen in the Node annotation {self.key})"
        if self.kind == "File":
            return f"{self.path} on each node"
        if self.kind == "PodArgs":
            return f"command-line flags of pod {self.namespace}/{self.name}"
        if self.kind == "CiliumConfig":
            return f"ConfigMap {self.namespace}/{self.name} (Cilium kube-proxy replacement; no kube-proxy)"
        return "unknown"

    def as_dict(self) -> Dict[str, str]:
        doc = {"kind": self.kind}
        for key in ("namespace", "name", "key", "path"):
            if getattr(self, key):
                doc[key] = getattr(self, key)
        doc["description"] = self.describe()
        return doc


@dataclass(frozen=True)
class KubeProxy:
    """What is known about kube-proxy, and the verdict for MetalLB."""

    distribution: str  # kubeadm, kind, eks, k3s, rke2, microk8s, cilium, k0s, unknown
    location: Location
    configured_mode: Optional[str] = None  # the mode text as configured ("" = default); None when not known
    mode: Optional[str] = None  # the effective mode (one of MODES), None when not known or there is no kube-proxy
    strict_arp: Optional[bool] = None  # True / False, None when not known
    needs_change: Optional[bool] = None  # True: MetalLB needs strictARP enabled; False: nothing to do; None: unknown
    message: str = ""  # the verdict in one sentence
    hint: str = ""  # where and how to change it when the plugin cannot (exact flag or file)
    problem: str = ""  # why the configuration could not be read (malformed), "" when fine
    notes: Tuple[str, ...] = field(default_factory=tuple)  # extra observations (e.g. flags overriding the ConfigMap)

    @property
    def editable(self) -> bool:
        """True when the plugin can change strictARP itself (a kube-proxy ConfigMap it could parse)."""
        return self.location.kind == "ConfigMap" and not self.problem

    def as_dict(self) -> Dict[str, Any]:
        return {
            "distribution": self.distribution,
            "location": self.location.as_dict(),
            "editable": self.editable,
            "configuredMode": self.configured_mode,
            "mode": self.mode,
            "strictARP": self.strict_arp,
            "metallbNeedsChange": self.needs_change,
            "message": self.message,
            "hint": self.hint,
            "problem": self.problem,
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------------- small facts


def effective_mode(configured: Optional[str]) -> Optional[str]:
    """kube-proxy's mode as it runs on Linux: "" or None configured means iptables (the default)."""
    if configured is None:
        return None
    text = str(configured).strip().lower()
    return text or IPTABLES


def needs_strict_arp(mode: Optional[str], strict_arp: Optional[bool]) -> Optional[bool]:
    """Does MetalLB need a change? IPVS answers ARP for every LoadBalancer IP on every node unless strictARP.

    True / False, or None when the mode is not known.
    """
    if mode is None:
        return None
    return mode == IPVS and strict_arp is not True


def verdict(mode: Optional[str], strict_arp: Optional[bool]) -> str:
    """One sentence for the mode and strictARP pair."""
    if mode is None:
        return "kube-proxy's mode is not known: cannot tell whether MetalLB needs strict ARP"
    if mode == IPVS:
        if strict_arp is True:
            return "kube-proxy runs in IPVS mode with strict ARP enabled: nothing to change"
        if strict_arp is None:
            return "kube-proxy runs in IPVS mode; whether strict ARP is enabled is not known"
        return "kube-proxy runs in IPVS mode without strict ARP: MetalLB needs ipvs.strictARP: true"
    return f"kube-proxy runs in {mode} mode: MetalLB does not need strict ARP"


def proxy_flags(argv: Optional[Sequence[Any]]) -> Tuple[Optional[str], Optional[bool], Optional[str]]:
    """(mode or None, strict ARP or None, --config path or None) from kube-proxy's argv (Go flag syntax;
    `--ipvs-strict-arp` alone means true)."""
    return (
        k8s.flag_value(argv or (), "proxy-mode"),
        k8s.flag_switch(argv or (), "ipvs-strict-arp"),
        k8s.flag_value(argv or (), "config"),
    )


def node_args_proxy_flags(argv: Optional[Sequence[Any]]) -> Tuple[Optional[str], Optional[bool], Optional[str]]:
    """kube-proxy flags from a k3s/RKE2 `node-args` argv: values of --kube-proxy-arg (either form)."""
    return proxy_flags(["--" + v.lstrip("-") for v in k8s.flag_values(argv or (), "kube-proxy-arg")])


def distribution(nodes: Optional[Iterable[Obj]]) -> str:
    """The distribution the Node objects reveal: k3s, rke2, microk8s, k0s, eks, kind, or "" when unknown."""
    for node in nodes or ():
        meta = node.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        labels = meta.get("labels") or {}
        kubelet = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or ""
        if "rke2.io/node-args" in annotations or "+rke2" in kubelet:
            return "rke2"
        if (
            "k3s.io/node-args" in annotations
            or "+k3s" in kubelet
            or labels.get("node.kubernetes.io/instance-type") == "k3s"
        ):
            return "k3s"
        if labels.get("microk8s.io/cluster") == "true":
            return "microk8s"
        if "+k0s" in kubelet:
            return "k0s"
        if "-eks-" in kubelet:
            return "eks"
        if str((node.get("spec") or {}).get("providerID", "")).startswith("kind://"):
            return "kind"
    return ""


def _node_args(nodes: Optional[Iterable[Obj]], annotation: str) -> Optional[List[str]]:
    """The first node's parsed node-args annotation (a JSON argv), or None."""
    for node in nodes or ():
        argv = k8s.json_argv(k8s.annotations(node).get(annotation))
        if argv is not None:
            return argv
    return None


def _cilium_replaces_kube_proxy(cilium_config: Optional[Obj]) -> bool:
    value = str(((cilium_config or {}).get("data") or {}).get("kube-proxy-replacement", "")).strip().lower()
    return value in ("true", "strict")


def _is_kube_proxy_pod(pod: Obj) -> bool:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    return bool(
        meta.get("name", "").startswith("kube-proxy")
        or labels.get("k8s-app") == "kube-proxy"
        or labels.get("component") == "kube-proxy"
    )


def _container_argv(pod_spec: Optional[Obj]) -> List[Any]:
    for container in (pod_spec or {}).get("containers") or ():
        argv = list(container.get("command") or ()) + list(container.get("args") or ())
        if any("kube-proxy" in str(a) for a in argv[:1]) or container.get("name") == "kube-proxy":
            return argv
    return []


def _daemonset_configmap(daemonset: Optional[Obj]) -> Optional[Tuple[str, str]]:
    """(ConfigMap name, key) that the kube-proxy DaemonSet's --config file comes from, or None."""
    spec = (((daemonset or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    _, _, config = proxy_flags(_container_argv(spec))
    if not config:
        return None
    volumes = {v.get("name"): (v.get("configMap") or {}) for v in spec.get("volumes") or () if v.get("configMap")}
    for container in spec.get("containers") or ():
        for mount in container.get("volumeMounts") or ():
            cm = volumes.get(mount.get("name"))
            if cm is None:
                continue
            base = mount.get("mountPath", "").rstrip("/") + "/"
            if mount.get("subPath") and config == mount.get("mountPath"):
                key = mount["subPath"]
            elif config.startswith(base):
                key = config[len(base) :]
            else:
                continue
            for item in cm.get("items") or ():  # items may map keys to other file names
                if item.get("path") == key:
                    key = item.get("key", key)
            return str(cm.get("name")), str(key)
    return None


# --------------------------------------------------------------------------------------------- inspect


def inspect(
    nodes: Iterable[Obj] = (),
    configmaps: Iterable[Obj] = (),
    daemonset: Optional[Obj] = None,
    pods: Iterable[Obj] = (),
) -> KubeProxy:
    """Locate kube-proxy's configuration and judge it for MetalLB. See the module docstring for the inputs."""
    nodes = list(nodes or ())
    by_name: Dict[str, Obj] = {}
    for cm in configmaps or ():
        if cm:
            by_name[k8s.name(cm)] = cm
    proxy_pods = [p for p in pods or () if _is_kube_proxy_pod(p)]
    distro = distribution(nodes)

    if distro in ("k3s", "rke2"):
        return _from_node_args(distro, nodes, proxy_pods)
    if distro == "microk8s":
        return KubeProxy(
            "microk8s",
            Location("File", path="/var/snap/microk8s/current/args/kube-proxy"),
            message="MicroK8s keeps kube-proxy's flags on the nodes, not in the API: "
            "mode and strict ARP are not visible from here",
            hint=MICROK8S_HINT,
        )
    if daemonset is None and not proxy_pods and _cilium_replaces_kube_proxy(by_name.get(CILIUM_CONFIGMAP)):
        return KubeProxy(
            "cilium",
            Location("CiliumConfig", NAMESPACE, CILIUM_CONFIGMAP, "kube-proxy-replacement"),
            needs_change=False,
            message="no kube-proxy: Cilium replaces it, so strict ARP does not apply",
            hint=CILIUM_HINT,
        )

    found = _configmap_location(by_name, daemonset, distro)
    if found:
        name, key, distro = found
        location = Location("ConfigMap", NAMESPACE, name, key)
        text = str((by_name[name].get("data") or {}).get(key) or "")
        try:
            configured, strict, notes = _read(text)
        except ConfigError as exc:
            return KubeProxy(distro, location, message=f"{location.describe()} cannot be read: {exc}", problem=str(exc))
        mode = effective_mode(configured)
        return KubeProxy(
            distro,
            location,
            configured,
            mode,
            strict,
            needs_strict_arp(mode, strict),
            verdict(mode, strict),
            notes=tuple(notes) + _flag_overrides(daemonset, mode, strict),
        )

    for pod in proxy_pods:
        flag_mode, flag_strict, _ = proxy_flags(_container_argv(pod.get("spec")))
        if flag_mode is not None or flag_strict is not None:
            meta = pod.get("metadata") or {}
            pod_mode = effective_mode(flag_mode if flag_mode is not None else "")
            pod_strict = bool(flag_strict)
            return KubeProxy(
                distro or "unknown",
                Location("PodArgs", meta.get("namespace", NAMESPACE), meta.get("name", "")),
                pod_mode if pod_mode else "",
                pod_mode,
                pod_strict,
                needs_strict_arp(pod_mode, pod_strict),
                verdict(pod_mode, pod_strict),
                hint=FLAGS_HINT if needs_strict_arp(pod_mode, pod_strict) else "",
            )
    return KubeProxy(
        distro or "unknown",
        Location("Unknown"),
        message="kube-proxy's configuration was not found in the API: cannot tell whether MetalLB needs strict ARP",
        hint=UNKNOWN_HINT,
    )


def _configmap_location(
    by_name: Dict[str, Obj], daemonset: Optional[Obj], distro: str
) -> Optional[Tuple[str, str, str]]:
    """(name, key, distribution) of the ConfigMap holding the configuration, or None."""
    mounted = _daemonset_configmap(daemonset)
    for name, key, default_distro in CONFIG_LOCATIONS:
        if name in by_name and key in (by_name[name].get("data") or {}) and (mounted is None or mounted[0] == name):
            return name, key, distro if distro in ("kind", "eks") else default_distro
    if mounted and mounted[0] in by_name:
        return mounted[0], mounted[1], distro or "unknown"
    return None


def _flag_overrides(daemonset: Optional[Obj], mode: Optional[str], strict: Optional[bool]) -> Tuple[str, ...]:
    """Notes when kube-proxy's own flags contradict its configuration file (flags win in current kube-proxy)."""
    spec = (((daemonset or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    flag_mode, flag_strict, _ = proxy_flags(_container_argv(spec))
    notes = []
    if flag_mode is not None and effective_mode(flag_mode) != mode:
        notes.append(
            f"the kube-proxy DaemonSet also passes --proxy-mode={flag_mode}, which differs from the configuration file"
        )
    if flag_strict is not None and flag_strict != strict:
        notes.append(
            f"the kube-proxy DaemonSet also passes --ipvs-strict-arp={str(flag_strict).lower()}, which "
            "differs from the configuration file"
        )
    return tuple(notes)


def _from_node_args(distro: str, nodes: List[Obj], proxy_pods: List[Obj]) -> KubeProxy:
    annotation = f"{'k3s.io' if distro == 'k3s' else 'rke2.io'}/node-args"
    path = "/etc/rancher/k3s/config.yaml" if distro == "k3s" else "/etc/rancher/rke2/config.yaml"
    hint = K3S_HINT if distro == "k3s" else RKE2_HINT
    location = Location("NodeArgs", key=annotation, path=path)
    argv = _node_args(nodes, annotation)
    mode = strict = None
    if argv is not None:
        mode, strict, _ = node_args_proxy_flags(argv)
    for pod in proxy_pods:  # RKE2's static pods carry the effective flags
        pod_mode, pod_strict, _ = proxy_flags(_container_argv(pod.get("spec")))
        mode = pod_mode if pod_mode is not None else mode
        strict = pod_strict if pod_strict is not None else strict
        argv = argv if argv is not None else []
    if argv is None:
        return KubeProxy(
            distro,
            location,
            message=f"{distro} keeps kube-proxy's flags on the nodes; no "
            f"{annotation} annotation is readable, so the mode is not known",
            hint=hint,
        )
    configured = mode if mode is not None else ""
    mode = effective_mode(configured)
    strict = bool(strict)
    return KubeProxy(
        distro, location, configured, mode, strict, needs_strict_arp(mode, strict), verdict(mode, strict), hint=hint
    )


# --------------------------------------------------------------------------------------------- restart


def rollout_pending(daemonset: Optional[Obj], pods: Iterable[Obj], restarted_at: str) -> List[str]:
    """Sorted names of the nodes whose kube-proxy pod still predates the restart or is not Ready yet.

    `restarted_at` is the RFC 3339 UTC time written into the pod template (2026-07-01T10:00:00Z). Timestamps have
    one-second resolution, so a pod created in that same second counts as old: this only decides what is shown as
    pending, never when the rollout is complete (that is the DaemonSet's status)."""
    from metallb_plugin.core.selectors import matches

    meta = (daemonset or {}).get("metadata") or {}
    selector = ((daemonset or {}).get("spec") or {}).get("selector")
    pending = set()
    for pod in pods or ():
        pod_meta = pod.get("metadata") or {}
        if pod_meta.get("namespace") != meta.get("namespace") or not matches(selector, pod_meta.get("labels") or {}):
            continue
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            continue
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (pod.get("status") or {}).get("conditions") or ()
        )
        if pod_meta.get("deletionTimestamp") or pod_meta.get("creationTimestamp", "") <= restarted_at or not ready:
            pending.add(node)
    return sorted(pending)
