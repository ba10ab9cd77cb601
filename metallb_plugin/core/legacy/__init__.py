"""Convert the legacy MetalLB ConfigMap configuration (<= v0.12) into metallb.io custom resources (no I/O).

Mirrors MetalLB's own converter (`configmaptocrs`): the same object names (`peer<N>`, `bgpadvertisement<N>`,
`l2advertisement<N>`, one `communities` Community), the same defaults (hold time 90s, durations rounded down to
whole seconds) and the same name normalisation (pools, BFD profiles and the peers' references to them). Where
the upstream tool would write something MetalLB then misreads, this module says so instead:
- a pool whose `protocol` is neither `layer2` nor `bgp` is an error (upstream silently drops its advertisement);
- an unset `keepalive-time` stays unset (upstream writes `keepaliveTime: 0s`, i.e. keepalives off), so MetalLB
  uses a third of the hold time as v0.12 did.
Everything is checked before anything is produced, and an error names the path of the bad field, e.g.
`address-pools[1].addresses[0]: invalid CIDR "10.0.0.0/33": ...`.

API:
- `load(text) -> (config dict, namespace or None)`: the YAML of a ConfigMap (data key `config`) or of the bare
  `config` data. YAML is read without YAML 1.1's base-60 numbers, as MetalLB did (`64512:1` stays a string).
- `convert(config, namespace) -> Conversion(objects, renamed, warnings)`: objects in the upstream order
  (BGPPeers, IPAddressPools, BGPAdvertisements, L2Advertisements, BFDProfiles, Community).
- `normalize_name(name)`; `LegacyConfigError` (ValueError) for anything invalid.
"""

from metallb_plugin.core.legacy.convert import convert
from metallb_plugin.core.legacy.read import (
    TOP_KEYS,
    Conversion,
    LegacyConfigError,
    _loader,
    from_document,
    load,
    normalize_name,
    parse_yaml,
    valid_community,
)

__all__ = [
    "TOP_KEYS",
    "Conversion",
    "LegacyConfigError",
    "_loader",
    "convert",
    "from_document",
    "load",
    "normalize_name",
    "parse_yaml",
    "valid_community",
]
