"""install --manifest: show how a manifest that is not a pinned release file differs from the closest one."""


def show_provenance(ctx, data, manifest):
    """A manifest that is not a pinned release file, compared with the closest one; the differences are shown."""
    from metallb_plugin.core import manifests
    from metallb_plugin.core.install import provenance

    report = provenance.check(manifests.parse(data), manifest.version, manifest.mode)
    if report.reference:
        tag, name = report.reference.split("/", 1)
        ctx.say(f"--manifest is not a pinned release file; compared with MetalLB {tag}'s {name}:")
    for line in report.lines[:40]:
        ctx.say(f"  {line}")
    if len(report.lines) > 40:
        ctx.say(f"  ... and {len(report.lines) - 40} more differences (-o json lists them all)")
    for line in report.risky:
        ctx.warn(f"{line}")
    return report
