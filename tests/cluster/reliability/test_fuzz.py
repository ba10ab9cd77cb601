"""Property-based fuzzing of the three parsers that read what users and clusters hand the plugin.

- core/ipam: pool address entries. Only AddressError may come out; what parses agrees with `ipaddress`, and the
  overlap sweep agrees with a brute-force comparison.
- core/kubeproxy.set_strict_arp: the one-value edit of kube-proxy's configuration. Only ConfigError may come out;
  an edit changes exactly ipvs.strictARP (the data and the lines around it), and doing it twice changes nothing.
- core/legacy: the legacy ConfigMap conversion. Only LegacyConfigError may come out; what converts is a set of
  well-formed objects in the given namespace whose pools hold exactly the addresses given.

Bounded: every test sets max_examples and a deadline (a single input taking seconds is a bug here: an alias bomb,
quadratic backtracking); the examples add up to well over 10,000 and run in well under a minute. No cluster.
"""

import difflib
import ipaddress
import re
from datetime import timedelta

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from metallb_plugin.core import ipam, kubeproxy, legacy

DEADLINE = timedelta(seconds=2)
FUZZ = dict(deadline=DEADLINE, suppress_health_check=[HealthCheck.too_slow], database=None)


# ------------------------------------------------------------------------------------------- ipam

ADDRESS_ALPHABET = "0123456789abcdefABCDEF.:/-%, \t" + "\u0661\u0662\uff10\uff11\u00b9\u2070"  # unicode digits too

v4 = st.integers(0, 2 ** 32 - 1).map(ipaddress.IPv4Address)
v6 = st.integers(0, 2 ** 128 - 1).map(ipaddress.IPv6Address)
address = st.one_of(v4, v6)


def parse_or_error(text, strict):
    try:
        return ipam.parse_entry(text, strict=strict)
    except ipam.AddressError as exc:
        message = str(exc)
        assert message and "\n" not in message  # one line
        return None


@settings(max_examples=3000, **FUZZ)
@given(text=st.one_of(st.text(max_size=60), st.text(ADDRESS_ALPHABET, max_size=60)), strict=st.booleans())
def test_ipam_any_text(text, strict, tally):
    tally.add("inputs: fuzz ipam")
    parsed = parse_or_error(text, strict)
    if parsed is not None:
        assert parsed.first.version == parsed.last.version
        assert parsed.first <= parsed.last
        assert parsed.size >= 1
        assert str(parsed) == text
        assert text.isascii()


@settings(max_examples=2000, **FUZZ)
@given(first=address, data=st.data(), strict=st.booleans())
def test_ipam_valid_entries_agree_with_ipaddress(first, data, strict, tally):
    tally.add("inputs: fuzz ipam")
    top = 2 ** first.max_prefixlen - 1
    last = type(first)(data.draw(st.integers(int(first), top)))
    parsed = ipam.parse_entry(f"{first}-{last}", strict=strict)
    assert (parsed.first, parsed.last, parsed.size) == (first, last, int(last) - int(first) + 1)
    assert ipam.parse_entry(f"{first} - {last}").size == parsed.size  # MetalLB trims spaces around the dash
    if first != last:
        reversed_text = f"{last}-{first}"
        assert parse_or_error(reversed_text, strict) is None
    prefix = data.draw(st.integers(0, first.max_prefixlen))
    network = ipaddress.ip_network(f"{first}/{prefix}", strict=False)
    cidr = ipam.parse_entry(str(network), strict=True)
    assert (cidr.first, cidr.last) == (network.network_address, network.broadcast_address)
    with_host = f"{first}/{prefix}"
    loose = parse_or_error(with_host, strict)
    if first == network.network_address or not strict:
        assert loose is not None and loose.first == network.network_address
    else:
        assert loose is None
    assert parse_or_error(f"{first}/{first.max_prefixlen + 1}", False) is None


ranges_in_a_small_space = st.lists(
    st.tuples(st.integers(0, 64), st.integers(0, 16), st.sampled_from([4, 6])), min_size=0, max_size=12)


