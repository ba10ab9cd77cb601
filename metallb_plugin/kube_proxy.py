"""kube-proxy on the cluster, for strict-arp: read what locates its configuration, write the change conditionally
(re-reading on a conflict), back it up, restart the DaemonSet as `kubectl rollout restart` does, wait for the
rollout."""

import json

from metallb_plugin import cluster, defaults, errors
from metallb_plugin.backup import write_backup
from metallb_plugin.core import kubeproxy as kp
from metallb_plugin.core.kubeproxy.report import ANNOTATION, RESTARTED_AT

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
    """The ConfigMap as `kubectl replace -f` restores it (on a retry: the version this run is about to change)."""
    import yaml

    copy = json.loads(json.dumps(configmap))
    meta = copy.get("metadata") or {}
    for key in ("resourceVersion", "uid", "managedFields", "creationTimestamp", "generation"):
        meta.pop(key, None)
    write_backup(path, yaml.safe_dump(copy, sort_keys=False, default_flow_style=False), rewrite=rewrite)


def _now(ctx):
    return ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def restart(ctx, client, facts):
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
