"""Announcement: pools nothing announces, advertisements whose nodes or interfaces announce nothing."""

import re
from typing import List

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import events as ev
from metallb_plugin.core import objects as k8s
from metallb_plugin.core import service_status as svc
from metallb_plugin.core.analyze.finding import ERROR, WARNING, Finding, Ref, finding, rule
from metallb_plugin.core.analyze.model import Model
from metallb_plugin.core.checks import register
from metallb_plugin.core.election import EXCLUDE_LABEL
from metallb_plugin.core.objects import listing, name
from metallb_plugin.core.selectors import describe

ADS = ("l2advertisements", "bgpadvertisements")
ANNOUNCE_FAILED = re.compile(r'LB IP "([^"]+)" doesn\'t exist in assigned node "([^"]+)"')


def unannounced_pools(model: Model) -> List[Finding]:
    found = []
    for pool_name in adv.unannounced_pools(model.pools, model.advertisements):
        pool = next(p for p in model.pools if name(p) == pool_name)
        found.append(
            finding(
                "MLB0301",
                f"IPAddressPool {pool_name}: no L2Advertisement or BGPAdvertisement announces it, so MetalLB "
                "assigns its addresses but no node answers for them",
                f"create an L2Advertisement (or BGPAdvertisement) in {model.ns} with spec.ipAddressPools: "
                f"[{pool_name}]",
                Ref.of(pool, kind="IPAddressPool"),
            )
        )
    return found


def _selectors(ad: k8s.Obj) -> str:
    return " or ".join(describe(s) for s in k8s.spec(ad).get("nodeSelectors") or []) or "all nodes"


def no_nodes(model: Model) -> List[Finding]:
    if not model.nodes:
        return []  # a cluster without nodes (or none given with -f): nothing to compare with
    found = []
    for ad in model.advertisements:
        if k8s.spec(ad).get("nodeSelectors") and not model.selected_nodes(ad):
            found.append(
                finding(
                    "MLB0302",
                    f"{ad['kind']} {name(ad)}: its nodeSelectors ({_selectors(ad)}) select none of the "
                    f"{len(model.nodes)} nodes, so it announces nothing",
                    "correct the nodeSelectors, or label the nodes that should announce (kubectl label node NODE "
                    "KEY=VALUE)",
                    Ref.of(ad, "spec.nodeSelectors"),
                )
            )
    return found


def only_excluded(model: Model) -> List[Finding]:
    found = []
    for ad in model.advertisements:
        selected = model.selected_nodes(ad)
        if not selected or not all(model.excluded(n) for n in selected):
            continue
        names = [name(n) for n in selected]
        found.append(
            finding(
                "MLB0303",
                f"{ad['kind']} {name(ad)} selects only nodes labelled {EXCLUDE_LABEL} ({listing(names)}), which "
                "MetalLB never announces from, so it announces nothing",
                f"select other nodes, remove the label from a node that should announce (kubectl label node "
                f"{names[0]} {EXCLUDE_LABEL}-), or run the speaker with --ignore-exclude-lb (Helm: "
                "speaker.ignoreExcludeLB=true)",
                Ref.of(ad, "spec.nodeSelectors"),
                *(Ref.of(n, f"metadata.labels[{EXCLUDE_LABEL}]", kind="Node") for n in selected),
            )
        )
    return found


def interfaces(model: Model) -> List[Finding]:
    found = []
    patterns, source = model.excluded_interfaces()
    for ad in model.local["l2advertisements"]:
        for index, interface in enumerate(k8s.spec(ad).get("interfaces") or []):
            if any(re.search(p, str(interface)) for p in patterns):
                found.append(
                    finding(
                        "MLB0304",
                        f"L2Advertisement {name(ad)} announces on interface {interface}, which the speakers never "
                        f"announce on ({source})",
                        "name the nodes' LAN interface (like eth0), or leave spec.interfaces out to use them all",
                        Ref.of(ad, f"spec.interfaces[{index}]"),
                    )
                )
    if not model.facts.readable("serviceEvents"):
        return found
    for service in model.services:
        events = model.view.events_of_service(service)
        failed = ev.latest(events, reasons=("announceFailed",), type_="Warning")
        if failed is None or any(a.protocol == adv.L2 for a in svc.announcements(model.view, service)):
            continue  # announced after all (the event is older than a fix)
        match = ANNOUNCE_FAILED.search(failed.get("message") or "")
        node = match.group(2) if match else "the elected node"
        pool = model.pool_of(service)
        covering = model.view.covering.get(pool or "", [])
        with_interfaces = [a for a in covering if adv.protocol(a) == adv.L2 and k8s.spec(a).get("interfaces")]
        named = sorted({str(i) for a in with_interfaces for i in k8s.spec(a).get("interfaces") or []})
        found.append(
            finding(
                "MLB0304",
                f"Service {k8s.key(service)} is not announced: node {node} has none of the interfaces its "
                f"L2Advertisements name ({', '.join(named) or 'none'}; MetalLB's announceFailed event)",
                f"name an interface node {node} has, or keep that node out with the advertisement's nodeSelectors",
                Ref.of(service, kind="Service"),
                *(Ref.of(a, "spec.interfaces") for a in with_interfaces),
            )
        )
    return found


register(
    "analyze.announcement",
    "Announcement",
    (
        rule(
            "MLB0301",
            WARNING,
            "every pool is announced",
            unannounced_pools,
            needs=("ipaddresspools",) + ADS,
            shown_by="config.announced-pools",
        ),
        rule("MLB0302", ERROR, "advertisements' nodeSelectors select nodes", no_nodes, needs=ADS + ("nodes",)),
        rule(
            "MLB0303",
            ERROR,
            "advertisements select nodes MetalLB announces from",
            only_excluded,
            needs=ADS + ("nodes",),
        ),
        rule(
            "MLB0304",
            ERROR,
            "advertisements' interfaces can announce",
            interfaces,
            needs=("l2advertisements",),
        ),
    ),
)