@settings(max_examples=1000, **FUZZ)
@given(spec=st.dictionaries(st.sampled_from("abcd"), ranges_in_a_small_space, max_size=4))
def test_ipam_overlap_sweep_matches_brute_force(spec, tally):
    tally.add("inputs: fuzz ipam")
    base = {4: int(ipaddress.IPv4Address("10.0.0.0")), 6: int(ipaddress.IPv6Address("fd00::"))}
    kinds = {4: ipaddress.IPv4Address, 6: ipaddress.IPv6Address}
    pools = {name: [ipam.AddressRange(kinds[v](base[v] + start), kinds[v](base[v] + start + length))
                    for start, length, v in entries] for name, entries in spec.items()}
    found = {frozenset([(o.pool, o.entry, id(o.entry)), (o.other_pool, o.other_entry, id(o.other_entry))])
             for o in ipam.pool_overlaps(pools)}
    flat = [(name, r) for name, ranges in pools.items() for r in ranges]
    expected = {frozenset([(n1, r1, id(r1)), (n2, r2, id(r2))])
                for i, (n1, r1) in enumerate(flat) for n2, r2 in flat[i + 1:]
                if r1.version == r2.version and int(r1.first) <= int(r2.last) and int(r2.first) <= int(r1.last)}
    assert found == expected
    total = ipam.capacity([r for _, r in flat])
    assert total.total == sum(r.size for _, r in flat)


# ------------------------------------------------------------------------------------------- kube-proxy

scalar = st.one_of(st.integers(-5, 5000), st.booleans(), st.none(), st.text("abcxyz0129 -_./", max_size=12))
keys = st.text("abcdefghijklmnopqrstuvwxyzABC", min_size=1, max_size=10).filter(
    lambda k: k not in ("ipvs", "kind", "apiVersion", "mode", "strictARP", "y", "n", "yes", "no", "on", "off"))


@st.composite
def kube_proxy_config(draw):
    """A KubeProxyConfiguration as a dict, in the shapes found in the wild (ipvs absent, empty, partial, full)."""
    config = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration"}
    mode = draw(st.sampled_from([None, "", "ipvs", "iptables", "nftables"]))
    if mode is not None:
        config["mode"] = mode
    config.update(draw(st.dictionaries(keys, st.one_of(scalar, st.dictionaries(keys, scalar, max_size=3)),
                                       max_size=5)))
    shape = draw(st.sampled_from(["absent", "empty", "partial", "full"]))
    if shape != "absent":
        ipvs = {} if shape == "empty" else draw(st.dictionaries(keys, scalar, max_size=4))
        if shape == "full":
            ipvs["strictARP"] = draw(st.booleans())
        config["ipvs"] = ipvs
    items = list(config.items())
    order = draw(st.permutations(range(len(items))))
    return dict(items[i] for i in order)


@st.composite
def kube_proxy_text(draw):
    """(dict, text): the config written in block style with varying indentation, comments and line endings."""
    config = draw(kube_proxy_config())
    text = yaml.safe_dump(config, default_flow_style=False, sort_keys=False, indent=draw(st.sampled_from([2, 4])),
                          width=4096)
    lines = text.split("\n")
    if draw(st.booleans()):  # comments: own lines and trailing ones (never inside a quoted scalar)
        out = []
        for line in lines:
            if line and draw(st.integers(0, 4)) == 0:
                out.append(" " * (len(line) - len(line.lstrip())) + "# a note")
            if line and "'" not in line and '"' not in line and draw(st.integers(0, 4)) == 0:
                line += "  # keep"
            out.append(line)
        lines = out
    if draw(st.booleans()):
        lines = ["---"] + lines
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return config, text


def set_or_error(text, value):
    try:
        return kubeproxy.set_strict_arp(text, value)
    except kubeproxy.ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None


