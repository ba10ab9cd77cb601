"""Address arithmetic for MetalLB pools, on the standard library's `ipaddress` (no I/O).

An IPAddressPool lists entries that are either a CIDR (`192.168.10.0/24`, `fc00::/120`) or an inclusive range
(`192.168.10.1-192.168.10.50`, spaces around the dash allowed, as MetalLB trims them). Every entry becomes an
`AddressRange` (first and last address, both inclusive); everything else here works on those.

API (stable; preflight and status import it):

- `parse_entry(text, strict=True) -> AddressRange`: one entry; `AddressError` (a ValueError with a one-line
  message naming the entry and what is wrong) on bad input. `strict=True` also refuses what MetalLB would
  silently accept but is almost certainly a typo (a CIDR with host bits set, `10.0.0.5/24`). Use
  `strict=False` to read pools that already exist.
- `parse_entries(texts, strict=True) -> [AddressRange]`: a list; also refuses entries that overlap each other.
- `split_addresses("a, b,c") -> ["a", "b", "c"]`: a comma-separated command-line value.
- `capacity(ranges, avoid_buggy_ips=False) -> Capacity(v4, v6)`: usable addresses per family; with
  avoid_buggy_ips, IPv4 addresses ending in .0 or .255 are not counted (MetalLB never hands them out).
- `overlaps(ranges_a, ranges_b) -> [(a, b)]`, `pool_overlaps({pool: ranges}) -> [Overlap]`: shared addresses.
  An entry written as IPv4-mapped IPv6 (`::ffff:198.51.100.240/124`) holds the IPv4 addresses it maps
  (198.51.100.240/28), as Go's net package and so MetalLB read it: it overlaps IPv4 pools, nodes and ranges.
- `network_overlaps(ranges, network) -> [AddressRange]`: entries that share addresses with a CIDR (service CIDR,
  pod CIDR, a node address as /32 or /128).
- `special_overlaps(ranges) -> [Special]`: entries holding addresses no client can reach as a Service address:
  the whole address space (0.0.0.0/0, ::/0), unspecified, loopback, link-local, multicast, reserved (240.0.0.0/4)
  and broadcast addresses. Preflight and the analyzer both refuse such pools.
- `contains(ranges, ip)`, `pool_of(ip, pools)`: which pool holds an address; `is_address(text)`.
- `readable_count(n)`: `256`, `2^64`, `2^64+254`, `~2^64.6`: sizes a person can read, IPv6 included.
"""

import functools
import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from metallb_plugin.core.text import echo, printable

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")  # IPv4-mapped IPv6: ::ffff:a.b.c.d is a.b.c.d
_MAPPED_FIRST, _MAPPED_LAST = int(_MAPPED.network_address), int(_MAPPED.broadcast_address)

EXAMPLES = "use a CIDR like 192.168.10.0/24 or a range like 192.168.10.1-192.168.10.50"
MAX_ENTRY = 100  # characters: the longest range of full IPv6 addresses is 91


