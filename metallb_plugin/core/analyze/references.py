"""References that point nowhere: advertisement -> pool (by name or selector), peer -> BFD profile and password
Secret, advertisement -> community alias and peer, Service -> pool and address."""

import re
from typing import List, Optional, Tuple

from metallb_plugin.core import allocation, ipam
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.analyze.finding import ERROR, WARNING, Finding, Ref, finding, rule
from metallb_plugin.core.analyze.model import Model
from metallb_plugin.core.checks import register
from metallb_plugin.core.objects import Obj, listing, name
from metallb_plugin.core.selectors import any_matches, describe

ADS = ("ipaddresspools", "l2advertisements", "bgpadvertisements")
BASIC_AUTH = "kubernetes.io/basic-auth"


def _elsewhere(model: Model, key: str, wanted: str) -> str:
    """ " (one is in NS, which MetalLB ignores)" when an object of that name exists in another namespace."""
    others = sorted({k8s.namespace(o) for o in model.everywhere[key] if name(o) == wanted} - {model.ns})
    return f" (one is in {', '.join(others)}, which MetalLB ignores)" if others else ""


def missing_pools(model: Model) -> List[Finding]:
    found = []
    for ad in model.advertisements:
        for index, pool in enumerate(k8s.spec(ad).get("ipAddressPools") or []):
            if pool in model.pool_names:
                continue
            known = listing(sorted(model.pool_names)) or "none"
            found.append(
                finding(
                    "MLB0101",
                    f'{ad["kind"]} {name(ad)} announces pool "{pool}", which does not exist in {model.ns}'
                    + _elsewhere(model, "ipaddresspools", pool),
                    f"correct the name (pools in {model.ns}: {known}) or create IPAddressPool {pool} in {model.ns}",
                    Ref.of(ad, f"spec.ipAddressPools[{index}]"),
                )
            )
    return found


def empty_pool_selectors(model: Model) -> List[Finding]:
    found = []
    for ad in model.advertisements:
        selectors = k8s.spec(ad).get("ipAddressPoolSelectors") or []
        if selectors and not any(any_matches(selectors, k8s.labels(p)) for p in model.pools):
            shown = " or ".join(describe(s) for s in selectors)
            found.append(
                finding(
                    "MLB0102",
                    f"{ad['kind']} {name(ad)}: its ipAddressPoolSelectors ({shown}) select no IPAddressPool in "
                    f"{model.ns}, so they announce nothing",
                    f"label the pools it should announce (kubectl -n {model.ns} label ipaddresspool POOL KEY=VALUE) "
                    "or correct the selectors",
                    Ref.of(ad, "spec.ipAddressPoolSelectors"),
                )
            )
    return found


def missing_bfd_profiles(model: Model) -> List[Finding]:
    profiles = {name(p) for p in model.local["bfdprofiles"]}
    found = []
    for peer in model.local["bgppeers"]:
        wanted = k8s.spec(peer).get("bfdProfile")
        if wanted and wanted not in profiles:
            found.append(
                finding(
                    "MLB0103",
                    f'BGPPeer {name(peer)} uses BFD profile "{wanted}", which does not exist in {model.ns}'
                    + _elsewhere(model, "bfdprofiles", wanted)
                    + ": MetalLB rejects the whole configuration until it does",
                    f"create BFDProfile {wanted} in {model.ns}, or remove spec.bfdProfile from the peer",
                    Ref.of(peer, "spec.bfdProfile"),
                )
            )
    return found


COMMUNITY_VALUE = re.compile(r"^(\d+):(\d+)$|^large:(\d+):(\d+):(\d+)$")


def community_problem(text: str) -> Optional[str]:
    """Why a community string is no valid value (None when it is one), as MetalLB's community parser judges it."""
    match = COMMUNITY_VALUE.match(text)
    if match is None:
        parts = text.split(":")
        if len(parts) == 2 or (len(parts) == 4 and parts[0] == "large"):
            return "a part of it is not a number"
        if len(parts) == 4:
            return 'a large community starts with "large:"'
        return "it is neither ASN:VALUE nor large:ASN:VALUE:VALUE"
    legacy = [int(g) for g in match.groups()[:2] if g is not None]
    if legacy and max(legacy) > 0xFFFF:
        return "each part of ASN:VALUE must be at most 65535"
    large = [int(g) for g in match.groups()[2:] if g is not None]
    if large and max(large) > 0xFFFFFFFF:
        return "each part of large:ASN:VALUE:VALUE must be at most 4294967295"
    return None


def aliases(model: Model) -> List[str]:
    return [
        str(c.get("name"))
        for item in model.local["communities"]
        for c in k8s.spec(item).get("communities") or []
        if c.get("name")
    ]


def unknown_communities(model: Model) -> List[Finding]:
    known = set(aliases(model))
    found = []
    for ad in model.local["bgpadvertisements"]:
        for index, text in enumerate(k8s.spec(ad).get("communities") or []):
            text = str(text)
            problem = community_problem(text)
            if text in known or problem is None:
                continue
            if ":" in text:
                message = f'BGPAdvertisement {name(ad)}: community "{text}" is not a valid value ({problem})'
            else:
                message = (
                    f'BGPAdvertisement {name(ad)}: community "{text}" is no Community alias in {model.ns} and no '
                    f"community value"
                )
            found.append(
                finding(
                    "MLB0104",
                    message + ": MetalLB rejects the whole configuration",
                    "write the value as ASN:VALUE (65000:100) or large:ASN:VALUE:VALUE, or define the alias in a "
                    f"Community in {model.ns}" + (f" (aliases: {listing(sorted(known))})" if known else ""),
                    Ref.of(ad, f"spec.communities[{index}]"),
                )
            )
    return found


