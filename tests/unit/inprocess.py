"""Run a command in process: cli.main with string streams, a fake clock and an in-memory cluster.

    fake = FakeCluster([namespace("metallb-system"), configmap(...)])
    result = run_cli("strict-arp", "--enable", "--yes", cluster=fake)
    assert result.code == 0 and "ipvs.strictARP set to true" in result.stdout
    assert fake.calls == [("GET", ...), ("PUT", ...)]

FakeCluster implements the narrow client interface (metallb_plugin.context.Cluster) over a dict of objects keyed
by their REST path, with the API server's rules that the commands depend on: resourceVersion preconditions,
404 and 409, dry runs, field and label selectors by name and equality, server-side apply as a merge. It is not
an API server (the cluster tests use the real one); it lets every branch of a command run in a unit test.
`fail(method, path_prefix, error)` makes the next matching request fail; a dry run's method is "PUT (dry run)" etc.
Container logs are `logs[(namespace, pod, container, previous)]`: the text, or an exception to raise (a missing
entry: the server's 400 for a container that is not there).
"""

import copy
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone

from metallb_plugin import cli, errors
from metallb_plugin.cluster import Client, api_path
from metallb_plugin.context import Context

CORE_KINDS = {
    "Namespace": ("v1", "namespaces", False),
    "Node": ("v1", "nodes", False),
    "ConfigMap": ("v1", "configmaps", True),
    "Secret": ("v1", "secrets", True),
    "Service": ("v1", "services", True),
    "Pod": ("v1", "pods", True),
    "Event": ("v1", "events", True),
    "ServiceAccount": ("v1", "serviceaccounts", True),
    "Deployment": ("apps/v1", "deployments", True),
    "DaemonSet": ("apps/v1", "daemonsets", True),
    "EndpointSlice": ("discovery.k8s.io/v1", "endpointslices", True),
    "CustomResourceDefinition": ("apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "IPAddressPool": ("metallb.io/v1beta1", "ipaddresspools", True),
    "L2Advertisement": ("metallb.io/v1beta1", "l2advertisements", True),
    "BGPAdvertisement": ("metallb.io/v1beta1", "bgpadvertisements", True),
    "BGPPeer": ("metallb.io/v1beta2", "bgppeers", True),
    "ServiceBGPStatus": ("metallb.io/v1beta1", "servicebgpstatuses", True),
    "BGPSessionState": ("frrk8s.metallb.io/v1beta1", "bgpsessionstates", True),
    "FRRNodeState": ("frrk8s.metallb.io/v1beta1", "frrnodestates", False),
}


DRY_RUN = " (dry run)"  # calls made with dryRun=All are recorded as ("APPLY (dry run)", path)


@dataclass
class Target:
    context: str = "fake"
    server: str = "https://fake.invalid"
    user: str = "admin"
    namespace: str = ""


def _split(path):
    """(group/version prefix, namespace or None, plural, name or None) of a REST path."""
    parts = path.strip("/").split("/")
    prefix = parts[:2] if parts[0] == "api" else parts[:3]
    rest = parts[len(prefix) :]
    namespace = None
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    return "/".join(prefix), namespace, rest[0], (rest[1] if len(rest) > 1 else None)


def _selected(obj, label_selector, field_selector):
    meta = obj.get("metadata") or {}
    for term in filter(None, (field_selector or "").split(",")):
        key, _, value = term.partition("=")
        if key == "metadata.name" and meta.get("name") != value:
            return False
        if key == "metadata.namespace" and meta.get("namespace") != value:
            return False
        if key.startswith("involvedObject.") and (obj.get("involvedObject") or {}).get(key.split(".", 1)[1]) != value:
            return False
    labels = meta.get("labels") or {}
    if label_selector:
        key, _, rest = label_selector.partition(" in (")
        if rest:
            return labels.get(key) in rest.rstrip(")").split(",")
        for term in label_selector.split(","):
            key, _, value = term.partition("=")
            if labels.get(key) != value:
                return False
    return True


def _merge(base, patch):
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _json_patch(obj, operations, path):
    """JSON patch with the operations commands use: test (a failed test is the server's 422) and replace."""
    obj = copy.deepcopy(obj)
    for op in operations:
        *parents, last = op["path"].strip("/").split("/")
        target = obj
        for key in parents:
            target = target[key]
        if op["op"] == "test" and target.get(last) != op["value"]:
            raise errors.Invalid(422, "Invalid", f"the test of {op['path']} failed", "PATCH", path)
        if op["op"] in ("replace", "add"):
            target[last] = copy.deepcopy(op["value"])
    return obj


class FakeCluster:
    """An in-memory cluster behind the client interface commands use."""

    def __init__(self, objects=(), version=None, allowed=True):
        self.target = Target()
        self.requests = 0
        self.calls = []  # (method, path) of every request, in order
        self.store = {}
        self.version = version or {"major": "1", "minor": "33", "gitVersion": "v1.33.1"}
        self.allowed = allowed  # access reviews: True, or a function (verb, resource, group, namespace) -> bool
        self.logs = {}  # (namespace, pod, container, previous) -> log text, or an exception to raise
        self._failures = []
        self._rv = 0
        for obj in objects:
            self.add(obj)

    # -- test set-up and inspection

    def path_of(self, obj):
        api_version, plural, namespaced = CORE_KINDS[obj["kind"]]
        meta = obj["metadata"]
        return api_path(
            obj.get("apiVersion", api_version), plural, meta.get("namespace") if namespaced else None, meta["name"]
        )

    def add(self, obj):
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", CORE_KINDS[obj["kind"]][0])
        self._stamp(obj)
        self.store[self.path_of(obj)] = obj
        return obj

    def fail(self, method, path_prefix, error, times=1):
        """The next `times` requests of this method under path_prefix raise error."""
        self._failures.append([method, path_prefix, error, times])

    def object(self, path):
        return copy.deepcopy(self.store.get(path))

    def writes(self):
        """The requests that changed something: no reads, dry runs or access reviews."""
        return [
            (m, p)
            for m, p in self.calls
            if m not in ("GET", "LIST") and not m.endswith(DRY_RUN) and not p.endswith("selfsubjectaccessreviews")
        ]

    # -- the client interface

    def _call(self, method, path, dry_run=False):
        self.requests += 1
        method += DRY_RUN if dry_run else ""
        self.calls.append((method, path))
        for failure in self._failures:
            if failure[0] == method and path.startswith(failure[1]) and failure[3] > 0:
                failure[3] -= 1
                raise failure[2]

    def _stamp(self, obj):
        self._rv += 1
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self._rv)
        meta.setdefault("uid", f"uid-{self._rv}")

    def _missing(self, method, path):
        return errors.NotFound(404, "NotFound", f"{path.rsplit('/', 1)[-1]} not found", method, path)

    def get(self, path, query=None):
        self._call("GET", path)
        discovery = self._discovery(path)
        if discovery is not None:
            return discovery
        if path not in self.store:
            raise self._missing("GET", path)
        return copy.deepcopy(self.store[path])

    get_or_none = Client.get_or_none  # the client's: get(), with NotFound as None

    def list(self, path, label_selector=None, field_selector=None, each=None):
        self._call("LIST", path)
        prefix, namespace, plural, _ = _split(path)
        found = []
        for key in sorted(self.store):
            obj_prefix, obj_namespace, obj_plural, _ = _split(key)
            if (obj_prefix, obj_plural) != (prefix, plural) or (namespace and obj_namespace != namespace):
                continue
            if _selected(self.store[key], label_selector, field_selector):
                found.append(copy.deepcopy(self.store[key]))
        return [each(item) for item in found] if each else found

    def create(self, path, body, dry_run=False):
        full = path.rstrip("/") + "/" + body["metadata"]["name"]
        self._call("POST", full, dry_run)
        if full in self.store:
            raise errors.Conflict(409, "AlreadyExists", f'"{body["metadata"]["name"]}" already exists', "POST", path)
        obj = copy.deepcopy(body)
        self._stamp(obj)
        if not dry_run:
            self.store[full] = obj
        return copy.deepcopy(obj)

    def replace(self, path, body, dry_run=False):
        self._call("PUT", path, dry_run)
        current = self.store.get(path)
        if current is None:
            raise self._missing("PUT", path)
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise errors.Conflict(
                409,
                "Conflict",
                "the object has been modified; please apply your changes to the latest version and try again",
                "PUT",
                path,
            )
        obj = copy.deepcopy(body)
        self._stamp(obj)
        if not dry_run:
            self.store[path] = obj
        return copy.deepcopy(obj)

    def patch(self, path, body, patch_type="merge", dry_run=False):
        self._call("PATCH", path, dry_run)
        current = self.store.get(path)
        if current is None:
            raise self._missing("PATCH", path)
        obj = _json_patch(current, body, path) if patch_type == "json" else _merge(current, body)
        self._stamp(obj)
        if not dry_run:
            self.store[path] = obj
        return copy.deepcopy(obj)

    def apply(self, path, obj, force=False, dry_run=False):
        self._call("APPLY", path, dry_run)
        current = self.store.get(path)
        merged = _merge(current, obj) if current else copy.deepcopy(obj)
        if merged.get("kind") == "CustomResourceDefinition":  # the API server establishes a new CRD at once
            merged["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
        managers = (merged.setdefault("metadata", {})).setdefault("managedFields", [])
        if not any(m.get("manager") == "kubectl-metallb" for m in managers):
            managers.append({"manager": "kubectl-metallb", "operation": "Apply"})
        if current is not None and _merge(current, {"metadata": {"resourceVersion": None}}) == _merge(
            merged, {"metadata": {"resourceVersion": None}}
        ):
            return copy.deepcopy(current)  # nothing changed: the server keeps the resourceVersion
        self._stamp(merged)
        if not dry_run:
            self.store[path] = merged
        return copy.deepcopy(merged)

    def delete(self, path, dry_run=False, propagation="Background"):
        """Deleting a namespace deletes what is in it, deleting a CRD its custom resources (as the namespace
        controller and the API server do, at once)."""
        self._call("DELETE", path, dry_run)
        if path not in self.store:
            raise self._missing("DELETE", path)
        if dry_run:
            return
        gone = self.store.pop(path)
        if gone["kind"] == "Namespace":
            inside = f"/namespaces/{gone['metadata']['name']}/"
            for key in [k for k in self.store if inside in k]:
                del self.store[key]
        if gone["kind"] == "CustomResourceDefinition":
            group, plural = gone["spec"]["group"], gone["spec"]["names"]["plural"]
            for key in [k for k in self.store if k.startswith(f"/apis/{group}/") and _split(k)[2] == plural]:
                del self.store[key]

    def _discovery(self, path):
        """/apis and /api/v1, /apis/GROUP/VERSION: the kinds of CORE_KINDS as the server lists them."""
        versions = {v for v, _, _ in CORE_KINDS.values()}
        if path == "/apis":
            groups = sorted({v for v in versions if "/" in v})
            return {"groups": [{"name": g.split("/")[0], "preferredVersion": {"groupVersion": g}} for g in groups]}
        version = path[len("/api/") :] if path == "/api/v1" else path[len("/apis/") :]
        if version not in versions or path.count("/") > (2 if version == "v1" else 3):
            return None
        return {
            "resources": [
                {"name": plural, "kind": kind, "namespaced": namespaced, "verbs": ["list", "delete"]}
                for kind, (v, plural, namespaced) in CORE_KINDS.items()
                if v == version
            ]
        }

    def server_version(self):
        self._call("GET", "/version")
        return dict(self.version)

    def pod_log(self, namespace, name, container, previous=False, tail_lines=None, limit_bytes=None):
        path = api_path("v1", "pods", namespace, name, "log")
        self._call("GET", path)
        found = self.logs.get((namespace, name, container, previous))
        if isinstance(found, Exception):
            raise found
        if found is None:
            what = "previous terminated container" if previous else "container"
            message = f'{what} "{container}" in pod "{name}" not found'
            raise errors.APIError(400, "BadRequest", message, "GET", path)
        lines = found.splitlines(keepends=True)
        text = "".join(lines[-tail_lines:] if tail_lines else lines)
        return text[:limit_bytes] if limit_bytes else text

    def can_i(self, verb, resource, group="", namespace=None, name=None, subresource=None):
        self._call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
        allowed = self.allowed if isinstance(self.allowed, bool) else self.allowed(verb, resource, group, namespace)
        return allowed, "" if allowed else "RBAC: not allowed"

    def resource(self, api_version, kind):
        for known_kind, (version, plural, namespaced) in CORE_KINDS.items():
            if known_kind == kind and version == api_version:
                return plural, namespaced
        raise errors.NotFound(404, "NotFound", f"the server does not serve {kind} in {api_version}")

    def forget_discovery(self, api_version=None):
        pass

    def object_path(self, obj):
        self.resource(obj["apiVersion"], obj["kind"])  # NotFound for a kind the fake does not serve
        return self.path_of(obj)


class Clock:
    """A monotonic clock that sleep() advances: waits finish at once, deadlines still pass."""

    def __init__(self, start=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)):
        self.start = start
        self.elapsed = 0.0
        self.sleeps = []

    def monotonic(self):
        return 1000.0 + self.elapsed

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.elapsed += max(seconds, 0.001)

    def now(self):
        from datetime import timedelta

        return self.start + timedelta(seconds=self.elapsed)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    clock: Clock = field(repr=False, default=None)


def context(cluster=None, stdin="", tty=False, clock=None, environ=None):
    """A Context over string streams; tty=True makes stdin, stdout and stderr terminals."""
    clock = clock or Clock()

    def connector(args, ctx):
        if cluster is None:
            raise AssertionError("this command was not expected to contact the cluster")
        return cluster

    return Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.TextIOWrapper(io.BytesIO(stdin.encode() if isinstance(stdin, str) else stdin)),
        interactive=tty,
        stdout_tty=tty,
        stderr_tty=tty,
        environ=environ or {},
        now=clock.now,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        connector=connector,
    )


def run_cli(*argv, cluster=None, stdin="", tty=False, clock=None, environ=None):
    """cli.main(argv) in process; its exit code and what it wrote."""
    clock = clock or Clock()
    ctx = context(cluster, stdin, tty, clock, environ)
    code = cli.main(list(argv), ctx)
    return Result(int(code), ctx.stdout.getvalue(), ctx.stderr.getvalue(), clock)