class AddressError(ValueError):
    """Bad address input; str() is one line that names the entry (quoted as typed, see printable)."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


@dataclass(frozen=True, order=True)
class AddressRange:
    """An inclusive range of addresses of one family, with the text it was written as."""

    first: IPAddress
    last: IPAddress
    text: str = field(compare=False, default="")

    @property
    def version(self) -> int:
        return self.first.version

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    @property
    def cidrs(self) -> List[Any]:
        """The smallest list of CIDRs covering exactly this range (what MetalLB summarises a range into)."""
        return list(ipaddress.summarize_address_range(self.first, self.last))

    @functools.cached_property  # compared in loops over pools x nodes
    def span(self) -> Tuple[int, int, int]:
        """(family, first, last) as integers, an IPv4-mapped IPv6 range as the IPv4 addresses it maps."""
        return _span(self.version, int(self.first), int(self.last))

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, (str, int, ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return False
        address = _as_address(ip)
        family, value, _ = _span(address.version, int(address), int(address))
        own_family, first, last = self.span
        return family == own_family and first <= value <= last

    def overlaps(self, other: "AddressRange") -> bool:
        family, first, last = self.span
        other_family, other_first, other_last = other.span
        return family == other_family and first <= other_last and other_first <= last

    def usable(self, avoid_buggy_ips: bool = False) -> int:
        """Addresses MetalLB may hand out from this range."""
        if not avoid_buggy_ips or self.version != 4:
            return self.size
        return self.size - _buggy_count(int(self.first), int(self.last))

    def __str__(self) -> str:
        return self.text or (f"{self.first}-{self.last}" if self.first != self.last else f"{self.first}")


@dataclass(frozen=True)
class Capacity:
    v4: int = 0
    v6: int = 0

    @property
    def total(self) -> int:
        return self.v4 + self.v6


@dataclass(frozen=True)
class Overlap:
    pool: str
    entry: AddressRange
    other_pool: str
    other_entry: AddressRange

    def __str__(self) -> str:
        return (
            f'{self.entry} in pool "{self.pool}" overlaps {self.other_entry} in pool "{self.other_pool}"'
            if self.pool != self.other_pool
            else f'{self.entry} overlaps {self.other_entry} in pool "{self.pool}"'
        )


# --------------------------------------------------------------------------------------------- parsing


def _span(version: int, first: int, last: int) -> Tuple[int, int, int]:
    if version == 6 and first >= _MAPPED_FIRST and last <= _MAPPED_LAST:
        return 4, first - _MAPPED_FIRST, last - _MAPPED_FIRST
    return version, first, last


def _as_address(ip: Union[str, int, IPAddress]) -> IPAddress:
    return ip if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)) else ipaddress.ip_address(ip)


def _check_characters(text: str, what: str) -> None:
    for char in text:
        if not char.isascii():
            raise AddressError(
                f'invalid {what} "{text}": non-ASCII character "{char}" (U+{ord(char):04X}); '
                "addresses use ASCII digits only"
            )


def _address(part: str, text: str, what: str, role: str = "") -> IPAddress:
    """An address inside an entry; the error says which entry and which part."""
    label = f"{role} address" if role else "address"
    if not part:
        raise AddressError(f'invalid {what} "{text}": the {label} is missing; {EXAMPLES}')
    if any(c.isspace() for c in part):
        raise AddressError(f'invalid {what} "{text}": the {label} "{part}" contains a space')
    if "%" in part:
        raise AddressError(f'invalid {what} "{text}": the {label} "{part}" has a zone (%...), which pools cannot use')
    try:
        return ipaddress.IPv6Address(part) if ":" in part else ipaddress.IPv4Address(part)
    except ValueError as exc:
        reason = str(exc)
        reason = reason[0].lower() + reason[1:] if reason else "not an IP address"
        raise AddressError(f'invalid {what} "{text}": {reason}') from None


def parse_entry(text: Any, strict: bool = True) -> AddressRange:
    """One pool entry (CIDR or `start-end` range) -> AddressRange, or AddressError."""
    if not isinstance(text, str):
        raise AddressError(f"invalid address {text!r}: expected text; {EXAMPLES}")
    if not text.strip():
        raise AddressError(f"empty address entry; {EXAMPLES}")
    if len(text) > MAX_ENTRY:
        raise AddressError(
            f'invalid address entry "{echo(text)}": {len(text)} characters, too long for one; {EXAMPLES}'
        )
    if "-" in text:
        return _parse_range(text)
    return _parse_cidr(text, strict)


def _parse_range(text: str) -> AddressRange:
    what = "range"
    _check_characters(text, what)
    parts = text.split("-")
    if len(parts) != 2:
        raise AddressError(f'invalid range "{text}": more than one "-"; write one range as START-END')
    start_text, end_text = parts[0].strip(), parts[1].strip()
    for part, role in ((start_text, "start"), (end_text, "end")):
        if "/" in part:
            raise AddressError(
                f'invalid range "{text}": the {role} "{part}" is a CIDR; a range is two plain addresses, START-END'
            )
    start = _address(start_text, text, what, "start")
    end = _address(end_text, text, what, "end")
    if start.version != end.version:
        raise AddressError(
            f'invalid range "{text}": the start is IPv{start.version} and the end is '
            f"IPv{end.version}; both ends must be of the same family"
        )
    if int(start) > int(end):
        raise AddressError(f'invalid range "{text}": the start {start} is after the end {end}')
    return AddressRange(start, end, text)


def _parse_cidr(text: str, strict: bool) -> AddressRange:
    what = "CIDR"
    _check_characters(text, what)
    if any(c.isspace() for c in text):
        raise AddressError(f'invalid CIDR "{text}": contains a space')
    if "/" not in text:
        address = _address(text, text, "address")
        bits = address.max_prefixlen
        raise AddressError(
            f'invalid address "{text}": a single address needs a prefix length, like {address}/{bits}; {EXAMPLES}'
        )
    address_text, _, prefix_text = text.partition("/")
    address = _address(address_text, text, what)
    bits = address.max_prefixlen
    if not prefix_text:
        raise AddressError(f'invalid CIDR "{text}": the prefix length after "/" is missing')
    if not prefix_text.isdigit():
        raise AddressError(f'invalid CIDR "{text}": the prefix length "{prefix_text}" is not a number')
    prefix = int(prefix_text)
    if prefix > bits:
        raise AddressError(
            f'invalid CIDR "{text}": prefix length {prefix} is out of range for IPv{address.version} (0-{bits})'
        )
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if strict and network.network_address != address:
        raise AddressError(
            f'invalid CIDR "{text}": host bits are set after /{prefix}; did you mean {network}'
            f" (or {address}/{bits} for the single address)?"
        )
    return AddressRange(network.network_address, network.broadcast_address, text)


def split_addresses(value: Union[str, Sequence[str]]) -> List[str]:
    """A comma-separated command-line value -> stripped entries (empty items are kept, so they are reported)."""
    if not isinstance(value, str):
        return [item for part in value for item in split_addresses(part)]
    return [item.strip() for item in value.split(",")]


def parse_entries(texts: Sequence[Any], strict: bool = True) -> List[AddressRange]:
    """A pool's address list -> [AddressRange]; AddressError on a bad entry or entries that overlap."""
    if not texts:
        raise AddressError(f"no addresses given; {EXAMPLES}")
    ranges = [parse_entry(text, strict) for text in texts]
    found = pool_overlaps({"": ranges})
    if found:
        first = found[0]
        raise AddressError(f"{first.entry} overlaps {first.other_entry}: entries of a pool must not overlap")
    return ranges


