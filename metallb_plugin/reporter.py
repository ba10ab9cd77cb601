"""The shell of `kubectl metallb report`: the archive file, and collecting into it what the cluster shows.

    archive = Archive.create(path, top)        # the new file (O_EXCL, mode 0600) or a UsageError
    manifest = collect(ctx, client, args, archive)
    archive.close() / archive.discard()        # finished, or removed when the report fails or is interrupted

Everything passes the redactor before it is written; the size cap (--max-size, bytes before compression) leaves
out whatever would exceed it, logs last, and the manifest lists what was left out and why.
"""

import io
import json
import os
import tarfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from metallb_plugin import __version__, cli, errors, podlogs, reading
from metallb_plugin.context import Cluster, Context
from metallb_plugin.core import installation as inst
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.report import contents
from metallb_plugin.core.report.manifest import Manifest
from metallb_plugin.core.report.redact import Redactor, secret_summary, secret_values
from metallb_plugin.core.snapshot import Snapshot, Unreadable


class Archive:
    """A gzip'd tar written to a file this run created; entries under one top directory."""

    def __init__(self, path: str, top: str, handle: Any, now: float) -> None:
        self.path, self.top, self.now = path, top, now
        self._handle = handle
        self._tar = tarfile.open(fileobj=handle, mode="w:gz")  # noqa: SIM115 (closed by close or discard)

    @classmethod
    def create(cls, path: str, top: str) -> "Archive":
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise errors.UsageError(f"{path} exists: choose another file name with --file") from None
        except OSError as exc:
            raise errors.UsageError(
                f"cannot write the report to {path}: {exc.strerror or exc}; choose another path with --file"
            ) from None
        return cls(path, top, os.fdopen(fd, "wb"), time.time())

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(f"{self.top}/{name}")
        info.size, info.mtime, info.mode = len(data), int(self.now), 0o600
        self._tar.addfile(info, io.BytesIO(data))

    def close(self) -> int:
        self._tar.close()
        self._handle.close()
        return os.path.getsize(self.path)

    def discard(self) -> None:
        try:
            self._tar.close()
            self._handle.close()
        finally:
            os.unlink(self.path)


class Collector:
    """Writes redacted entries into the archive within the size cap and records them in the manifest."""

    def __init__(self, archive: Archive, manifest: Manifest, redactor: Redactor) -> None:
        self.archive, self.manifest, self.redactor = archive, manifest, redactor

    def text(self, path: str, text: str) -> None:
        self.data(path, self.redactor.text(text).encode("utf-8"))

    def data(self, path: str, data: bytes) -> None:
        if self.manifest.bytes + len(data) > self.manifest.max_bytes:
            self.manifest.size_capped += 1
            self.manifest.missing(path, f"left out: the report reached --max-size ({self.manifest.max_bytes} bytes)")
            return
        self.archive.add(path, data)
        self.manifest.collected(path, len(data))

    def objects(self, path: str, kind: str, read: Any, api_version: Optional[str] = None) -> None:
        """A List of objects as YAML, or the reason they could not be read."""
        if isinstance(read, Unreadable):
            self.manifest.missing(path, read.reason)
        elif read is None:
            self.manifest.missing(path, "the cluster does not serve this kind")
        else:
            self.data(path, _yaml(self.redactor.object(contents.as_list(kind, read, api_version))).encode("utf-8"))

    def json(self, path: str, doc: Any) -> None:
        self.data(path, (json.dumps(self.redactor.object(doc), indent=2) + "\n").encode("utf-8"))


