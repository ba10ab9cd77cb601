"""Address parsing and arithmetic: examples for every message, properties for the arithmetic."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metallb_plugin.core import ipam, pool_usage
from metallb_plugin.core.ipam import AddressError, AddressRange, parse_entry

# --------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "text, first, last",
    [
        ("192.168.10.0/24", "192.168.10.0", "192.168.10.255"),
        ("192.168.10.7/32", "192.168.10.7", "192.168.10.7"),
        ("0.0.0.0/0", "0.0.0.0", "255.255.255.255"),
        ("192.168.9.1-192.168.9.5", "192.168.9.1", "192.168.9.5"),
        ("192.168.9.1 - 192.168.9.5", "192.168.9.1", "192.168.9.5"),  # MetalLB trims around the dash
        (" 10.0.0.1-10.0.0.1 ", "10.0.0.1", "10.0.0.1"),
        ("fc00:f853:ccd:e799::/124", "fc00:f853:ccd:e799::", "fc00:f853:ccd:e799::f"),
        ("2001:db8::1-2001:db8::ff", "2001:db8::1", "2001:db8::ff"),
        ("2001:DB8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"),
    ],
)
def test_valid_entries(text, first, last):
    entry = parse_entry(text)
    assert (str(entry.first), str(entry.last), entry.text) == (first, last, text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty address entry; use a CIDR like 192.168.10.0/24 or a range like 192.168.10.1-192.168.10.50"),
        ("   ", "empty address entry; use a CIDR like"),
        ("192.168.10.0 /24", 'invalid CIDR "192.168.10.0 /24": contains a space'),
        ("192.168.10.0/24 ", 'invalid CIDR "192.168.10.0/24 ": contains a space'),
        (
            "192.168.1 .1-192.168.1.5",
            'invalid range "192.168.1 .1-192.168.1.5": the start address "192.168.1 .1" contains a space',
        ),
        ("10.0.0.9-10.0.0.1", 'invalid range "10.0.0.9-10.0.0.1": the start 10.0.0.9 is after the end 10.0.0.1'),
        ("2001:db8::9-2001:db8::1", "the start 2001:db8::9 is after the end 2001:db8::1"),
        ("10.0.0.0/33", 'invalid CIDR "10.0.0.0/33": prefix length 33 is out of range for IPv4 (0-32)'),
        ("fc00::/129", 'invalid CIDR "fc00::/129": prefix length 129 is out of range for IPv6 (0-128)'),
        (
            "10.0.0.5/24",
            'invalid CIDR "10.0.0.5/24": host bits are set after /24; did you mean 10.0.0.0/24 '
            "(or 10.0.0.5/32 for the single address)?",
        ),
        ("fc00::1/64", "host bits are set after /64; did you mean fc00::/64"),
        (
            "١٩٢.168.1.0/24",
            'invalid CIDR "١٩٢.168.1.0/24": non-ASCII character "١" (U+0661); addresses use ASCII digits only',
        ),
        ("192.168.1.1-１92.168.1.5", 'non-ASCII character "１" (U+FF11)'),
        (
            "10.0.0.1-fc00::1",
            'invalid range "10.0.0.1-fc00::1": the start is IPv4 and the end is IPv6; both ends '
            "must be of the same family",
        ),
        ("10.0.0.1", 'invalid address "10.0.0.1": a single address needs a prefix length, like 10.0.0.1/32'),
        ("fc00::1", "a single address needs a prefix length, like fc00::1/128"),
        ("10.0.0.0/", 'invalid CIDR "10.0.0.0/": the prefix length after "/" is missing'),
        ("10.0.0.0/x", 'invalid CIDR "10.0.0.0/x": the prefix length "x" is not a number'),
        ("10.0.0.0/-1", "invalid range"),  # a dash makes it a range attempt
        ("10.0.0.256/32", "invalid CIDR \"10.0.0.256/32\": octet 256 (> 255) not permitted in '10.0.0.256'"),
        ("010.0.0.0/8", "leading zeros are not permitted in '010'"),
        ("10.0.0/24", "expected 4 octets in '10.0.0'"),
        ("fe80::1%eth0/128", 'the address "fe80::1%eth0" has a zone (%...), which pools cannot use'),
        ("10.0.0.1-10.0.0.5-10.0.0.9", 'more than one "-"; write one range as START-END'),
        ("10.0.0.0/24-10.0.1.0/24", 'the start "10.0.0.0/24" is a CIDR; a range is two plain addresses'),
        ("10.0.0.1-", 'invalid range "10.0.0.1-": the end address is missing'),
        ("-10.0.0.1", 'invalid range "-10.0.0.1": the start address is missing'),
        ("pool.example.com/24", "expected 4 octets"),
        ("::g/64", "only hex digits permitted in 'g'"),
    ],
)
def test_invalid_entries(text, message):
    with pytest.raises(AddressError) as caught:
        parse_entry(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_lenient_mode_accepts_host_bits_like_metallb():
    entry = parse_entry("10.0.0.5/24", strict=False)
    assert (str(entry.first), str(entry.last)) == ("10.0.0.0", "10.0.0.255")


def test_non_text_entry():
    with pytest.raises(AddressError, match="expected text"):
        parse_entry(42)


def test_split_addresses():
    assert ipam.split_addresses("10.0.0.0/24, 10.0.1.1-10.0.1.9") == ["10.0.0.0/24", "10.0.1.1-10.0.1.9"]
    assert ipam.split_addresses(["a,b", "c"]) == ["a", "b", "c"]
    assert ipam.split_addresses("a,,b") == ["a", "", "b"]  # the empty item is reported, not dropped


def test_parse_entries_refuses_overlap_inside_a_pool():
    with pytest.raises(AddressError) as caught:
        ipam.parse_entries(["10.0.0.0/24", "10.0.0.128-10.0.1.5"])
    assert str(caught.value) == ("10.0.0.0/24 overlaps 10.0.0.128-10.0.1.5: entries of a pool must not overlap")
    with pytest.raises(AddressError, match="no addresses given"):
        ipam.parse_entries([])


def test_mixed_families_in_one_pool_are_fine():
    ranges = ipam.parse_entries(["10.0.0.0/30", "fc00::/126"])
    assert ipam.capacity(ranges) == ipam.Capacity(4, 4)


# --------------------------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    "entries, avoid, v4, v6",
    [
        (["192.168.10.0/24"], False, 256, 0),
        (["192.168.10.0/24"], True, 254, 0),
        (["192.168.10.0/23"], True, 508, 0),
        (["192.168.0.0/16"], True, 65536 - 512, 0),
        (["192.168.10.0/25"], True, 127, 0),  # only .0
        (["192.168.10.128/25"], True, 127, 0),  # only .255
        (["192.168.10.64/26"], True, 64, 0),  # neither
        (["192.168.10.255-192.168.11.0"], True, 0, 0),
        (["192.168.10.254-192.168.11.1"], True, 2, 0),
        (["10.0.0.0/32"], True, 0, 0),
        (["fc00::/120"], True, 0, 256),  # IPv6 is never "buggy"
        (["fc00::/64"], False, 0, 2**64),
        (["10.0.0.0/31", "fc00::/127"], False, 2, 2),
    ],
)
def test_capacity(entries, avoid, v4, v6):
    assert ipam.capacity(ipam.parse_entries(entries), avoid) == ipam.Capacity(v4, v6)


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0"),
        (256, "256"),
        (9_999_999, "9999999"),
        (2**24, "2^24"),
        (2**64, "2^64"),
        (2**128, "2^128"),
        (2**64 + 254, "2^64+254"),
        (2**64 - 3, "2^64-3"),
        (2**64 + 2**63, "~2^64.6"),
        (2**24 + 9_999_999, "2^24+9999999"),
        (2**26 - 10_000_000, "~2^25.8"),
    ],
)
def test_readable_count(n, text):
    assert ipam.readable_count(n) == text


def test_is_buggy():
    assert ipam.is_buggy("10.0.0.0") and ipam.is_buggy("10.0.0.255")
    assert not ipam.is_buggy("10.0.0.1") and not ipam.is_buggy("fc00::ff")


# --------------------------------------------------------------------------------------------- overlaps & use


def test_pool_overlaps_between_and_within_pools():
    pools = {
        "a": ipam.parse_entries(["10.0.0.0/24", "fc00::/120"]),
        "b": ipam.parse_entries(["10.0.0.200-10.0.1.10"]),
        "c": ipam.parse_entries(["10.0.2.0/24", "fc00::80/121"]),
    }
    found = [str(o) for o in ipam.pool_overlaps(pools)]
    assert found == [
        '10.0.0.0/24 in pool "a" overlaps 10.0.0.200-10.0.1.10 in pool "b"',
        'fc00::/120 in pool "a" overlaps fc00::80/121 in pool "c"',
    ]
    assert not ipam.pool_overlaps({"x": ipam.parse_entries(["10.0.0.0/24"]), "y": ipam.parse_entries(["fc00::/64"])})


def test_network_overlaps_and_contains():
    ranges = ipam.parse_entries(["10.96.0.0/24", "192.168.1.10-192.168.1.20"])
    assert [str(r) for r in ipam.network_overlaps(ranges, "10.96.0.0/12")] == ["10.96.0.0/24"]
    assert [str(r) for r in ipam.network_overlaps(ranges, ipaddress.ip_address("192.168.1.15"))] == [
        "192.168.1.10-192.168.1.20"
    ]
    assert ipam.network_overlaps(ranges, "fc00::/8") == []
    assert ipam.contains(ranges, "192.168.1.20") and not ipam.contains(ranges, "192.168.1.21")
    assert not ipam.contains(ranges, "not-an-ip")
    assert ipam.pool_of("10.96.0.7", {"x": [], "y": ranges}) == "y"
    assert ipam.pool_of("1.1.1.1", {"y": ranges}) is None


def test_ipv4_mapped_ipv6_entries_hold_ipv4_addresses():
    """MetalLB (Go's net package) reads ::ffff:198.51.100.240/124 as 198.51.100.240/28; its webhook denies such a
    pool next to an IPv4 pool holding those addresses, so the overlap must be seen here too."""
    mapped = parse_entry("::ffff:198.51.100.240/124")
    pools = {"v4": ipam.parse_entries(["198.51.100.240/29"]), "mapped": [mapped]}
    assert [str(o) for o in ipam.pool_overlaps(pools)] == [
        '198.51.100.240/29 in pool "v4" overlaps ::ffff:198.51.100.240/124 in pool "mapped"'
    ]
    assert not ipam.pool_overlaps({"v4": ipam.parse_entries(["198.51.100.224/28"]), "mapped": [mapped]})
    assert not ipam.pool_overlaps({"v6": ipam.parse_entries(["::/64"]), "v4": ipam.parse_entries(["198.51.100.0/24"])})
    assert ipam.contains([mapped], "198.51.100.255") and ipam.contains([mapped], "::ffff:198.51.100.241")
    assert ipam.contains(ipam.parse_entries(["198.51.100.240/28"]), "::ffff:198.51.100.241")
    assert [str(r) for r in ipam.network_overlaps([mapped], "198.51.100.250")] == [str(mapped)]
    assert [str(s) for s in ipam.special_overlaps([parse_entry("::ffff:127.0.0.0/120")])] == [
        "::ffff:127.0.0.0/120 is loopback (127.0.0.0/8): loopback addresses never leave the host that uses them"
    ]


def service(name, ips, pool=None, kind="LoadBalancer", ns="default", legacy=False):
    annotations = {}
    if pool:
        annotations["metallb.universe.tf/ip-allocated-from-pool" if legacy else "metallb.io/ip-allocated-from-pool"] = (
            pool
        )
    return {
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {"type": kind},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}},
    }


def test_usage_from_services():
    pools = {
        "web": ipam.parse_entries(["10.0.0.0/29", "fc00::/125"]),
        "db": ipam.parse_entries(["10.0.1.0/29"]),
        "idle": ipam.parse_entries(["10.0.2.0/29"]),
    }
    services = [
        service("a", ["10.0.0.1", "fc00::1"], "web"),
        service("b", ["10.0.0.1"], "web", ns="other"),  # shared IP: counted once
        service("c", ["10.0.1.3"], legacy=True, pool="db"),
        service("d", ["10.0.1.4"]),  # no annotation: found by range
        service("e", ["10.0.0.2"], kind="NodePort"),  # not a LoadBalancer
        service("f", ["8.8.8.8"]),  # someone else's address
        service("g", [], "db"),  # pending but annotated
        {
            "metadata": {"name": "h", "namespace": "x"},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}},
        },
    ]
    result = pool_usage.usage(services, pools)
    assert result.pools["web"].used == 2 and result.pools["web"].by_family() == ipam.Capacity(1, 1)
    assert result.pools["web"].services == ("default/a", "other/b")
    assert result.pools["db"].used == 2 and result.pools["db"].services == ("default/c", "default/d", "default/g")
    assert result.pools["idle"] == pool_usage.PoolUsage()
    assert result.outside == (("default/f", "8.8.8.8"),)


# --------------------------------------------------------------------------------------------- properties


def v4_ranges():
    return (
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
        .map(sorted)
        .map(lambda p: AddressRange(ipaddress.IPv4Address(p[0]), ipaddress.IPv4Address(p[1])))
    )


def v6_ranges():
    return (
        st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 2**128 - 1))
        .map(sorted)
        .map(lambda p: AddressRange(ipaddress.IPv6Address(p[0]), ipaddress.IPv6Address(p[1])))
    )


any_range = st.one_of(v4_ranges(), v6_ranges())
MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def mapped_ranges():
    """IPv4-mapped IPv6 ranges (::ffff:a.b.c.d): ranges of IPv4 addresses written as IPv6."""
    base = int(MAPPED.network_address)
    return v4_ranges().map(
        lambda r: AddressRange(ipaddress.IPv6Address(base + int(r.first)), ipaddress.IPv6Address(base + int(r.last)))
    )


def as_go_reads(network):
    """A CIDR as Go's net package reads it: an IPv4-mapped IPv6 network is the IPv4 network it maps."""
    if network.version == 6 and network.subnet_of(MAPPED):
        mapped = int(network.network_address) - int(MAPPED.network_address)
        return ipaddress.ip_network((mapped, network.prefixlen - 96))
    return network


@given(any_range)
def test_range_text_round_trips(entry):
    parsed = parse_entry(f"{entry.first}-{entry.last}")
    assert (parsed.first, parsed.last) == (entry.first, entry.last)


@given(any_range)
def test_cidr_cover_is_exact_and_disjoint(entry):
    cidrs = entry.cidrs
    assert cidrs[0].network_address == entry.first and cidrs[-1].broadcast_address == entry.last
    assert sum(c.num_addresses for c in cidrs) == entry.size
    for left, right in zip(cidrs, cidrs[1:]):
        assert int(left.broadcast_address) + 1 == int(right.network_address)
    for cidr in cidrs:  # every CIDR parses back to itself
        again = parse_entry(str(cidr))
        assert (again.first, again.last) == (cidr.network_address, cidr.broadcast_address)


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_cidr_and_its_range_agree(value, prefix):
    network = ipaddress.ip_network(f"{ipaddress.IPv4Address(value)}/{prefix}", strict=False)
    as_cidr = parse_entry(str(network))
    as_range = parse_entry(f"{network.network_address}-{network.broadcast_address}")
    assert (as_cidr.first, as_cidr.last, as_cidr.size) == (as_range.first, as_range.last, network.num_addresses)


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3000))
def test_avoid_buggy_count_matches_brute_force(start, length):
    end = min(start + length, 2**32 - 1)
    entry = AddressRange(ipaddress.IPv4Address(start), ipaddress.IPv4Address(end))
    brute = sum(1 for x in range(start, end + 1) if x % 256 not in (0, 255))
    assert entry.usable(avoid_buggy_ips=True) == brute
    assert entry.usable(avoid_buggy_ips=False) == end - start + 1


