"""What the pools subcommands share: paths of MetalLB's kinds and reads."""

from metallb_plugin import cluster, defaults, errors, output
from metallb_plugin.core import objects as k8s

PLURALS = {
    "IPAddressPool": "ipaddresspools",
    "L2Advertisement": "l2advertisements",
    "BGPAdvertisement": "bgpadvertisements",
    "BGPPeer": "bgppeers",
    "BFDProfile": "bfdprofiles",
    "Community": "communities",
}
APPLY_ORDER = ("BFDProfile", "Community", "IPAddressPool", "BGPPeer", "BGPAdvertisement", "L2Advertisement")


def path(kind, namespace, name=None):
    api_version = defaults.V1BETA2 if kind == "BGPPeer" else defaults.V1BETA1
    return cluster.api_path(api_version, PLURALS[kind], namespace, name)


def list_metallb(client, kind, namespace):
    try:
        items = client.list(path(kind, namespace))
    except errors.NotFound:
        raise errors.PluginError(
            f"the server has no {PLURALS[kind]}.metallb.io: MetalLB's CRDs are not installed "
            "(run kubectl metallb install)"
        ) from None
    for item in items:  # list items of custom resources carry kind, but do not rely on it
        item.setdefault("kind", kind)
    return items


def list_optional(ctx, client, path, what, verbose):
    """A list that only feeds warnings: None when it cannot be read (no permission, API not served)."""
    try:
        return client.list(path)
    except (errors.Forbidden, errors.NotFound) as exc:
        if verbose:
            ctx.say(f"note: cannot list {what}: {exc}")
        return None


def documents(objects, fmt):
    """Objects as -o json (a List) or YAML (one document each)."""
    if fmt == "json":
        return output.dump({"apiVersion": "v1", "kind": "List", "items": objects}, "json")
    return "---\n".join(output.dump(obj, "yaml") for obj in objects)


def pool_ranges(pools):
    """{name: ranges} of the pools whose addresses all parse (as MetalLB reads them)."""
    parsed = {}
    for pool in pools:
        ranges, error = k8s.pool_ranges(pool)
        if error is None:
            parsed[k8s.name(pool)] = ranges
    return parsed
