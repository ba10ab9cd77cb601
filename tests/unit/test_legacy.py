"""The legacy ConfigMap -> CRs conversion, on golden cases covering every field of the upstream mapping."""

import textwrap

import pytest
import yaml

from metallb_plugin.core import legacy
from metallb_plugin.core.duration import parse_duration
from metallb_plugin.core.legacy import LegacyConfigError


def convert(text, namespace="metallb-system"):
    config, found = legacy.load(textwrap.dedent(text))
    return legacy.convert(config, found or namespace)


def golden(text):
    return list(yaml.safe_load_all(textwrap.dedent(text)))


FULL = """\
apiVersion: v1
kind: ConfigMap
metadata:
  namespace: metallb-system
  name: config
data:
  config: |
    peers:
    - peer-address: 10.0.0.1
      peer-asn: 64512
      my-asn: 64512
      peer-port: 179
      source-address: 10.0.0.2
      hold-time: 120s
      keepalive-time: 30s
      router-id: 1.2.3.4
      password: "yourPassword"
      bfd-profile: "bfdprofile1"
      ebgp-multihop: false
      node-selectors:
      - match-labels:
          kubernetes.io/hostname: prod-01
        match-expressions:
        - key: kubernetes.io/arch
          operator: In
          values: [amd64, arm]
    - peer-address: 2001:db8::1
      peer-asn: 64600
      my-asn: 64512
      ebgp-multihop: true
      hold-time: 3.9s
    address-pools:
    - name: my-ip-space
      protocol: bgp
      addresses:
      - 192.168.10.0/24
      - 192.168.0.150-192.168.0.200
      avoid-buggy-ips: true
      auto-assign: true
      bgp-advertisements:
      - aggregation-length: 32
        aggregation-length-v6: 64
        localpref: 100
        communities:
        - 64512:1
        - no-export
      - aggregation-length: 28
    - name: plain-bgp
      protocol: bgp
      addresses: [198.51.100.0/24]
    - name: my-l2-space
      protocol: layer2
      addresses:
      - 192.168.11.0/24
      auto-assign: false
    bgp-communities:
      no-export: 65535:65281
      a-large: large:64512:1:2
    bfd-profiles:
    - name: bfdprofile1
      receive-interval: 280
      transmit-interval: 270
      echo-interval: 62
      echo-mode: true
      passive-mode: false
      minimum-ttl: 254
      detect-multiplier: 200
    - name: defaults
"""

FULL_GOLDEN = """\
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: peer1, namespace: metallb-system}
spec:
  bfdProfile: bfdprofile1
  holdTime: 2m0s
  keepaliveTime: 30s
  myASN: 64512
  nodeSelectors:
  - matchExpressions:
    - {key: kubernetes.io/arch, operator: In, values: [amd64, arm]}
    matchLabels: {kubernetes.io/hostname: prod-01}
  password: yourPassword
  peerASN: 64512
  peerAddress: 10.0.0.1
  peerPort: 179
  routerID: 1.2.3.4
  sourceAddress: 10.0.0.2
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: peer2, namespace: metallb-system}
spec: {ebgpMultiHop: true, holdTime: 3s, myASN: 64512, peerASN: 64600, peerAddress: "2001:db8::1"}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: my-ip-space, namespace: metallb-system}
spec:
  addresses: [192.168.10.0/24, 192.168.0.150-192.168.0.200]
  autoAssign: true
  avoidBuggyIPs: true
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: plain-bgp, namespace: metallb-system}
spec: {addresses: [198.51.100.0/24]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: my-l2-space, namespace: metallb-system}
spec: {addresses: [192.168.11.0/24], autoAssign: false}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bgpadvertisement1, namespace: metallb-system}
spec:
  aggregationLength: 32
  aggregationLengthV6: 64
  communities: ["64512:1", no-export]
  ipAddressPools: [my-ip-space]
  localPref: 100
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bgpadvertisement2, namespace: metallb-system}
spec: {aggregationLength: 28, ipAddressPools: [my-ip-space]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bgpadvertisement3, namespace: metallb-system}
spec: {ipAddressPools: [plain-bgp]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2advertisement1, namespace: metallb-system}
spec: {ipAddressPools: [my-l2-space]}
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: bfdprofile1, namespace: metallb-system}
spec: {detectMultiplier: 200, echoInterval: 62, echoMode: true, minimumTtl: 254, passiveMode: false,
       receiveInterval: 280, transmitInterval: 270}
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: defaults, namespace: metallb-system}
spec: {echoMode: false, passiveMode: false}
---
apiVersion: metallb.io/v1beta1
kind: Community
metadata: {name: communities, namespace: metallb-system}
spec:
  communities:
  - {name: a-large, value: "large:64512:1:2"}
  - {name: no-export, value: "65535:65281"}
"""


