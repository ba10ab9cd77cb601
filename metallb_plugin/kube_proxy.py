"""kube-proxy on the cluster, for strict-arp: read what locates its configuration, write the change conditionally
(re-reading on a conflict), back it up, restart the DaemonSet as `kubectl rollout restart` does, wait for the
rollout."""

import json
import os

from metallb_plugin import cluster, defaults, errors
from metallb_plugin.backup import write_backup
from metallb_plugin.core import backups
from metallb_plugin.core import kubeproxy as kp
from metallb_plugin.core.kubeproxy.report import ANNOTATION, RESTARTED_AT
from metallb_plugin.core.plan import UNCHANGED, Plan, Step, Write

MAX_ATTEMPTS = 5  # writes tried when another writer keeps changing the ConfigMap


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


def edit(text, value, location):
    try:
        return kp.set_strict_arp(text, value)
    except kp.ConfigError as exc:
        raise errors.PluginError(f"{location.describe()}: {exc}. Nothing was changed") from None


def write(ctx, client, configmap, location, value, backup):
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
        new_text = edit(old_text, value, location)
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
    """The complete ConfigMap as `kubectl replace -f` restores it (on a retry: the version this run is about to
    change). A LIST item has no apiVersion and kind: they are put back."""
    meta = configmap.get("metadata") or {}
    header = (
        f"ConfigMap {meta.get('namespace')}/{meta.get('name')} before `kubectl metallb strict-arp` changed it.\n"
        f"Restore with: kubectl replace -f {os.path.basename(path)}"
    )
    write_backup(path, backups.text([backups.restorable(configmap, "v1", "ConfigMap")], header), rewrite=rewrite)


def _now(ctx):
    return ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")


DAEMONSET_PATH = cluster.api_path("apps/v1", "daemonsets", kp.NAMESPACE, kp.DAEMONSET)


def restart_patch(ctx):
    """(the time stamp, the patch) that rolls the DaemonSet as `kubectl rollout restart` does."""
    stamp = _now(ctx)
    return stamp, {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}


def restarted(ctx, facts, daemonset, stamp):
    """What the restart did (for the result document); warns about an OnDelete DaemonSet."""
    facts.daemonset = daemonset
    strategy = ((facts.daemonset.get("spec") or {}).get("updateStrategy") or {}).get("type")
    if strategy == "OnDelete":
        ctx.warn(
            f"DaemonSet {kp.NAMESPACE}/{kp.DAEMONSET} uses updateStrategy OnDelete: its pods pick up "
            "the change only when deleted; delete them node by node",
        )
    return {"restarted": True, "restartedAt": stamp, "daemonset": f"{kp.NAMESPACE}/{kp.DAEMONSET}"}


def no_daemonset(ctx):
    ctx.warn(
        f"no DaemonSet {kp.NAMESPACE}/{kp.DAEMONSET} to restart: restart kube-proxy on every node "
        "yourself so that it reads the new configuration",
    )
    return {"restarted": False}


def wait_rollout(ctx, client, facts, restarted_at, timeout):
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


def plan(ctx, client, args, facts, new_text, diff, state):
    """strict-arp's plan: the ConfigMap change (written with its resourceVersion, re-read on a conflict; the backup
    first) and the restart of the DaemonSet. state gets "written" and "previous" (write()'s answer) and "restart"."""
    location = facts.info.location
    path = cluster.api_path("v1", "configmaps", location.namespace, location.name)
    body = json.loads(json.dumps(facts.configmap))
    body.setdefault("data", {})[location.key] = new_text
    body.update(apiVersion="v1", kind="ConfigMap")
    body["metadata"].pop("resourceVersion", None)  # the dry run checks the write; the write itself is conditional

    def write_configmap(step, dry_run):
        if dry_run:
            return client.replace(path, body, dry_run=True)
        state["written"], state["previous"] = write(ctx, client, facts.configmap, location, args.value, args.backup)
        if state["written"] is None:
            step.result = UNCHANGED  # someone else set it meanwhile
        return state["written"]

    configmap = Step("v1", "ConfigMap", location.name, location.namespace, Write("replace", path, body),
                     before=facts.configmap, diff=diff.splitlines(), execute=write_configmap)  # fmt: skip
    steps = [configmap]
    if facts.daemonset is not None:
        stamp, patch = restart_patch(ctx)

        def restart(step, dry_run):
            if not dry_run and state.get("written") is None:
                step.result = UNCHANGED
                return None
            answer = client.patch(DAEMONSET_PATH, patch, patch_type="strategic", dry_run=dry_run)
            if not dry_run:
                state["restart"] = restarted(ctx, facts, answer, stamp)
            return answer

        restart_step = Step("apps/v1", "DaemonSet", kp.DAEMONSET, kp.NAMESPACE, before=facts.daemonset)
        if args.no_restart:
            restart_step.note = "not restarted: --no-restart"
        else:
            restart_step.write = Write("patch", DAEMONSET_PATH, patch, patch_type="strategic")
            restart_step.execute = restart
        steps.append(restart_step)
    word = "true" if args.value else "false"
    restarting = " and restart DaemonSet kube-system/kube-proxy" if len(steps) > 1 and not args.no_restart else ""
    return Plan(
        "strict-arp",
        f"Set ipvs.strictARP: {word} in {location.describe()}{restarting}?",
        steps,
        resume=f"Restart kube-proxy yourself so it reads the new configuration: kubectl -n {kp.NAMESPACE} rollout "
        f"restart daemonset/{kp.DAEMONSET}",
    )
