"""Show or change kube-proxy's ipvs.strictARP, which MetalLB needs when kube-proxy runs in IPVS mode.

Without --enable/--disable: report where kube-proxy's configuration lives, its mode, the current strictARP and
whether MetalLB needs a change.

--enable/--disable change only that one value in the kube-proxy ConfigMap (everything else stays byte-identical),
with the ConfigMap's resourceVersion (a concurrent change is re-read, never overwritten), record the previous value
in the annotation metallb.io/strict-arp-previous, then restart the kube-proxy DaemonSet as
`kubectl rollout restart` does so the change takes effect.

examples:
  kubectl metallb strict-arp                      # report
  kubectl metallb strict-arp --enable --dry-run   # show the diff, change nothing
  kubectl metallb strict-arp --enable --yes --wait --backup kube-proxy.yaml
"""

import json
import os

from metallb_plugin import cluster, defaults, errors
from metallb_plugin.backup import write_backup
from metallb_plugin.commands import add_timeout
from metallb_plugin.core import kubeproxy as kp
from metallb_plugin.errors import ExitCode

ANNOTATION = "metallb.io/strict-arp-previous"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
MAX_ATTEMPTS = 5  # writes tried when another writer keeps changing the ConfigMap


def add_arguments(parser):
    change = parser.add_mutually_exclusive_group()
    change.add_argument("--enable", dest="value", action="store_const", const=True, help="set ipvs.strictARP: true")
    change.add_argument("--disable", dest="value", action="store_const", const=False, help="set ipvs.strictARP: false")
    parser.add_argument("--dry-run", action="store_true", help="print the diff of the ConfigMap; change nothing")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--force", action="store_true", help="change strictARP even though kube-proxy does not run in IPVS mode"
    )
    parser.add_argument(
        "--no-restart", action="store_true", help="do not restart the kube-proxy DaemonSet after the change"
    )
    parser.add_argument("--wait", action="store_true", help="wait until the kube-proxy rollout completes")
    add_timeout(parser, defaults.ROLLOUT_TIMEOUT, "how long --wait waits, like 90s or 5m")
    parser.add_argument(
        "--backup", metavar="FILE", help="before changing, save the ConfigMap as YAML to FILE (must not exist)"
    )


def run(args, ctx):
    if args.value is None:
        misplaced = [
            flag
            for flag, on in (
                ("--dry-run", args.dry_run),
                ("--yes", args.yes),
                ("--force", args.force),
                ("--no-restart", args.no_restart),
                ("--wait", args.wait),
                ("--backup", args.backup),
            )
            if on
        ]
        if misplaced:
            raise errors.UsageError(f"{', '.join(misplaced)} only apply with --enable or --disable")
    if args.wait and args.no_restart:
        raise errors.UsageError("--wait waits for the restart: it cannot be combined with --no-restart")
    if args.backup and os.path.exists(args.backup):
        raise errors.UsageError(f"--backup {args.backup}: the file exists; choose a new file name")
    client = ctx.connect(args)
    facts = gather(client)
    info = facts.info
    if args.value is None:
        ctx.emit(info.as_dict(), args.output, _report_text)
        return ExitCode.FAILED if info.problem else ExitCode.OK
    return _change(ctx, client, args, facts)


# --------------------------------------------------------------------------------------------- reading


class Facts:
    """kube-proxy as found in the cluster: the verdict plus the raw objects it came from."""

    def __init__(self, info, configmap, daemonset, nodes):
        self.info = info
        self.configmap = configmap  # the raw ConfigMap holding the configuration (None unless editable)
        self.daemonset = daemonset
        self.nodes = nodes


def gather(client):
    """Read what core.kubeproxy.inspect() needs (a LIST of nodes and of kube-system ConfigMaps, a GET of the
    kube-proxy DaemonSet; kube-system Pods only when those do not settle it) and return Facts.

    Nodes and Pods that may not be read only make the answer less certain; ConfigMaps that may not be read are
    an error (exit 3).
    """
    nodes = _list_or_empty(client, cluster.api_path("v1", "nodes"))
    configmaps = client.list(cluster.api_path("v1", "configmaps", kp.NAMESPACE))
    daemonset = _get_or_none(client, cluster.api_path("apps/v1", "daemonsets", kp.NAMESPACE, kp.DAEMONSET))
    info = kp.inspect(nodes=nodes, configmaps=configmaps, daemonset=daemonset)
    if info.location.kind == "Unknown" or info.distribution == "rke2":
        pods = _list_or_empty(client, cluster.api_path("v1", "pods", kp.NAMESPACE))
        info = kp.inspect(nodes=nodes, configmaps=configmaps, daemonset=daemonset, pods=pods)
    configmap = None
    if info.location.kind == "ConfigMap":
        configmap = next(c for c in configmaps if c["metadata"]["name"] == info.location.name)
    return Facts(info, configmap, daemonset, nodes)