def test_full_configmap_golden():
    result = convert(FULL)
    assert result.objects == golden(FULL_GOLDEN)
    assert result.renamed == [] and result.warnings == []


def test_order_and_spec_keys_are_stable():
    kinds = [o["kind"] for o in convert(FULL).objects]
    assert kinds == [
        "BGPPeer",
        "BGPPeer",
        "IPAddressPool",
        "IPAddressPool",
        "IPAddressPool",
        "BGPAdvertisement",
        "BGPAdvertisement",
        "BGPAdvertisement",
        "L2Advertisement",
        "BFDProfile",
        "BFDProfile",
        "Community",
    ]
    for obj in convert(FULL).objects:
        assert list(obj["spec"]) == sorted(obj["spec"])


def test_namespace_comes_from_the_configmap():
    text = FULL.replace("namespace: metallb-system", "namespace: lb")
    assert {o["metadata"]["namespace"] for o in convert(text).objects} == {"lb"}


def test_bare_config_data_uses_the_given_namespace():
    result = convert(
        """\
        address-pools:
        - name: default
          protocol: layer2
          addresses: [192.168.1.240/28]
        """,
        namespace="other",
    )
    assert result.objects == golden("""\
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {name: default, namespace: other}
        spec: {addresses: [192.168.1.240/28]}
        ---
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: {name: l2advertisement1, namespace: other}
        spec: {ipAddressPools: [default]}
        """)


def test_peer_defaults_and_minimal_peer():
    peer = convert("""\
        peers:
        - {my-asn: 64512, peer-asn: 64513, peer-address: 10.96.0.100}
        """).objects[0]
    # hold time defaults to 90s; an unset keepalive stays unset (MetalLB then uses a third of the hold time)
    assert peer["spec"] == {"holdTime": "1m30s", "myASN": 64512, "peerASN": 64513, "peerAddress": "10.96.0.100"}


@pytest.mark.parametrize(
    "hold, written",
    [
        ("0s", "0s"),
        ("3s", "3s"),
        ("90", None),
        ("1h", "1h0m0s"),
        ("1m30.9s", "1m30s"),
        ("180000ms", "3m0s"),
        ("2h5m7s", "2h5m7s"),
    ],
)
def test_hold_time_rounding_and_format(hold, written):
    text = f"peers:\n- {{my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, hold-time: '{hold}'}}\n"
    if written is None:
        with pytest.raises(LegacyConfigError) as caught:
            convert(text)
        assert str(caught.value) == (
            'peers[0].hold-time: missing unit in duration "90" (use a duration like 90s or 1m30s)'
        )
    else:
        assert convert(text).objects[0]["spec"]["holdTime"] == written


def test_odd_names_are_normalised_like_upstream():
    result = convert("""\
        peers:
        - {my-asn: 64512, peer-asn: 64512, peer-address: 10.0.0.1, bfd-profile: underscored_bfd_profile}
        address-pools:
        - name: 01-numbered-addresspool
          protocol: bgp
          addresses: [198.51.100.0/24, "fc00:f853:0ccd:e799::/124"]
        - name: Capitalized-AddressPool
          protocol: layer2
          addresses: [192.168.1.240/28]
        bfd-profiles:
        - name: underscored_bfd_profile
        - name: tooLongBFDProfileName01-tooLongBFDProfileName02-tooLongBFDProfileName03-tooLongBFDProfileName04
        """)
    names = [(o["kind"], o["metadata"]["name"]) for o in result.objects]
    assert names == [
        ("BGPPeer", "peer1"),
        ("IPAddressPool", "numbered-addresspool"),
        ("IPAddressPool", "capitalized-addresspool"),
        ("BGPAdvertisement", "bgpadvertisement1"),
        ("L2Advertisement", "l2advertisement1"),
        ("BFDProfile", "underscored-bfd-profile"),
        ("BFDProfile", "toolongbfdprofilename01-toolongbfdprofilename02-toolongbfdprofi"),
    ]
    assert result.objects[0]["spec"]["bfdProfile"] == "underscored-bfd-profile"
    assert result.objects[3]["spec"]["ipAddressPools"] == ["numbered-addresspool"]
    assert result.objects[4]["spec"]["ipAddressPools"] == ["capitalized-addresspool"]
    assert ("IPAddressPool", "01-numbered-addresspool", "numbered-addresspool") in result.renamed
    assert len(result.renamed) == 4