# --------------------------------------------------------------------------------------------- sizes


def _multiples(low: int, high: int, step: int, offset: int) -> int:
    """How many x in [low, high] with x % step == offset."""

    def upto(n: int) -> int:  # count in [0, n]
        return 0 if n < offset else (n - offset) // step + 1

    return upto(high) - (upto(low - 1) if low > 0 else 0)


def _buggy_count(low: int, high: int) -> int:
    return _multiples(low, high, 256, 0) + _multiples(low, high, 256, 255)


def is_buggy(ip: Union[str, IPAddress]) -> bool:
    """An IPv4 address ending in .0 or .255 (skipped by MetalLB when avoidBuggyIPs is set)."""
    address = _as_address(ip)
    return address.version == 4 and int(address) % 256 in (0, 255)


def capacity(ranges: Iterable[AddressRange], avoid_buggy_ips: bool = False) -> Capacity:
    """Usable addresses per family."""
    ranges = list(ranges)
    v4 = sum(r.usable(avoid_buggy_ips) for r in ranges if r.version == 4)
    v6 = sum(r.usable(avoid_buggy_ips) for r in ranges if r.version == 6)
    return Capacity(v4, v6)


EXACT_BELOW = 10_000_000


def readable_count(n: int) -> str:
    """A count a person can read: exact below ten million, else near a power of two.

    `256`, `2^64`, `2^64+254` and `2^64-3` (still exact), or `~2^64.6` when nothing short is exact.
    """
    n = int(n)
    if n < EXACT_BELOW:
        return str(n)
    below = n.bit_length() - 1
    if n - 2**below < EXACT_BELOW:
        rest = n - 2**below
        return f"2^{below}+{rest}" if rest else f"2^{below}"
    if 2 ** (below + 1) - n < EXACT_BELOW:
        return f"2^{below + 1}-{2 ** (below + 1) - n}"
    return f"~2^{math.log2(n):.1f}"


# --------------------------------------------------------------------------------------------- overlaps


def overlaps(
    ranges_a: Iterable[AddressRange], ranges_b: Sequence[AddressRange]
) -> List[Tuple[AddressRange, AddressRange]]:
    """[(a, b)] for every pair of entries that share at least one address."""
    return [(a, b) for a in ranges_a for b in ranges_b if a.overlaps(b)]


def pool_overlaps(pools: Mapping[str, Sequence[AddressRange]]) -> List[Overlap]:
    """Every overlap between entries of the given pools ({name: [AddressRange]}), within a pool too.

    A sweep over the entries sorted by start, so thousands of entries stay cheap.
    """
    entries = sorted(((*r.span, name, r) for name, ranges in pools.items() for r in ranges), key=lambda e: e[:3])
    found: List[Overlap] = []
    active: List[Tuple[int, int, int, str, AddressRange]] = []
    for version, first, last, name, entry in entries:
        active = [a for a in active if a[0] == version and a[2] >= first]
        for _, _, _, other_name, other in active:
            found.append(Overlap(other_name, other, name, entry))
        active.append((version, first, last, name, entry))
    return found


