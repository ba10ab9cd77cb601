"""Features the native BGP backend does not have (MetalLB's DiscardFRROnly validation): BFD, IPv6 over BGP, and the
FRR-only BGPPeer fields and large communities."""

from typing import List

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.analyze.finding import ERROR, Finding, Ref, finding, rule
from metallb_plugin.core.analyze.model import Model
from metallb_plugin.core.analyze.references import community_problem
from metallb_plugin.core.checks import register
from metallb_plugin.core.objects import name

NATIVE = "native"
FIX = "use an FRR-based backend (kubectl metallb install --mode frr-k8s), or remove {what}"
# BGPPeer fields only FRR and FRR-K8s implement (refused when set to anything but their zero value)
FRR_ONLY_FIELDS = (
    "keepaliveTime",
    "vrf",
    "connectTime",
    "enableGracefulRestart",
    "disableMP",
    "dualStackAddressFamily",
    "dynamicASN",
    "interface",
    "localASN",
)


def _native(model: Model) -> bool:
    return model.need_backend() == NATIVE


def bfd(model: Model) -> List[Finding]:
    if not _native(model):
        return []
    found = []
    for profile in model.local["bfdprofiles"]:
        found.append(
            finding(
                "MLB0201",
                f"BFDProfile {name(profile)}: the native backend has no BFD, and MetalLB rejects the whole "
                'configuration while a BFD profile exists ("bfd profiles section set")',
                FIX.format(what="the BFDProfile"),
                Ref.of(profile),
            )
        )
    for peer in model.local["bgppeers"]:
        if k8s.spec(peer).get("bfdProfile"):
            found.append(
                finding(
                    "MLB0201",
                    f"BGPPeer {name(peer)} sets bfdProfile, but the native backend has no BFD: MetalLB rejects the "
                    "whole configuration",
                    FIX.format(what="spec.bfdProfile from the peer"),
                    Ref.of(peer, "spec.bfdProfile"),
                )
            )
    return found


def _bgp_pools(model: Model) -> List[k8s.Obj]:
    """The pools some BGPAdvertisement announces (as MetalLB's native check selects them)."""
    ads = model.local["bgpadvertisements"]
    return [p for p in model.pools if any(adv.selects_pool(a, p) for a in ads)]


def ipv6(model: Model) -> List[Finding]:
    if not _native(model):
        return []
    found = []
    for pool in _bgp_pools(model):
        entry = next((e for e in model.entries(pool) if e.range is not None and e.range.version == 6), None)
        if entry is None:
            continue
        found.append(
            finding(
                "MLB0202",
                f"IPAddressPool {name(pool)} has IPv6 addresses ({entry.text}) and a BGPAdvertisement announces it, "
                "but the native backend speaks BGP over IPv4 only: MetalLB rejects the configuration",
                FIX.format(what="the IPv6 addresses, or announce this pool in layer 2 only"),
                Ref.of(pool, entry.path, kind="IPAddressPool"),
            )
        )
    return found


def frr_only(model: Model) -> List[Finding]:
    if not _native(model):
        return []
    found = []
    for peer in model.local["bgppeers"]:
        spec = k8s.spec(peer)
        for field in FRR_ONLY_FIELDS:
            value = spec.get(field)
            if not value or (field == "keepaliveTime" and str(value) in ("0", "0s")):
                continue
            found.append(
                finding(
                    "MLB0203",
                    f"BGPPeer {name(peer)} sets {field}, which only the FRR backends implement: MetalLB's webhook "
                    "refuses it on the native backend",
                    FIX.format(what=f"spec.{field}"),
                    Ref.of(peer, f"spec.{field}"),
                )
            )
    for ad in model.local["bgpadvertisements"]:
        for index, text in enumerate(k8s.spec(ad).get("communities") or []):
            if str(text).startswith("large:") and community_problem(str(text)) is None:
                found.append(
                    finding(
                        "MLB0203",
                        f"BGPAdvertisement {name(ad)} uses the large community {text}, which the native backend "
                        "cannot send",
                        FIX.format(what="the large community"),
                        Ref.of(ad, f"spec.communities[{index}]"),
                    )
                )
    for item in model.local["communities"]:
        for index, alias in enumerate(k8s.spec(item).get("communities") or []):
            value = str(alias.get("value") or "")
            if value.startswith("large:") and community_problem(value) is None:
                found.append(
                    finding(
                        "MLB0203",
                        f"Community {name(item)} defines {alias.get('name')} as the large community {value}, which "
                        "the native backend cannot send",
                        FIX.format(what="the large community"),
                        Ref.of(item, f"spec.communities[{index}].value"),
                    )
                )
    return found


register(
    "analyze.backend",
    "BGP backend",
    (
        rule("MLB0201", ERROR, "no BFD on the native backend", bfd, needs=("bfdprofiles", "bgppeers")),
        rule(
            "MLB0202",
            ERROR,
            "no IPv6 over BGP on the native backend",
            ipv6,
            needs=("ipaddresspools", "bgpadvertisements"),
        ),
        rule(
            "MLB0203",
            ERROR,
            "no FRR-only BGP features on the native backend",
            frr_only,
            needs=("bgppeers", "bgpadvertisements", "communities"),
        ),
    ),
)
