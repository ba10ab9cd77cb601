"""What the pools subcommands share: paths of MetalLB's kinds, reads, and writes that wait for MetalLB's webhook."""

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
WEBHOOK_DOWN = ("failed calling webhook", "failed to call webhook", "conversion webhook")


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


def _webhook_down(exc):
    return (
        isinstance(exc, errors.APIError)
        and not isinstance(exc, (errors.Forbidden, errors.Unauthorized))
        and any(marker in exc.message for marker in WEBHOOK_DOWN)
    )


def _why(message):
    return message.rsplit(": ", 1)[-1].strip() or message


def _rejected(exc, what):
    """A webhook denial is MetalLB refusing the object."""
    if isinstance(exc, errors.Denied):
        detail = exc.message.split("denied the request:", 1)[-1].strip()
        return errors.PluginError(f"MetalLB rejected {what}: {detail}")
    if isinstance(exc, errors.Invalid):
        detail = exc.message
        return errors.PluginError(f"the API server rejected {what}: {detail}")
    return exc


def write(ctx, action, what, timeout, progress):
    """Run a write; while MetalLB's admission webhook is not serving (right after install), retry with backoff."""
    deadline = ctx.monotonic() + timeout
    delay = 1.0
    while True:
        try:
            result = action()
            progress.done()
            return result
        except errors.PluginError as exc:
            if not _webhook_down(exc):
                progress.done()
                raise _rejected(exc, what) from None
            reason = _why(exc.message)
            # said before any deadline check, so even a short --timeout shows what it waited for
            progress.update(
                f"waiting for MetalLB's admission webhook to serve ({reason}); retrying {what} for up to {timeout:g}s"
            )
            if ctx.monotonic() + delay > deadline:
                progress.done()
                raise errors.WaitTimeout(
                    f"MetalLB's admission webhook did not accept {what} within {timeout:g}s ({reason}). Is the "
                    "controller running? Check with: kubectl metallb status"
                ) from None
            ctx.sleep(delay)
            delay = min(delay * 2, 10.0)


def ref(obj):
    return f"{obj['kind'].lower()}.metallb.io/{obj['metadata']['name']}"


def documents(objects, fmt):
    """Objects as -o json (a List) or YAML (one document each)."""
    if fmt == "json":
        return output.dump({"apiVersion": "v1", "kind": "List", "items": objects}, "json")
    return "---\n".join(output.dump(obj, "yaml") for obj in objects)


def without_managed_fields(obj):
    (obj.get("metadata") or {}).pop("managedFields", None)  # as kubectl hides them
    return obj


def pool_ranges(pools):
    """{name: ranges} of the pools whose addresses all parse (as MetalLB reads them)."""
    parsed = {}
    for pool in pools:
        ranges, error = k8s.pool_ranges(pool)
        if error is None:
            parsed[k8s.name(pool)] = ranges
    return parsed