def _list_or_empty(client, path, label_selector=None):
    try:
        return client.list(path, label_selector=label_selector)
    except errors.Forbidden:
        return []


def _get_or_none(client, path):
    try:
        return client.get_or_none(path)
    except errors.Forbidden:
        return None


# --------------------------------------------------------------------------------------------- report


def _yesno(value):
    return "unknown" if value is None else str(value).lower()


def _report_text(doc):
    mode = doc["mode"] or "unknown"
    if doc["configuredMode"] == "" and doc["mode"]:
        mode += " (mode is empty: the default)"
    if doc["metallbNeedsChange"] is True:
        needs = "yes: run `kubectl metallb strict-arp --enable`" if doc["editable"] else "yes (see below)"
    else:
        needs = {False: "no", None: "unknown"}[doc["metallbNeedsChange"]]
    rows = [
        ("Distribution", doc["distribution"]),
        ("Configuration", doc["location"]["description"]),
        ("Mode", mode),
        ("Strict ARP", _yesno(doc["strictARP"])),
        ("MetalLB needs a change", needs),
    ]
    width = max(len(k) for k, _ in rows) + 2
    lines = [f"{k + ':':<{width}}{v}" for k, v in rows]
    lines += ["", doc["message"]]
    if doc["problem"]:
        lines.append(f"problem: {doc['problem']}")
    lines += [f"note: {n}" for n in doc["notes"]]
    if doc["hint"]:
        lines.append(f"hint: {doc['hint']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- change


def _refuse_unless_editable(info):
    """Exit 1 without touching anything where the plugin cannot (or must not) edit the configuration."""
    if info.editable:
        return
    if info.problem:
        raise errors.PluginError(
            f"{info.location.describe()} is malformed: {info.problem}. Nothing was changed; "
            "fix the configuration by hand first"
        )
    if info.location.kind == "CiliumConfig":
        raise errors.PluginError(f"{info.message}. Nothing was changed. {info.hint}")
    where = info.location.describe()
    raise errors.PluginError(
        f"{info.distribution}: kube-proxy's configuration lives in {where}, which this "
        f"plugin does not change. {info.hint}. Nothing was changed"
    )


def _change(ctx, client, args, facts):
    info, value = facts.info, args.value
    _refuse_unless_editable(info)
    word = "true" if value else "false"
    for note in info.notes:
        ctx.warn(note)
    if info.mode != kp.IPVS and not args.force:
        result = _result(
            info,
            value,
            changed=False,
            dry_run=args.dry_run,
            message=f"kube-proxy runs in {info.mode} mode: MetalLB does not need strict ARP. Nothing "
            f"changed (--force sets ipvs.strictARP: {word} anyway)",
        )
        ctx.emit(result, args.output, _result_text)
        return ExitCode.OK
    if value is False and info.mode == kp.IPVS:
        ctx.warn(
            "with IPVS, MetalLB's layer 2 mode needs strict ARP: every node would answer ARP for every LoadBalancer IP",
        )
    location = info.location
    old_text = facts.configmap["data"][location.key]
    new_text = _edit(old_text, value, location)
    if new_text == old_text:
        result = _result(
            info,
            value,
            changed=False,
            dry_run=args.dry_run,
            message=f"ipvs.strictARP is already {word} in {location.describe()}: nothing changed",
        )
        ctx.emit(result, args.output, _result_text)
        return ExitCode.OK
    diff = kp.unified_diff(old_text, new_text, f"{location.namespace}/{location.name}/{location.key}")
    if args.dry_run:
        result = _result(info, value, changed=False, dry_run=True, diff=diff, message="dry run: nothing was changed")
        ctx.emit(result, args.output, _result_text)
        return ExitCode.OK
    _confirm(ctx, args, info, diff, word)

    written, previous = _write(ctx, client, facts.configmap, location, value, args.backup)
    if written is None:
        result = _result(
            info,
            value,
            changed=False,
            dry_run=False,
            message=f"ipvs.strictARP was set to {word} meanwhile by someone else: nothing changed",
        )
        ctx.emit(result, args.output, _result_text)
        return ExitCode.OK
    undo = f"kubectl metallb strict-arp --{'enable' if previous is True else 'disable'}"
    result = _result(
        info,
        value,
        changed=True,
        dry_run=False,
        diff=diff,
        previous=previous,
        backup=args.backup,
        message=f"ipvs.strictARP set to {word} in {location.describe()}",
        undo=undo,
    )
    if args.no_restart:
        result["restart"] = {"restarted": False}
        ctx.emit(result, args.output, _result_text)
        return ExitCode.OK
    try:
        result["restart"] = _restart(ctx, client, facts)
    except errors.PluginError as exc:  # the change is written: say so, then how to finish by hand
        raise errors.PluginError(
            f"ipvs.strictARP was set to {word} in {location.describe()}, but restarting "
            f"kube-proxy failed: {exc}. Restart it yourself: kubectl -n {kp.NAMESPACE} "
            f"rollout restart daemonset/{kp.DAEMONSET}",
            exit_code=exc.exit_code,
        ) from None
    if args.wait and result["restart"]["restarted"]:
        try:
            result["restart"]["rollout"] = _wait(ctx, client, facts, result["restart"]["restartedAt"], args.timeout)
        except errors.WaitTimeout:
            ctx.emit(result, args.output, _result_text)
            raise
    ctx.emit(result, args.output, _result_text)
    return ExitCode.OK


def _edit(text, value, location):
    try:
        return kp.set_strict_arp(text, value)
    except kp.ConfigError as exc:
        raise errors.PluginError(f"{location.describe()}: {exc}. Nothing was changed") from None


def _confirm(ctx, args, info, diff, word):
    if args.yes:
        return
    what = f"set ipvs.strictARP: {word} in {info.location.describe()}"
    if not args.no_restart:
        what += f" and restart DaemonSet {kp.NAMESPACE}/{kp.DAEMONSET}"
    if ctx.interactive:
        ctx.stderr.write(diff)
    refusal = (
        f"refusing to {what} without confirmation: not an interactive terminal. Pass --yes to go ahead, "
        "or --dry-run to see the change"
    )
    if not ctx.confirm(f"{what[0].upper()}{what[1:]}?", refusal):
        raise errors.PluginError("aborted: nothing was changed")


def _write(ctx, client, configmap, location, value, backup):
    """PUT the edited ConfigMap with its resourceVersion; on a conflict re-read and redo the edit.

    Returns (the written ConfigMap, the previous value) or (None, None) when the value is already set on re-read.
    The previous value and the time go into the ANNOTATION in the same write, so nothing is changed unrecorded.
    """
    path = cluster.api_path("v1", "configmaps", location.namespace, location.name)
    current = configmap
    for attempt in range(1, MAX_ATTEMPTS + 1):
        old_text = (current.get("data") or {}).get(location.key)
        if old_text is None:
            raise errors.PluginError(f"{location.describe()} disappeared while changing it: nothing was changed")
        new_text = _edit(old_text, value, location)
        if new_text == old_text:
            return None, None
        previous = kp.written_strict_arp(old_text)
        body = json.loads(json.dumps(current))  # a copy; resourceVersion stays: the write is conditional
        body["data"][location.key] = new_text
        meta = body.setdefault("metadata", {})
        meta.pop("managedFields", None)
        annotations = meta.get("annotations") or {}
        annotations[ANNOTATION] = json.dumps(
            {"key": location.key, "strictARP": previous, "time": _now(ctx)}, sort_keys=True
        )
        meta["annotations"] = annotations
        if backup:
            _write_backup(backup, current, rewrite=attempt > 1)
        try:
            return client.replace(path, body), previous
        except errors.Conflict:
            if attempt == MAX_ATTEMPTS:
                break
            ctx.say(
                f"{location.describe()} was changed by someone else meanwhile: reading it again "
                f"(attempt {attempt + 1} of {MAX_ATTEMPTS})",
            )
            current = client.get(path)
    raise errors.PluginError(
        f"{location.describe()} kept changing while writing it ({MAX_ATTEMPTS} attempts): "
        "nothing was changed; try again later"
    )


def _write_backup(path, configmap, rewrite):
    """The ConfigMap as `kubectl replace -f` restores it (on a retry: the version this run is about to change)."""
    import yaml

    copy = json.loads(json.dumps(configmap))
    meta = copy.get("metadata") or {}
    for key in ("resourceVersion", "uid", "managedFields", "creationTimestamp", "generation"):
        meta.pop(key, None)
    write_backup(path, yaml.safe_dump(copy, sort_keys=False, default_flow_style=False), rewrite=rewrite)


def _now(ctx):
    return ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _restart(ctx, client, facts):
    """Roll the kube-proxy DaemonSet as `kubectl rollout restart` does: a new pod-template annotation."""
    if facts.daemonset is None:
        ctx.warn(
            f"no DaemonSet {kp.NAMESPACE}/{kp.DAEMONSET} to restart: restart kube-proxy on every node "
            "yourself so that it reads the new configuration",
        )
        return {"restarted": False}
    stamp = _now(ctx)
    path = cluster.api_path("apps/v1", "daemonsets", kp.NAMESPACE, kp.DAEMONSET)
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    facts.daemonset = client.patch(path, patch, patch_type="strategic")
    strategy = ((facts.daemonset.get("spec") or {}).get("updateStrategy") or {}).get("type")
    if strategy == "OnDelete":
        ctx.warn(
            f"DaemonSet {kp.NAMESPACE}/{kp.DAEMONSET} uses updateStrategy OnDelete: its pods pick up "
            "the change only when deleted; delete them node by node",
        )
    return {"restarted": True, "restartedAt": stamp, "daemonset": f"{kp.NAMESPACE}/{kp.DAEMONSET}"}


def _wait(ctx, client, facts, restarted_at, timeout):
    """Poll the DaemonSet until the rollout completes; WaitTimeout naming the pending nodes after `timeout`."""
    from metallb_plugin.core.installation import daemonset_ready
    from metallb_plugin.core.selectors import describe

    path = cluster.api_path("apps/v1", "daemonsets", kp.NAMESPACE, kp.DAEMONSET)
    progress = ctx.progress()
    deadline = ctx.monotonic() + timeout
    daemonset = facts.daemonset
    selector = describe((daemonset.get("spec") or {}).get("selector"))
    selector = None if selector.startswith("<") else selector  # "<all>"/"<none>": filter locally
    while True:
        done, phrase = daemonset_ready(daemonset)
        pods = [] if done else _list_or_empty(client, cluster.api_path("v1", "pods", kp.NAMESPACE), selector)
        pending = kp.rollout_pending(daemonset, pods, restarted_at)
        if done:
            progress.done(f"kube-proxy rollout complete: {phrase}")
            return {"complete": True, "status": phrase, "pendingNodes": []}
        progress.update(
            f"waiting for the kube-proxy rollout: {phrase}" + (f"; pending: {', '.join(pending)}" if pending else "")
        )
        if ctx.monotonic() >= deadline:
            progress.done()
            raise errors.WaitTimeout(
                f"the kube-proxy rollout did not complete within {timeout:g}s: {phrase}"
                + (f"; pending nodes: {', '.join(pending)}" if pending else "")
                + f". Follow it with: kubectl -n {kp.NAMESPACE} rollout status "
                f"daemonset/{kp.DAEMONSET}"
            )
        ctx.sleep(min(defaults.POLL_SECONDS, max(0.0, deadline - ctx.monotonic())))
        daemonset = client.get(path)


def _result(info, value, changed, dry_run, message, diff="", previous=None, backup=None, undo=""):
    return {
        "location": info.location.as_dict(),
        "distribution": info.distribution,
        "mode": info.mode,
        "strictARP": value,
        "changed": changed,
        "dryRun": dry_run,
        "previous": previous,
        "diff": diff,
        "annotation": ANNOTATION if changed else None,
        "backup": backup if changed else None,
        "undo": undo,
        "restart": None,
        "message": message,
    }


def _result_text(doc):
    if doc["dryRun"]:
        return (doc["diff"] or "") + doc["message"]
    lines = [doc["message"]]
    if doc["changed"]:
        lines.append(
            f"the previous value ({_yesno(doc['previous']) if doc['previous'] is not None else 'absent'})"
            f" and time are recorded in annotation {doc['annotation']}"
        )
        if doc["backup"]:
            lines.append(f"backup of the ConfigMap written to {doc['backup']}")
        restart = doc.get("restart") or {}
        if restart.get("restarted"):
            lines.append(f"restarted DaemonSet {restart['daemonset']} ({RESTARTED_AT}={restart['restartedAt']})")
        else:
            lines.append(
                f"kube-proxy was not restarted: the change takes effect when it restarts "
                f"(kubectl -n {kp.NAMESPACE} rollout restart daemonset/{kp.DAEMONSET})"
            )
        if restart.get("rollout"):
            lines.append(f"rollout complete: {restart['rollout']['status']}")
        lines.append(
            f"to undo: {doc['undo']}"
            + (f" (or restore the backup: kubectl replace -f {doc['backup']})" if doc["backup"] else "")
        )
    return "\n".join(lines)