def password_secrets(model: Model) -> List[Finding]:
    found = []
    for peer in model.local["bgppeers"]:
        ref = k8s.spec(peer).get("passwordSecret") or {}
        wanted = ref.get("name")
        if not wanted:
            continue
        secret = model.secrets.get(wanted)
        if secret is None:
            problem = f'uses password Secret "{wanted}", which does not exist in {model.ns}'
            if ref.get("namespace") and ref.get("namespace") != model.ns:
                problem += f" (MetalLB reads it from {model.ns}, not {ref['namespace']})"
            fix = (
                f"kubectl -n {model.ns} create secret generic {wanted} --type={BASIC_AUTH} "
                "--from-literal=password=PASSWORD"
            )
        elif secret.get("type") != BASIC_AUTH:
            problem = f'uses Secret "{wanted}" of type {secret.get("type") or "Opaque"}; MetalLB needs {BASIC_AUTH}'
            fix = f"recreate Secret {wanted} with --type={BASIC_AUTH} and the key password"
        elif "password" not in (secret.get("keys") or []):
            problem = f'uses Secret "{wanted}", which has no key "password"'
            fix = f"add the key password to Secret {wanted}"
        else:
            continue
        found.append(
            finding(
                "MLB0105",
                f"BGPPeer {name(peer)} {problem}: MetalLB rejects the whole configuration",
                fix,
                Ref.of(peer, "spec.passwordSecret"),
            )
        )
    return found


def missing_peers(model: Model) -> List[Finding]:
    peers = {name(p) for p in model.local["bgppeers"]}
    found = []
    for ad in model.local["bgpadvertisements"]:
        for index, peer in enumerate(k8s.spec(ad).get("peers") or []):
            if peer not in peers:
                found.append(
                    finding(
                        "MLB0106",
                        f'BGPAdvertisement {name(ad)} announces to peer "{peer}", which does not exist in {model.ns}'
                        + _elsewhere(model, "bgppeers", peer),
                        f"correct the name (peers: {listing(sorted(peers)) or 'none'}) or create BGPPeer {peer}",
                        Ref.of(ad, f"spec.peers[{index}]"),
                    )
                )
    return found


def _annotation_key(service: Obj, keys: Tuple[str, ...]) -> str:
    return next((k for k in keys if k8s.annotations(service).get(k)), keys[0])


def service_pools(model: Model) -> List[Finding]:
    found = []
    for service in model.metallb_services():
        wanted = model.request(service).pool
        if wanted and wanted not in model.pool_names:
            key = _annotation_key(service, allocation.ADDRESS_POOL)
            found.append(
                finding(
                    "MLB0107",
                    f'Service {k8s.key(service)} asks for pool "{wanted}", which does not exist in {model.ns}'
                    + _elsewhere(model, "ipaddresspools", wanted),
                    f"correct the {key} annotation (pools: {listing(sorted(model.pool_names)) or 'none'})",
                    Ref.of(service, f"metadata.annotations[{key}]", kind="Service"),
                )
            )
    return found


def service_addresses(model: Model) -> List[Finding]:
    everywhere = [r for p in model.pools for r in model.ranges(p)]
    by_name = {name(p): model.ranges(p) for p in model.pools}
    found = []
    for service in model.metallb_services():
        wanted = model.request(service)
        pool = wanted.pool if wanted.pool in by_name else None
        ranges = by_name[pool] if pool else everywhere
        outside = [ip for ip in wanted.ips if ipam.is_address(ip) and not ipam.contains(ranges, ip)]
        if not outside:
            continue
        key = _annotation_key(service, allocation.LOADBALANCER_IPS)
        path = f"metadata.annotations[{key}]" if k8s.annotations(service).get(key) else "spec.loadBalancerIP"
        holder = (
            f"pool {pool}, which it also asks for, does not hold" if pool else f"no IPAddressPool in {model.ns} holds"
        )
        found.append(
            finding(
                "MLB0108",
                f"Service {k8s.key(service)} asks for {', '.join(outside)}, which {holder}",
                "ask for an address inside the pool (kubectl metallb pools), or add this one to a pool",
                Ref.of(service, path, kind="Service"),
            )
        )
    return found


register(
    "analyze.references",
    "References",
    (
        rule("MLB0101", ERROR, "advertisements name pools that exist", missing_pools, needs=ADS),
        rule("MLB0102", WARNING, "advertisements' pool selectors select a pool", empty_pool_selectors, needs=ADS),
        rule(
            "MLB0103",
            ERROR,
            "peers' BFD profiles exist",
            missing_bfd_profiles,
            needs=("bgppeers", "bfdprofiles"),
        ),
        rule(
            "MLB0104",
            ERROR,
            "advertisements' communities are values or defined aliases",
            unknown_communities,
            needs=("bgpadvertisements", "communities"),
        ),
        rule("MLB0105", ERROR, "peers' password Secrets exist", password_secrets, needs=("bgppeers", "secrets")),
        rule(
            "MLB0106",
            ERROR,
            "advertisements' peers exist",
            missing_peers,
            needs=("bgpadvertisements", "bgppeers"),
        ),
        rule(
            "MLB0107",
            ERROR,
            "Services ask for pools that exist",
            service_pools,
            needs=("services", "ipaddresspools"),
            shown_by="services.pending",
        ),
        rule(
            "MLB0108",
            ERROR,
            "Services ask for addresses a pool holds",
            service_addresses,
            needs=("services", "ipaddresspools"),
            shown_by="services.pending",
        ),
    ),
)