@pytest.mark.parametrize(
    "name, expected",
    [
        ("default", "default"),
        ("a1", "a1"),
        ("Prod_Pool", "prod-pool"),
        ("9-lives", "lives"),
        ("-x-", "x-"),
        ("a", "a"),  # upstream's pattern needs two characters, so "a" is rewritten, to itself
    ],
)
def test_normalize_name(name, expected):
    assert legacy.normalize_name(name) == expected


def test_name_without_a_letter_is_an_error():
    with pytest.raises(LegacyConfigError) as caught:
        convert("address-pools:\n- {name: '2024', protocol: layer2, addresses: [10.0.0.0/24]}\n")
    assert str(caught.value) == 'address-pools[0].name: cannot turn "2024" into a Kubernetes name: it has no letter'


def test_community_values_are_never_base_60_numbers():
    result = convert("""\
        bgp-communities: {short: 64512:1}
        address-pools:
        - name: p
          protocol: bgp
          addresses: [10.0.0.0/24]
          bgp-advertisements: [{communities: [64512:59, short]}]
        """)
    adv = result.objects[1]
    assert adv["spec"]["communities"] == ["64512:59", "short"]
    assert result.objects[-1]["spec"]["communities"] == [{"name": "short", "value": "64512:1"}]


def test_keys_match_case_insensitively_like_go():
    result = convert("Address-Pools:\n- {Name: p, Protocol: layer2, Addresses: [10.0.0.0/24]}\n")
    assert [o["kind"] for o in result.objects] == ["IPAddressPool", "L2Advertisement"]


def test_unknown_fields_are_warnings():
    result = convert("address-pools:\n- {name: p, protocol: layer2, addresses: [10.0.0.0/24], colour: red}\nextra: 1\n")
    assert result.warnings == [
        "config.extra: unknown field, ignored",
        "address-pools[0].colour: unknown field, ignored",
    ]


def test_duplicate_peer_is_a_warning():
    result = convert(
        "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1}\n"
        "- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1}\n"
    )
    assert "peers[1]: the same session as peers[0]" in result.warnings


def test_no_pools_is_a_warning():
    assert convert("peers: []\n").warnings == ["config: no address-pools: MetalLB will not assign any address"]