class OneReading:
    """The report's client: each collection is listed once, and the report's files and the commands it runs in
    process (status four times, analyze twice) all see that one reading of the cluster, instead of six readings
    taken at different moments (and of 20,000 Services read seven times). Every other request goes to the client.

    A command's projection (each) makes it objects of its own from the shared items; without one it gets the shared
    items themselves, which the commands only read (the analyzer adds the `kind` a list's items leave out).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lists: Dict[Tuple[str, Optional[str], Optional[str]], List[Any]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def list(
        self,
        path: str,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        each: Optional[Callable[[Any], Any]] = None,
    ) -> List[Any]:
        key = (path, label_selector, field_selector)
        items = self._lists.get(key)
        if items is None:  # two threads asking at once both list it: the same answer, twice
            items = self._lists[key] = self._client.list(path, label_selector, field_selector)
        return [each(item) for item in items] if each else list(items)


def _yaml(doc: Any) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump_all([doc], Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True))


def collect(ctx: Context, client: Any, args: Any, archive: Archive, progress: Any) -> Manifest:
    say = progress.update if progress else (lambda _: None)
    client = OneReading(client)
    target = client.target
    manifest = Manifest(
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(archive.now)), plugin=__version__,
        context=target.context, server=target.server, user=target.user, namespace=args.namespace,
        redacted=not args.no_redact, tail_lines=args.tail, max_bytes=args.max_size,
    )  # fmt: skip
    say("reading the cluster's objects")
    top = Snapshot(namespace=args.namespace)
    reading.read_snapshot(client, contents.CLUSTER_SOURCES, top)
    install = inst.find_installation(contents.listed(top, "deployments"), contents.listed(top, "daemonsets"),
                                     namespace=args.namespace)  # fmt: skip
    if install and not args.namespace_given:
        manifest.namespace = install.namespace
    manifest.installation = install.to_dict() if install else None
    names = [manifest.namespace] + ([install.frr_k8s.split("/")[0]] if install and install.frr_k8s else [])
    manifest.namespaces = sorted(set(names))
    crds = contents.listed(top, "crds") if top.readable("crds") else contents.known_crds()
    kinds = Snapshot(namespace=manifest.namespace)
    reading.read_snapshot(client, contents.crd_sources(crds), kinds)
    spaces = [Snapshot(namespace=ns) for ns in manifest.namespaces]
    for space in spaces:
        say(f"reading namespace {space.namespace}")
        reading.read_snapshot(client, contents.NAMESPACE_SOURCES, space)
    lbs = contents.load_balancers(contents.listed(top, "services"))
    keys = contents.service_keys(lbs)
    slices = Snapshot(namespace=manifest.namespace)
    selector = f"kubernetes.io/service-name in ({','.join(sorted({n for _, n in keys}))})" if keys else ""
    if keys:
        reading.read_snapshot(client, (contents.LB_SLICES,), slices, {"slice_selector": selector})

    peers = kinds.objects.get("metallb.io/bgppeers")
    known = (
        [str(k8s.spec(p)["password"]) for p in peers if k8s.spec(p).get("password")] if isinstance(peers, list) else []
    )
    for space in spaces:
        if space.readable("secrets"):
            known += secret_values(space.items("secrets"))
    out = Collector(archive, manifest, Redactor(known, enabled=not args.no_redact))

    try:
        out.json("cluster/version.json", client.server_version())
    except errors.APIError as exc:
        manifest.missing("cluster/version.json", exc.message)
    _objects(out, top, kinds, spaces, crds, lbs, keys, slices)
    _plugin_outputs(ctx, client, args, out, say)
    if args.no_logs:
        manifest.missing("logs/", "not asked for (--no-logs)")
    else:
        pods = [p for s in spaces if s.readable("pods") for p in s.items("pods")]
        _logs(client, out, pods, args.tail, say)
    say("writing the manifest")
    archive.add("manifest.txt", out.redactor.text(manifest.text()).encode())
    archive.add("manifest.json", (json.dumps(out.redactor.object(manifest.to_document()), indent=2) + "\n").encode())
    return manifest


def _objects(out: Collector, top: Snapshot, kinds: Snapshot, spaces: List[Snapshot], crds: List[Any],
             lbs: List[Any], keys: Any, slices: Snapshot) -> None:  # fmt: skip
    namespaces = {s.namespace for s in spaces}
    for key, path in (("nodes", "cluster/nodes.yaml"), ("crds", "cluster/crds.yaml"),
                      ("validatingwebhookconfigurations", "cluster/webhooks.yaml"),
                      ("clusterroles", "cluster/clusterroles.yaml"),
                      ("clusterrolebindings", "cluster/clusterrolebindings.yaml"),
                      ("kubeproxy", "kube-proxy/configmaps.yaml")):  # fmt: skip
        plural = {"crds": "customresourcedefinitions", "kubeproxy": "configmaps"}.get(key, key)
        out.objects(path, contents.KINDS[plural], top.objects.get(key))
    daemonsets = top.objects.get("daemonsets")
    if isinstance(daemonsets, list):
        daemonsets = [d for d in daemonsets if k8s.key(d).startswith("kube-system/kube-proxy")]
    out.objects("kube-proxy/daemonsets.yaml", "DaemonSet", daemonsets)
    read_ns = top.objects.get("namespaces")
    out.objects("cluster/namespaces.yaml", "Namespace",
                [n for n in read_ns if k8s.name(n) in namespaces] if isinstance(read_ns, list) else read_ns)  # fmt: skip
    kind_of = contents.crd_kinds(crds)
    for key, read in sorted(kinds.objects.items()):
        group, plural = key.rsplit("/", 1)
        folder = "metallb" if group == "metallb.io" else "frr-k8s"
        out.objects(f"{folder}/{plural}.yaml", kind_of.get(key, plural), read)
    for space in spaces:
        for key in ("deployments", "daemonsets"):  # read in every namespace, to find MetalLB
            read = top.objects.get(key)
            if isinstance(read, list):
                read = contents.in_namespaces(read, {space.namespace})
            out.objects(f"namespaces/{space.namespace}/{key}.yaml", contents.KINDS[key], read)
        for source in contents.NAMESPACE_SOURCES:
            read = space.objects.get(source.key)
            if source.key == "secrets" and isinstance(read, list):
                read = [secret_summary(s) for s in read]  # names and key names, never a value
            out.objects(f"namespaces/{space.namespace}/{source.key}.yaml", contents.KINDS[source.key], read)
    services = top.objects.get("services")
    out.objects("services/loadbalancers.yaml", "Service", lbs if isinstance(services, list) else services)
    events = top.objects.get("serviceEvents")
    out.objects("services/events.yaml", "Event",
                contents.events_of(events, keys) if isinstance(events, list) else events)  # fmt: skip
    read = slices.objects.get("lbslices", [])
    out.objects("services/endpointslices.yaml", "EndpointSlice",
                contents.slices_of(read, keys) if isinstance(read, list) else read)  # fmt: skip


def _plugin_outputs(ctx: Context, client: Cluster, args: Any, out: Collector, say: Any) -> None:
    """The plugin's own views, as text and JSON, run in process over the same connection."""
    flags = ["--no-color"] + (["-n", args.namespace] if args.namespace_given else [])
    runs = [("plugin/status", ["status"]), ("plugin/status-bgp", ["status", "--bgp"]),
            ("plugin/analyze", ["analyze"]), ("plugin/version", ["version"]),
            ("kube-proxy/strict-arp", ["strict-arp"])]  # fmt: skip
    for path, argv in runs:
        if argv[0] not in cli.COMMANDS:
            for suffix in (".txt", ".json"):
                out.manifest.missing(path + suffix, f"this version of the plugin has no {argv[0]} command")
            continue
        for suffix, extra in ((".txt", []), (".json", ["-o", "json"])):
            say(f"running kubectl metallb {' '.join(argv + extra)}")
            code, stdout, stderr = run_command(ctx, client, argv + extra + flags)
            out.manifest.commands.append({"command": " ".join(argv + extra), "exitCode": code,
                                          "stderr": out.redactor.text(stderr.strip())})  # fmt: skip
            if stdout:
                out.text(path + suffix, stdout)
            else:
                out.manifest.missing(path + suffix, f"exit code {code}: {stderr.strip() or 'no output'}")


