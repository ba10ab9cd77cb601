"""Preflight: is this cluster ready for MetalLB? Checks over what was read from the cluster (pure, no I/O).

`commands/preflight.py` reads the `SOURCES` (one LIST per kind, raw JSON) into a `Facts` snapshot, adds what it
learned from access reviews and the manifest's dry run, then runs `evaluate(facts, skip)`. A kind that could not
be read is `Unreadable(reason)` in the snapshot; the checks that need it are skipped with that reason.

One module per category, each registering its checks (core/checks.py) in display order: kubernetes, installs,
loadbalancers, addons, proxy, nodes, policies (Pod Security, memberlist), permissions, addresses, prometheus. Result
conventions: a warning or failure explains itself in `message` (details list the objects concerned); a pass puts
what it found (the CNI, the kube-proxy mode, the number of addresses) in `details`.
"""

from typing import Iterable, List

from metallb_plugin.core import checks

# imported for their registrations, in display order
from metallb_plugin.core.preflight import (  # noqa: F401
    addons,
    addresses,
    installs,
    kubernetes,
    loadbalancers,
    nodes,
    permissions,
    policies,
    prometheus,
    proxy,
)
from metallb_plugin.core.preflight.facts import BGP, L2, SOURCES, Access, Facts, ManifestCheck

CATEGORY_IDS = (
    "kubernetes",
    "existing-installation",
    "competing-load-balancers",
    "network-add-on",
    "kube-proxy",
    "nodes",
    "pod-security",
    "memberlist",
    "permissions",
    "planned-addresses",
    "prometheus",
)
CHECK_IDS = tuple(checks.check_ids(CATEGORY_IDS))

__all__ = ["BGP", "CATEGORY_IDS", "CHECK_IDS", "L2", "SOURCES", "Access", "Facts", "ManifestCheck", "evaluate"]


def evaluate(facts: Facts, skip: Iterable[str] = ()) -> List[checks.Outcome]:
    """The outcomes of every preflight check over facts, in display order; skip: check ids not to run."""
    return checks.evaluate(facts, CATEGORY_IDS, skip)