def network_range(network: Any) -> AddressRange:
    """A network (CIDR text, ip_network, or an address = one-address network) as an AddressRange."""
    if isinstance(network, str):
        network = ipaddress.ip_network(network, strict=False)
    elif isinstance(network, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        network = ipaddress.ip_network(network)
    return AddressRange(network.network_address, network.broadcast_address, str(network))


def network_overlaps(ranges: Iterable[AddressRange], network: Any) -> List[AddressRange]:
    """Entries sharing addresses with a network (as network_range takes it)."""
    other = network_range(network)
    return [r for r in ranges if r.overlaps(other)]


def is_address(text: Any) -> bool:
    """Whether text is one IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def contains(ranges: Iterable[AddressRange], ip: Any) -> bool:
    try:
        address = _as_address(ip)
    except ValueError:
        return False
    return any(address in r for r in ranges)


def pool_of(ip: Union[str, IPAddress], pools: Mapping[str, Sequence[AddressRange]]) -> Optional[str]:
    """The name of the first pool ({name: [AddressRange]}) holding ip, or None."""
    try:
        address = _as_address(ip)  # once, not once per pool
    except ValueError:
        return None
    for name, ranges in pools.items():
        if contains(ranges, address):
            return name
    return None


# --------------------------------------------------------------------------------------------- special ranges

# (CIDR, kind, why no client reaches a Service there), IPv4 then IPv6
SPECIAL_NETWORKS = (
    ("0.0.0.0/8", "unspecified", 'mean "this host" and are never a destination'),
    ("127.0.0.0/8", "loopback", "never leave the host that uses them"),
    ("169.254.0.0/16", "link-local", "are not routed, and the nodes' own links use them"),
    ("224.0.0.0/4", "multicast", "belong to groups, not to one host"),
    ("240.0.0.0/4", "reserved", "are reserved (class E): hosts and routers drop them"),
    ("255.255.255.255/32", "broadcast", "reach every host of the segment"),
    ("::/128", "unspecified", "are never a destination"),
    ("::1/128", "loopback", "never leave the host that uses them"),
    ("fe80::/10", "link-local", "are not routed, and the nodes' own links use them"),
    ("ff00::/8", "multicast", "belong to groups, not to one host"),
)
EVERYTHING = "everything"


@dataclass(frozen=True)
class Special:
    """A pool entry holding addresses of a special range (or every address of its family)."""

    entry: AddressRange
    kind: str  # loopback | multicast | link-local | unspecified | broadcast | reserved | EVERYTHING
    network: str  # the special range, like 127.0.0.0/8
    why: str

    def __str__(self) -> str:
        if self.kind == EVERYTHING:
            return f"{self.entry} is every IPv{self.entry.version} address ({self.network}), loopback and multicast included"
        network = ipaddress.ip_network(self.network)
        _, first, last = self.entry.span
        if int(network.network_address) <= first and last <= int(network.broadcast_address):
            return f"{self.entry} is {self.kind} ({self.network}): {self.kind} addresses {self.why}"
        return f"{self.entry} includes {self.kind} addresses ({self.network}), which {self.why}"


def _special_ranges() -> List[Tuple[AddressRange, str, str]]:
    found = []
    for cidr, kind, why in SPECIAL_NETWORKS:
        network = ipaddress.ip_network(cidr)
        found.append((AddressRange(network.network_address, network.broadcast_address, cidr), kind, why))
    return found


def special_overlaps(ranges: Iterable[AddressRange]) -> List[Special]:
    """Entries holding addresses no client can reach as a Service address, one Special per entry and range; an entry
    spanning a whole family (0.0.0.0/0, ::/0) is reported once as such."""
    specials = _special_ranges()
    found: List[Special] = []
    for entry in ranges:
        if entry.size == 2**entry.first.max_prefixlen:
            whole = "0.0.0.0/0" if entry.version == 4 else "::/0"
            found.append(Special(entry, EVERYTHING, whole, ""))
            continue
        found += [Special(entry, kind, str(special), why) for special, kind, why in specials if entry.overlaps(special)]
    return found