def run_command(ctx: Context, client: Cluster, argv: Sequence[str]) -> Any:
    """(exit code, stdout, stderr) of a plugin command run in process over this client."""
    stdout, stderr = io.StringIO(), io.StringIO()
    sub = Context(stdout=stdout, stderr=stderr, stdin=io.StringIO(), environ=ctx.environ, now=ctx.now,
                  monotonic=ctx.monotonic, sleep=ctx.sleep, connector=lambda _args, _ctx: client)  # fmt: skip
    code = cli.main(list(argv), sub)
    if code == errors.ExitCode.INTERRUPTED:
        raise KeyboardInterrupt
    return int(code), stdout.getvalue(), stderr.getvalue()


def _logs(client: Cluster, out: Collector, pods: List[Any], tail: int, say: Any) -> None:
    targets, absent = contents.log_targets(pods)
    wanted = [podlogs.Target(*t) for t in targets]
    logs = podlogs.read(client, wanted, tail_lines=None if tail < 0 else tail,
                        progress=lambda n, t: say(f"reading logs {n}/{len(wanted)}: {t}"))  # fmt: skip
    for log in logs:
        t = log.target
        path = contents.log_path(t.namespace, t.pod, t.container, t.previous)
        if log.text is None:
            out.manifest.missing(path, log.reason)
        else:
            out.text(path, log.text)
    for path, reason in absent:
        out.manifest.missing(path, reason)
