"""kube-proxy's configuration: where it lives and what it says (locate), and a byte-preserving edit of
ipvs.strictARP (yamledit). Pure: no I/O.

    info = inspect(nodes=..., configmaps=..., daemonset=..., pods=...)   # locate.py: KubeProxy
    text = set_strict_arp(text, True)                                   # yamledit.py: only that value changes
"""

from metallb_plugin.core.kubeproxy.locate import (
    CONFIGMAP_NAMES,
    DAEMONSET,
    IPTABLES,
    IPVS,
    KERNELSPACE,
    MODES,
    NAMESPACE,
    NFTABLES,
    UNKNOWN_HINT,
    KubeProxy,
    Location,
    distribution,
    effective_mode,
    inspect,
    needs_strict_arp,
    node_args_proxy_flags,
    proxy_flags,
    rollout_pending,
    verdict,
)
from metallb_plugin.core.kubeproxy.yamledit import (
    MAX_VALUES,
    ConfigError,
    read_config,
    set_strict_arp,
    unified_diff,
    written_strict_arp,
)

__all__ = [
    "CONFIGMAP_NAMES",
    "DAEMONSET",
    "IPTABLES",
    "IPVS",
    "KERNELSPACE",
    "MAX_VALUES",
    "MODES",
    "NAMESPACE",
    "NFTABLES",
    "UNKNOWN_HINT",
    "ConfigError",
    "KubeProxy",
    "Location",
    "distribution",
    "effective_mode",
    "inspect",
    "needs_strict_arp",
    "node_args_proxy_flags",
    "proxy_flags",
    "read_config",
    "rollout_pending",
    "set_strict_arp",
    "unified_diff",
    "verdict",
    "written_strict_arp",
]
