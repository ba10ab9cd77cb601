"""Configuration: pools, advertisements, pools nothing announces, BGP, ConfigurationState, and the analyzer's
errors and warnings (kubectl metallb analyze) that no other status check reports."""

from typing import Dict, List

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import analyze
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.objects import Obj, meta, name
from metallb_plugin.core.status.common import (
    _plural,
    crds_served,
    named,
)
from metallb_plugin.core.view import CONFIG_KINDS, View


def _need_crds(view: View) -> None:
    if view.facts.metallb_served is None:
        raise Skip("the metallb.io API is not served (CRDs not installed)")


def check_crds(view: View) -> Result:
    if view.facts.metallb_served is None:
        if view.install:
            return Result(FAIL, "the metallb.io API is not served: MetalLB's CRDs are not installed")
        raise Skip("the metallb.io API is not served (CRDs not installed)")
    return check_pools(view)


def ignored_objects(view: View) -> List[str]:
    lines = []
    for kind in CONFIG_KINDS:
        by_ns: Dict[str, List[str]] = {}
        for obj in view.elsewhere[kind]:
            by_ns.setdefault(meta(obj).get("namespace", ""), []).append(name(obj))
        for namespace, names in sorted(by_ns.items()):
            lines.append(f"{kind} in {namespace}: {', '.join(names)}")
    return lines


def check_pools(view: View) -> Result:
    _need_crds(view)
    for kind in CONFIG_KINDS:
        view.facts.get(kind)
    counts = (
        f"{_plural(len(view.pools), 'IPAddressPool')}, "
        f"{_plural(len(view.local['l2advertisements']), 'L2Advertisement')}, "
        f"{_plural(len(view.local['bgpadvertisements']), 'BGPAdvertisement')}, "
        f"{_plural(len(view.local['bgppeers']), 'BGPPeer')} in {view.ns}"
    )
    ignored = ignored_objects(view)
    if ignored:
        ignored = [f"ignored (MetalLB only reads {view.ns}): {line}" for line in ignored]
    if not view.pools:
        return Result(FAIL, f"no IPAddressPool in {view.ns}: MetalLB assigns no address", tuple(ignored))
    if ignored:
        return Result(WARN, counts, tuple(ignored))
    return Result(OK, counts)


def check_advertisements(view: View) -> Result:
    _need_crds(view)
    if not view.pools:
        raise Skip("no pools")
    if not view.advertisements:
        return Result(FAIL, "no L2Advertisement or BGPAdvertisement: addresses are assigned but never announced")
    return Result(OK, f"{_plural(len(view.advertisements), 'advertisement')}")


def check_announced_pools(view: View) -> Result:
    _need_crds(view)
    if not view.pools or not view.advertisements:
        raise Skip("no pools or no advertisements")
    missing = adv.unannounced_pools(view.pools, view.advertisements)
    if missing:
        return Result(
            WARN,
            f"{_plural(len(missing), 'pool')} no advertisement selects (addresses assigned from "
            f"{'it' if len(missing) == 1 else 'them'} are never announced): {', '.join(missing)}",
        )
    return Result(OK, "every pool is announced by an advertisement")


def check_bgp(view: View) -> Result:
    _need_crds(view)
    bgp_ads, peers = view.local["bgpadvertisements"], view.local["bgppeers"]
    if not bgp_ads and not peers:
        raise Skip("no BGP configuration")
    if bgp_ads and not peers:
        return Result(WARN, "BGPAdvertisements exist but no BGPPeer: nothing is announced over BGP")
    if peers and not bgp_ads:
        return Result(
            WARN, f"{_plural(len(peers), 'BGPPeer')} but no BGPAdvertisement: sessions come up, nothing is announced"
        )
    return Result(OK, f"{_plural(len(peers), 'BGPPeer')}, {_plural(len(bgp_ads), 'BGPAdvertisement')}")


def _state_line(state: Obj) -> str:
    status = state.get("status") or {}
    summary = " ".join((status.get("errorSummary") or "").split())
    return f"{name(state)}: {status.get('result', 'Unknown')}" + (f": {summary}" if summary else "")


def check_configuration_state(view: View) -> Result:
    _need_crds(view)
    if not view.served("configurationstates"):
        raise Skip(
            "ConfigurationState needs MetalLB v0.15.3+; look for 'failed to parse the configuration' in the "
            "controller's log instead"
        )
    view.facts.get("configurationstates")
    states = view.local["configurationstates"]
    if not states:
        raise Skip("no ConfigurationState yet (MetalLB's components write them when they start)")
    invalid = [s for s in states if (s.get("status") or {}).get("result") == "Invalid"]
    unknown = [s for s in states if (s.get("status") or {}).get("result") not in ("Valid", "Invalid")]
    if invalid:
        return Result(
            FAIL,
            f"configuration rejected by {_plural(len(invalid), 'component')} (the last valid one keeps running)",
            tuple(_state_line(s) for s in invalid + unknown),
        )
    if unknown:
        return Result(
            WARN,
            f"configuration state unknown for {_plural(len(unknown), 'component')}",
            tuple(_state_line(s) for s in unknown),
        )
    return Result(OK, f"configuration valid ({_plural(len(states), 'component')}: Valid)")


def check_analyzer(view: View) -> Result:
    _need_crds(view)
    analysis = view.analysis()
    found = [
        f
        for f in analysis.findings
        if f.level in (analyze.ERROR, analyze.WARNING) and not analyze.RULES[f.code].shown_by
    ]
    if not found:
        skipped = len(analysis.skipped)
        return Result(
            OK, "the analyzer finds no problem" + (f" ({_plural(skipped, 'rule')} skipped)" if skipped else "")
        )
    errors = sum(1 for f in found if f.level == analyze.ERROR)
    counts = ", ".join(
        text
        for text in (
            _plural(errors, "error") if errors else "",
            _plural(len(found) - errors, "warning") if len(found) > errors else "",
        )
        if text
    )
    return Result(FAIL if errors else WARN, f"the analyzer finds {counts}", tuple(f.line() for f in found))


register(
    "configuration",
    "Configuration",
    (
        Check(
            "config.pools",
            "configuration",
            "address pools",
            check_crds,
            hint="kubectl metallb pools create NAME --addresses RANGE --l2",
        ),
        Check(
            "config.advertisements",
            "configuration",
            "advertisements",
            check_advertisements,
            hint="kubectl metallb pools create NAME --addresses RANGE --l2 (or create an L2Advertisement)",
            when=crds_served,
        ),
        Check(
            "config.announced-pools",
            "configuration",
            "every pool is announced",
            check_announced_pools,
            severity="warning",
            hint="kubectl metallb pools",
            when=crds_served,
        ),
        Check(
            "config.bgp",
            "configuration",
            "BGP peers and advertisements",
            check_bgp,
            severity="warning",
            hint="https://metallb.io/configuration/_advanced_bgp_configuration/",
            when=crds_served,
        ),
        Check(
            "config.state",
            "configuration",
            "configuration accepted",
            check_configuration_state,
            hint=named("kubectl -n {ns} get configurationstates -o yaml"),
            when=crds_served,
        ),
        Check(
            "config.analyzer",
            "configuration",
            "configuration analysis",
            check_analyzer,
            hint="kubectl metallb analyze (each code's fix and documentation)",
            when=crds_served,
        ),
    ),
)