@given(st.one_of(any_range, mapped_ranges()), st.one_of(any_range, mapped_ranges()))
def test_overlap_is_symmetric_and_matches_cidrs(a, b):
    assert a.overlaps(b) == b.overlaps(a)
    expected = any(as_go_reads(x).overlaps(as_go_reads(y)) for x in a.cidrs for y in b.cidrs)
    assert a.overlaps(b) == expected
    assert bool(ipam.pool_overlaps({"a": [a], "b": [b]})) == expected


@given(st.lists(v4_ranges(), max_size=12))
def test_sweep_finds_the_same_overlaps_as_all_pairs(ranges):
    pools = {f"p{i}": [r] for i, r in enumerate(ranges)}
    pairs = {
        frozenset((f"p{i}", f"p{j}"))
        for i, a in enumerate(ranges)
        for j, b in enumerate(ranges)
        if i < j and a.overlaps(b)
    }
    assert {frozenset((o.pool, o.other_pool)) for o in ipam.pool_overlaps(pools)} == pairs


@given(any_range, st.integers(0, 2**128 - 1))
def test_containment(entry, value):
    ip = ipaddress.IPv4Address(value % 2**32) if entry.version == 4 else ipaddress.IPv6Address(value)
    assert (ip in entry) == (entry.first <= ip <= entry.last)
    assert entry.first in entry and entry.last in entry


@given(st.integers(0, 2**128 - 1), st.integers(0, 128))
def test_v6_sizes(value, prefix):
    network = ipaddress.ip_network(f"{ipaddress.IPv6Address(value)}/{prefix}", strict=False)
    ranges = [parse_entry(str(network))]
    assert ipam.capacity(ranges, avoid_buggy_ips=True) == ipam.Capacity(0, 2 ** (128 - prefix))
    text = ipam.readable_count(2 ** (128 - prefix))
    assert text == (str(2 ** (128 - prefix)) if 128 - prefix < 24 else f"2^{128 - prefix}")


def test_a_huge_entry_is_quoted_back_cut():
    with pytest.raises(ipam.AddressError) as caught:
        ipam.parse_entry("1" * 100_000)
    message = str(caught.value)
    assert message.startswith('invalid address entry "' + "1" * 79 + '…": 100000 characters, too long for one')
    assert len(message) < 300
    longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.0-ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
    assert ipam.parse_entry(longest).text == longest