@settings(max_examples=1500, **FUZZ)
@given(case=kube_proxy_text(), value=st.booleans())
def test_kube_proxy_edit_changes_exactly_strict_arp(case, value, tally):
    tally.add("inputs: fuzz kube-proxy")
    config, text = case
    edited = kubeproxy.set_strict_arp(text, value)  # block style as kubeadm writes it: never refused
    current = (config.get("ipvs") or {}).get("strictARP", False) if isinstance(config.get("ipvs"), dict) else False
    if current is value:
        assert edited == text
        return
    expected = dict(config)
    expected["ipvs"] = dict(config.get("ipvs") or {}, strictARP=value)
    assert yaml.safe_load(edited) == expected
    assert kubeproxy.read_config(edited)[1] is value
    assert kubeproxy.set_strict_arp(edited, value) == edited  # idempotent
    changed = [line for line in difflib.ndiff(text.splitlines(), edited.splitlines())
               if line.startswith(("- ", "+ "))]
    assert changed and all("strictARP" in line or re.match(r"^[-+] ipvs:", line) for line in changed), changed
    back = kubeproxy.set_strict_arp(edited, not value)
    assert yaml.safe_load(back)["ipvs"]["strictARP"] is (not value)


YAML_NOISE = st.text("abc: -\n\t#&*!|>'\"{}[],?%@`0123456789.\r\u00e9\ufeff", max_size=8)


@settings(max_examples=1000, **FUZZ)
@given(case=kube_proxy_text(), edits=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 3), YAML_NOISE),
                                               min_size=1, max_size=4), value=st.booleans())
def test_kube_proxy_damaged_text(case, edits, value, tally):
    tally.add("inputs: fuzz kube-proxy")
    _, text = case
    for position, cut, noise in edits:
        at = position % (len(text) + 1)
        text = text[:at] + noise + text[at + cut:]
    edited = set_or_error(text, value)
    if edited is not None and edited != text:
        assert kubeproxy.read_config(edited)[1] is value
        assert set_or_error(edited, value) == edited


@settings(max_examples=800, **FUZZ)
@given(text=st.text(max_size=200), value=st.booleans())
def test_kube_proxy_any_text(text, value, tally):
    tally.add("inputs: fuzz kube-proxy")
    set_or_error(text, value)
    try:
        kubeproxy.read_config(text)
    except kubeproxy.ConfigError:
        pass


# ------------------------------------------------------------------------------------------- legacy

entry = st.one_of(
    st.builds(lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)), v4, st.integers(20, 32)),
    st.builds(lambda a, n: f"{a}-{ipaddress.IPv4Address(min(int(a) + n, 2 ** 32 - 1))}", v4, st.integers(0, 300)),
    st.builds(lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)), v6, st.integers(100, 128)),
    st.text(ADDRESS_ALPHABET, max_size=20),
)
name = st.one_of(st.sampled_from(["default", "prod", "Lab_Pool", "p1", "x" * 70, "", "9lives", "a.b"]),
                 st.text("abcXYZ_-.09 ", max_size=12))
anything = st.recursive(st.one_of(scalar, st.floats(allow_nan=False)),
                        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                st.dictionaries(st.text("abc-", max_size=5), inner, max_size=3)),
                        max_leaves=6)


def maybe(strategy):
    return st.one_of(strategy, anything)


pool = st.fixed_dictionaries(
    {"name": maybe(name), "protocol": st.sampled_from(["layer2", "bgp", "ospf", None]),
     "addresses": st.one_of(st.lists(entry, max_size=4), anything)},
    optional={"auto-assign": maybe(st.booleans()), "avoid-buggy-ips": maybe(st.booleans()),
              "bgp-advertisements": st.lists(st.fixed_dictionaries(
                  {}, optional={"aggregation-length": maybe(st.integers(0, 40)), "localpref": maybe(st.integers(0, 9)),
                                "communities": st.lists(st.sampled_from(["no-export", "65535:65282", "1:2:3", "x"]),
                                                        max_size=2)}), max_size=2)})