@pytest.mark.parametrize(
    "config, message",
    [
        ("address-pools:\n- {protocol: layer2, addresses: [10.0.0.0/24]}", "address-pools[0].name: missing"),
        (
            "address-pools:\n- {name: p, protocol: l2, addresses: [10.0.0.0/24]}",
            "address-pools[0].protocol: 'l2'; use layer2 or bgp",
        ),
        (
            "address-pools:\n- {name: p, addresses: [10.0.0.0/24]}",
            "address-pools[0].protocol: missing; use layer2 or bgp",
        ),
        ("address-pools:\n- {name: p, protocol: layer2}", "address-pools[0].addresses: the pool has no addresses"),
        (
            "address-pools:\n- {name: p, protocol: layer2, addresses: 10.0.0.0/24}",
            "address-pools[0].addresses: expected a list, got text",
        ),
        (
            "address-pools:\n- {name: p, protocol: layer2, addresses: [10.0.0.0/24, 10.0.1.0/33]}",
            'address-pools[0].addresses[1]: invalid CIDR "10.0.1.0/33": prefix length 33 is out of range for IPv4 (0-32)',
        ),
        (
            "address-pools:\n- {name: p, protocol: layer2, addresses: [10.0.0.9-10.0.0.1]}",
            'address-pools[0].addresses[0]: invalid range "10.0.0.9-10.0.0.1": the start 10.0.0.9 is after the end',
        ),
        (
            "address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24]}\n"
            "- {name: b, protocol: layer2, addresses: [10.0.0.128/25]}",
            "address-pools[1].addresses[0]: 10.0.0.128/25 overlaps 10.0.0.0/24 (address-pools[0].addresses[0])",
        ),
        (
            "address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24]}\n"
            "- {name: A, protocol: layer2, addresses: [10.0.1.0/24]}",
            'address-pools[1].name: duplicate pool "a" (also address-pools[0])',
        ),
        (
            "address-pools:\n- {name: p, protocol: layer2, addresses: [10.0.0.0/24], auto-assign: 'yes please'}",
            "address-pools[0].auto-assign: expected true or false, got text 'yes please'",
        ),
        (
            "address-pools:\n- {name: p, protocol: layer2, addresses: [10.0.0.0/24], bgp-advertisements: [{}]}",
            "address-pools[0].bgp-advertisements: only a bgp pool can have them (protocol is layer2)",
        ),
        (
            "address-pools:\n- {name: p, protocol: bgp, addresses: [10.0.0.0/24],"
            " bgp-advertisements: [{aggregation-length: 16}]}",
            "address-pools[0].bgp-advertisements[0].aggregation-length: 16 is less specific than /24 of 10.0.0.0/24 "
            "(address-pools[0].addresses[0]); use at least 24",
        ),
        (
            "address-pools:\n- {name: p, protocol: bgp, addresses: ['fc00::/64'],"
            " bgp-advertisements: [{aggregation-length-v6: 48}]}",
            "address-pools[0].bgp-advertisements[0].aggregation-length-v6: 48 is less specific than /64",
        ),
        (
            "address-pools:\n- {name: p, protocol: bgp, addresses: [10.0.0.0/24],"
            " bgp-advertisements: [{aggregation-length: 33}]}",
            "address-pools[0].bgp-advertisements[0].aggregation-length: 33 is out of range (1-32)",
        ),
        (
            "address-pools:\n- {name: p, protocol: bgp, addresses: [10.0.0.0/24],"
            " bgp-advertisements: [{communities: [nope]}]}",
            'address-pools[0].bgp-advertisements[0].communities[0]: "nope" is neither an alias from bgp-communities',
        ),
        (
            "address-pools:\n- {name: p, protocol: bgp, addresses: [10.0.0.0/24],"
            " bgp-advertisements: [{localpref: -1}]}",
            "address-pools[0].bgp-advertisements[0].localpref: -1 is out of range (0-4294967295)",
        ),
        ("bgp-communities: {bad: '70000:1'}", 'bgp-communities.bad: invalid community value "70000:1"'),
        ("bgp-communities: [a]", "bgp-communities: expected a mapping of alias: value, got a list"),
        ("peers:\n- {peer-asn: 2, peer-address: 10.0.0.1}", "peers[0].my-asn: missing (the local AS number)"),
        ("peers:\n- {my-asn: 1, peer-address: 10.0.0.1}", "peers[0].peer-asn: missing (the peer's AS number)"),
        ("peers:\n- {my-asn: 1, peer-asn: 2}", "peers[0].peer-address: missing"),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.300}",
            'peers[0].peer-address: "10.0.0.300" is not an IP address',
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, source-address: x}",
            'peers[0].source-address: "x" is not an IP address',
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, router-id: 1.2.3}",
            'peers[0].router-id: "1.2.3" is not an IP address',
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, peer-port: 70000}",
            "peers[0].peer-port: 70000 is out of range (0-65535)",
        ),
        (
            "peers:\n- {my-asn: 4294967296, peer-asn: 2, peer-address: 10.0.0.1}",
            "peers[0].my-asn: 4294967296 is out of range (0-4294967295)",
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, hold-time: 2s}",
            'peers[0].hold-time: invalid hold time "2s": must be 0 or >=3s',
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, hold-time: soon}",
            'peers[0].hold-time: invalid duration "soon"',
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, hold-time: 30s, keepalive-time: 40s}",
            "peers[0].keepalive-time: 40s must not be more than the hold time 30s",
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 1, peer-address: 10.0.0.1, ebgp-multihop: true}",
            "peers[0].ebgp-multihop: set for an iBGP peer (my-asn = peer-asn)",
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, bfd-profile: missing}",
            'peers[0].bfd-profile: no BFD profile named "missing" in bfd-profiles',
        ),
        (
            'peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, password: "a\\nb"}',
            "peers[0].password: contains a line break",
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, node-selectors: [{match-expressions: "
            "[{key: k, operator: Maybe}]}]}",
            'peers[0].node-selectors[0].match-expressions[0].operator: "Maybe" is not one of In, NotIn, Exists',
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, node-selectors: [{match-expressions: "
            "[{key: k, operator: In}]}]}",
            "peers[0].node-selectors[0].match-expressions[0].values: In needs at least one value",
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, node-selectors: [{match-expressions: "
            "[{key: k, operator: Exists, values: [a]}]}]}",
            "peers[0].node-selectors[0].match-expressions[0].values: Exists takes no values",
        ),
        (
            "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1, node-selectors: [{labels: {}}]}",
            "peers[0].node-selectors[0].labels: unknown field (use match-labels and match-expressions)",
        ),
        ("peers: {a: 1}", "peers: expected a list, got a mapping"),
        ("bfd-profiles:\n- {receive-interval: 100}", "bfd-profiles[0].name: missing"),
        (
            "bfd-profiles:\n- {name: b, receive-interval: 5}",
            "bfd-profiles[0].receive-interval: 5 is out of range (10-60000)",
        ),
        (
            "bfd-profiles:\n- {name: b, detect-multiplier: 256}",
            "bfd-profiles[0].detect-multiplier: 256 is out of range (2-255)",
        ),
        ("bfd-profiles:\n- {name: b, minimum-ttl: 0}", "bfd-profiles[0].minimum-ttl: 0 is out of range (1-254)"),
        ("bfd-profiles:\n- {name: b, echo-mode: maybe}", "bfd-profiles[0].echo-mode: expected true or false"),
        ("bfd-profiles:\n- {name: b}\n- {name: B}", 'bfd-profiles[1].name: duplicate BFD profile "b"'),
    ],
)
def test_invalid_config_names_the_field(config, message):
    with pytest.raises(LegacyConfigError) as caught:
        convert(config + "\n")
    assert str(caught.value).startswith(message) or message in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "kind: ConfigMap\nmetadata: {name: config}\ndata: {other: x}\n",
            'ConfigMap config: it has no "config" data key, so it is not a legacy MetalLB configuration',
        ),
        (
            "kind: ConfigMap\nmetadata: {name: config}\ndata:\n  config: 'a: [b'\n",
            'data.config of ConfigMap "config" is not valid YAML',
        ),
        ("apiVersion: v1\nkind: Service\n", "neither a ConfigMap nor a legacy MetalLB configuration"),
        ("", "the legacy configuration is empty"),
        ("[1, 2]", "the legacy configuration: expected a mapping, got a list"),
        ("a: [", "the legacy configuration is not valid YAML"),
        ("a: " + "[" * 500 + "]" * 500, "the legacy configuration is nested more than 200 levels deep"),
    ],
)
def test_input_documents(text, message):
    with pytest.raises(LegacyConfigError) as caught:
        legacy.load(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("0", 0),
        ("90s", 90),
        ("1m30s", 90),
        ("1.5h", 5400),
        ("-2s", -2),
        ("+3s", 3),
        ("500ms", 0.5),
        ("1h2m3s4ms", 3723.004),
        ("1us", 1e-6),
    ],
)
def test_go_duration(text, seconds):
    assert parse_duration(text, go=True) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "1", "1x", "1h-2m", "--1s", "1 s"])
def test_go_duration_invalid(text):
    with pytest.raises(ValueError):
        parse_duration(text, go=True)


@pytest.mark.parametrize(
    "value, ok",
    [
        ("65535:65282", True),
        ("0:0", True),
        ("65536:1", False),
        ("1:2:3", False),
        ("large:1:2:3", True),
        ("large:4294967296:1:1", False),
        ("a:b", False),
        ("no-export", False),
    ],
)
def test_valid_community(value, ok):
    assert legacy.valid_community(value) is ok


def test_a_dot_and_underscores_are_text_not_a_broken_float():
    with pytest.raises(LegacyConfigError, match="address-pools"):
        legacy.convert(legacy.load("address-pools: ._\n")[0])
    assert legacy.parse_yaml("a: ._\nb: .5\nc: 1_0.0\n") == {"a": "._", "b": 0.5, "c": 10.0}
