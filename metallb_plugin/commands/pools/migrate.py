"""pools migrate: convert the legacy ConfigMap configuration; print it, or apply it.

Applied objects carry the managed-by label and a purpose annotation naming the migration's source: running the same
migration again updates them, while an object of the same name that another migration (or anyone else) made is
refused, and nothing is applied, unless --overwrite.
"""

import os

from metallb_plugin import cluster, errors, writes
from metallb_plugin.commands import read_text
from metallb_plugin.commands.pools.common import APPLY_ORDER, documents, list_metallb, path, pool_ranges
from metallb_plugin.core import plan
from metallb_plugin.core.plan import Step, Write
from metallb_plugin.defaults import MANAGED_BY, PURPOSE
from metallb_plugin.errors import ExitCode


def _read_source(args, ctx):
    """(config dict, ConfigMap namespace or None, description, ConfigMap (ns, name) or None, client or None)."""
    from metallb_plugin.core import legacy

    if args.file:
        config, found_ns = legacy.load(read_text(args.file, ctx))
        return config, found_ns, args.file, None, None
    ref = args.from_configmap or f"{args.namespace}/config"
    cm_ns, _, cm_name = ref.rpartition("/")
    cm_ns = cm_ns or args.namespace
    client = ctx.connect(args)
    obj = client.get_or_none(cluster.api_path("v1", "configmaps", cm_ns, cm_name))
    if obj is None:
        raise errors.PluginError(
            f"no ConfigMap {cm_ns}/{cm_name}: pass --from-configmap NS/NAME (Helm installs "
            "name it after the release) or --file FILE"
        )
    obj.setdefault("kind", "ConfigMap")
    config, found_ns = legacy.from_document(obj)
    return config, found_ns or cm_ns, f"ConfigMap {cm_ns}/{cm_name}", (cm_ns, cm_name), client


def run(args, ctx):
    from metallb_plugin.core import ipam, legacy

    try:
        config, found_ns, described, configmap, client = _read_source(args, ctx)
        target = args.namespace if args.namespace_given else (found_ns or args.namespace)
        result = legacy.convert(config, target)
    except legacy.LegacyConfigError as exc:
        raise errors.UsageError(f"invalid legacy configuration: {exc}") from None
    for message in result.warnings:
        ctx.warn(message)
    for kind, old, new in result.renamed:
        ctx.say(f'note: {kind} "{old}" is named "{new}" (Kubernetes names are lower-case DNS labels)')
    if not (args.apply or args.dry_run):
        if args.yes or args.overwrite:
            raise errors.UsageError("--yes and --overwrite only apply with --apply (or --dry-run)")
        if args.output == "json":
            ctx.out(documents(result.objects, "json"))
        else:
            ctx.out(f"# Converted from {described} by kubectl metallb pools migrate.\n")
            ctx.out(documents(result.objects, "yaml"))
        return ExitCode.OK

    client = client or ctx.connect(args)
    new_pools = {o["metadata"]["name"]: o for o in result.objects if o["kind"] == "IPAddressPool"}
    live = {kind: list_metallb(client, kind, target) for kind in dict.fromkeys(o["kind"] for o in result.objects)}
    live.setdefault("IPAddressPool", list_metallb(client, "IPAddressPool", target))
    others = [p for p in live["IPAddressPool"] if p["metadata"]["name"] not in new_pools]
    overlaps = [
        o
        for o in ipam.pool_overlaps({**pool_ranges(others), **pool_ranges(new_pools.values())})
        if (o.pool in new_pools) != (o.other_pool in new_pools)
    ]
    if overlaps:
        raise errors.PluginError(
            f"{overlaps[0]}: the converted pools overlap pools already in namespace {target}; nothing was applied"
        )
    purpose = f"pools migrate from {described if not args.file else 'file ' + os.path.basename(args.file)}"
    steps = []
    for obj in sorted(result.objects, key=lambda o: APPLY_ORDER.index(o["kind"])):
        meta = obj["metadata"]
        meta["labels"] = {**(meta.get("labels") or {}), **MANAGED_BY}
        meta["annotations"] = {**(meta.get("annotations") or {}), PURPOSE: purpose}
        before = next((o for o in live[obj["kind"]] if o["metadata"]["name"] == meta["name"]), None)
        write = Write("apply", path(obj["kind"], target, meta["name"]), obj, force=args.overwrite)
        steps.append(Step.of(obj, write, before=before, foreign=plan.foreign(before, purpose)))
    migration = plan.Plan(
        "pools migrate",
        f"Apply {len(steps)} object(s) converted from {described} to namespace {target}?",
        steps,
        atomic=True,
    )
    applied = writes.carry_out(ctx, client, args, migration, overwrite=args.overwrite, timeout=args.timeout)
    writes.show(ctx, args, migration, applied=applied)
    if args.dry_run:
        return ExitCode.OK
    where = f"-n {configmap[0]} {configmap[1]}" if configmap else f"-n {found_ns or target} config"
    ctx.say(
        f"MetalLB v0.13 and later no longer read the legacy ConfigMap. Once `kubectl metallb pools -n {target}` "
        f"shows the pools, remove it: kubectl delete configmap {where}"
    )
    return ExitCode.OK