peer = st.fixed_dictionaries(
    {"my-asn": maybe(st.integers(0, 2 ** 32)), "peer-asn": maybe(st.integers(0, 2 ** 32)),
     "peer-address": maybe(st.one_of(v4.map(str), v6.map(str), st.text(max_size=6)))},
    optional={"hold-time": maybe(st.sampled_from(["90s", "0s", "1s", "3m", "-1s", "soon"])),
              "keepalive-time": maybe(st.sampled_from(["30s", "0s", "10m", "bad"])),
              "peer-port": maybe(st.integers(0, 70000)), "password": maybe(st.text(max_size=5)),
              "node-selectors": st.lists(st.fixed_dictionaries({}, optional={
                  "match-labels": st.dictionaries(st.text("ab", max_size=3), st.text("cd", max_size=3), max_size=2),
                  "match-expressions": st.lists(st.fixed_dictionaries(
                      {"key": st.text("k", max_size=2), "operator": st.sampled_from(["In", "Exists", "Near"]),
                       "values": st.lists(st.text("v", max_size=2), max_size=2)}), max_size=2)}), max_size=2),
              "bfd-profile": maybe(name), "ebgp-multihop": maybe(st.booleans())})
legacy_config = st.fixed_dictionaries(
    {}, optional={"address-pools": st.one_of(st.lists(pool, max_size=4), anything),
                  "peers": st.lists(peer, max_size=3),
                  "bgp-communities": st.dictionaries(st.text("abc", min_size=1, max_size=4),
                                                     st.sampled_from(["65535:65282", "1:2", "bad", "1:2:3"]),
                                                     max_size=2),
                  "bfd-profiles": st.lists(st.fixed_dictionaries({"name": maybe(name)}, optional={
                      "receive-interval": maybe(st.integers(0, 70000)), "echo-mode": maybe(st.booleans())}),
                      max_size=2),
                  "unknown-key": anything})

KINDS = {"IPAddressPool", "L2Advertisement", "BGPAdvertisement", "BGPPeer", "BFDProfile", "Community"}


def check_conversion(config, namespace):
    try:
        result = legacy.convert(config, namespace)
    except legacy.LegacyConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None
    pools = {}
    for obj in result.objects:
        assert obj["kind"] in KINDS
        assert obj["apiVersion"].startswith("metallb.io/")
        meta = obj["metadata"]
        assert meta["namespace"] == namespace
        # MetalLB's converter only lower-cases, turns "_" into "-" and cuts at 63 (so "x-" or "a b" stay, and the API
        # server refuses them on --apply); this module keeps that parity (tests/unit/test_legacy.py pins "-x-" -> "x-")
        name = meta["name"]
        assert name and name == name.lower() and "_" not in name and len(name) <= 63, name
        if obj["kind"] == "IPAddressPool":
            ranges = [ipam.parse_entry(a, strict=False) for a in obj["spec"]["addresses"]]
            assert not ipam.pool_overlaps({"": ranges})
            pools[meta["name"]] = ranges
    for obj in result.objects:
        for referenced in (obj.get("spec") or {}).get("ipAddressPools") or []:
            assert referenced in pools
    given_pools = config.get("address-pools") or []
    assert len(pools) == len(given_pools)
    for raw in given_pools:
        assert sum(r.size for r in pools[legacy.normalize_name(str(raw["name"]))]) == sum(
            ipam.parse_entry(a, strict=False).size for a in raw["addresses"])
    return result


@settings(max_examples=2000, **FUZZ)
@given(config=legacy_config, namespace=st.sampled_from(["metallb-system", "lb"]))
def test_legacy_conversion(config, namespace, tally):
    tally.add("inputs: fuzz legacy")
    check_conversion(config, namespace)


@settings(max_examples=400, **FUZZ)
@given(config=legacy_config)
def test_legacy_conversion_from_a_configmap(config, tally):
    """The same through the YAML of a ConfigMap, as `pools migrate -f` reads it."""
    tally.add("inputs: fuzz legacy")
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config"},
                           "data": {"config": yaml.safe_dump(config)}})
    try:
        loaded, _ = legacy.load(text)
    except legacy.LegacyConfigError:
        return
    check_conversion(loaded, "metallb-system")


@settings(max_examples=800, **FUZZ)
@given(text=st.one_of(st.text(max_size=200), YAML_NOISE.map(lambda n: "address-pools:\n- name: a\n" + n)))
def test_legacy_any_text(text, tally):
    tally.add("inputs: fuzz legacy")
    try:
        config, _ = legacy.load(text)
    except legacy.LegacyConfigError as exc:
        assert "\n" not in str(exc)
        return
    assume(isinstance(config, dict))
    check_conversion(config, "metallb-system")
