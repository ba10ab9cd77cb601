"""The only module that talks to the API server.

The official client is used for what it does well (kubeconfig authentication: certificates, tokens and
auth-provider plugins; see connection.py); requests go out as raw JSON over urllib3, retried as client-go retries
(transport.py), so big lists are never turned into model objects and every failure can be turned into one clear
line. read_snapshot() reads a table of Sources in parallel into one Snapshot.
"""

import json
import os
import sys
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from metallb_plugin import errors, transport
from metallb_plugin.connection import Proxy, Settings, Target, client_settings, load_selection, pool_manager, proxy_for
from metallb_plugin.core.snapshot import Obj, Read, Snapshot, Source
from metallb_plugin.defaults import (
    CONNECT_TIMEOUT,
    FIELD_MANAGER,
    KUBE_SYSTEM,
    LIST_PAGE_SIZE,
    READ_WORKERS,
    USER_AGENT,
)

PATCH_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


def connect(
    opts: Any,
    environ: Optional[Mapping[str, str]] = None,
    log: Optional[Callable[[str], None]] = None,
    terminal: bool = False,
) -> "Client":
    """A Client for the cluster that kubectl would talk to with the same flags.

    opts carries the kubectl global flags: kubeconfig, context, cluster, user, as_user, as_uid, as_group,
    as_user_extra, request_timeout (seconds, 0 = none), insecure_skip_tls_verify, verbose. log(line) receives the
    -v request lines (default: stderr). terminal: an exec credential plugin may prompt on standard input.
    """
    environ = os.environ if environ is None else environ
    selection = load_selection(opts.kubeconfig, opts.context, opts.cluster, opts.user, environ)
    cfg = client_settings(selection, terminal, environ)
    if opts.insecure_skip_tls_verify:
        cfg.verify_ssl = False
    target = Target(
        context=selection.context if selection else "(in-cluster)",
        server=cfg.host,
        user=selection.user_name if selection else "(service account)",
        namespace=selection.namespace if selection else "",
    )
    proxy = proxy_for(cfg.host, selection.cluster.get("proxy-url") if selection else None, environ)
    return Client(
        cfg,
        target,
        proxy=proxy,
        impersonation=impersonation_headers(opts, selection.user if selection else {}),
        timeout=opts.request_timeout,
        verbose=opts.verbose,
        log=log,
    )


def impersonation_headers(opts: Any, user: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """The Impersonate-* headers kubectl sends for --as, --as-uid, --as-group and --as-user-extra, each flag
    replacing the kubeconfig user's as, as-uid, as-groups or as-user-extra (values as given, sent as UTF-8; extra
    keys percent-encoded as client-go does)."""
    name = opts.as_user or user.get("as")
    uid = getattr(opts, "as_uid", None) or user.get("as-uid")
    groups = opts.as_group or user.get("as-groups") or []
    extra = [(k, v) for k, _, v in (e.partition("=") for e in getattr(opts, "as_user_extra", None) or [])] or [
        (k, v) for k, values in (user.get("as-user-extra") or {}).items() for v in values
    ]
    headers = [("Impersonate-User", name)] if name else []
    if uid:
        headers.append(("Impersonate-Uid", uid))
    headers += [("Impersonate-Group", group) for group in groups]
    for key, value in extra:
        headers.append(("Impersonate-Extra-" + urllib.parse.quote(key, safe="!#$&'*+-.^_`|~"), value))
    return headers


# --------------------------------------------------------------------------------------------- paths


def api_path(
    api_version: str,
    plural: str,
    namespace: Optional[str] = None,
    name: Optional[str] = None,
    subresource: Optional[str] = None,
) -> str:
    """REST path of a collection or object: ("v1", "services", "ns", "web") -> /api/v1/namespaces/ns/services/web."""
    parts = ["/api/v1" if api_version == "v1" else f"/apis/{api_version}"]
    if namespace:
        parts.append(f"namespaces/{namespace}")
    parts.append(plural)
    if name:
        parts.append(urllib.parse.quote(name, safe=""))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


# --------------------------------------------------------------------------------------------- client


class Client:
    def __init__(
        self,
        cfg: Settings,
        target: Target,
        proxy: Optional[Proxy] = None,
        impersonation: Sequence[Tuple[str, str]] = (),
        timeout: float = 0,
        verbose: int = 0,
        log: Optional[Callable[[str], None]] = None,
    ) -> None:
        import urllib3  # deferred with the rest of the client stack

        self.target = target
        self.requests = 0  # every HTTP request sent, retries included; benchmarks and tests read it
        self._count_lock = threading.Lock()  # commands may send requests from several threads
        self._cfg = cfg
        self._verbose = verbose
        self._log = log or (lambda line: print(line, file=sys.stderr))
        # kubectl sends header values as UTF-8; http.client encodes str as latin-1, so hand it the UTF-8 bytes
        # spelled as latin-1 characters
        self._impersonation = [(name, value.encode().decode("latin-1")) for name, value in impersonation]
        self._timeout = urllib3.Timeout(connect=min(timeout or CONNECT_TIMEOUT, CONNECT_TIMEOUT), read=timeout or None)
        self._retries = transport.retry_policy(self._retried)
        self._failures = transport.Failures(target, proxy, self._timeout.read_timeout, cfg.tls_server_name or None)
        self._discovery: Dict[str, Dict[str, Tuple[str, bool]]] = {}
        tls: Dict[str, Any] = {
            "cert_reqs": "CERT_REQUIRED" if cfg.verify_ssl else "CERT_NONE",
            "ca_certs": cfg.ssl_ca_cert,
            "cert_file": cfg.cert_file,
            "key_file": cfg.key_file,
        }
        if cfg.tls_server_name:
            tls["server_hostname"] = cfg.tls_server_name
        if not cfg.verify_ssl:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._http = pool_manager(proxy, num_pools=2, maxsize=8, **tls)

    # -- transport

    def _headers(self, content_type: Optional[str], text: bool = False) -> Any:
        import urllib3

        accept = "text/plain, */*" if text else "application/json"
        headers = urllib3.HTTPHeaderDict({"Accept": accept, "User-Agent": USER_AGENT})
        if content_type:
            headers["Content-Type"] = content_type
        if self._cfg.authorization:
            headers["Authorization"] = self._cfg.authorization
        for name, value in self._impersonation:  # several groups means several headers of the same name
            headers.add(name, value)
        return headers

    def _retried(self, method: str, url: str, response: Any, error: Optional[Exception], wait: float) -> None:
        """Count a retry and show it with -v (never the query: it may carry selectors, not secrets, but is long)."""
        with self._count_lock:
            self.requests += 1
        if self._verbose:
            what = f"{response.status}" if response is not None else f"failed ({transport.short_error(error)})"
            self._log(f"{method} {urllib.parse.urlsplit(url).path} {what}: retrying in {wait:g}s")

    def request(
        self,
        method: str,
        path: str,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        content_type: str = "application/json",
        text: bool = False,
    ) -> Any:
        """Send one request (retried as client-go retries); the decoded JSON answer (None for an empty one), or a
        PluginError.

        text=True: the answer is plain text (a container log), returned as str (undecodable bytes replaced).
        """
        import urllib3

        url = self._cfg.host + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
        payload = None if body is None else json.dumps(body).encode()
        started = time.monotonic()
        with self._count_lock:
            self.requests += 1
        try:
            response = self._http.request(
                method,
                url,
                body=payload,
                headers=self._headers(content_type if payload is not None else None, text),
                timeout=self._timeout,
                retries=self._retries,
                redirect=False,
            )
        except urllib3.exceptions.MaxRetryError as exc:
            raise self._failures.connection(exc.reason or exc, retried=True) from None
        except urllib3.exceptions.HTTPError as exc:
            raise self._failures.connection(exc) from None
        if self._verbose:
            took = (time.monotonic() - started) * 1000
            self._log(f"{method} {path} {response.status} ({took:.0f} ms)")
        data = response.data
        if response.status >= 400:
            error = self._failures.status(method, path, response.status, data)
            retries = len(response.retries.history) if response.retries else 0
            if retries and isinstance(error, errors.APIError) and not isinstance(error, errors.Unauthorized):
                error.note = f"after {retries} retries"
            raise error
        if text:
            return data.decode("utf-8", "replace")
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise errors.ClusterError(
                f"the server at {self.target.server} answered {method} {path} with "
                "something that is not JSON: is this a Kubernetes API server?"
            ) from None

    # -- verbs

    def get(self, path: str, query: Optional[Mapping[str, Any]] = None) -> Any:
        return self.request("GET", path, query)

    def get_or_none(self, path: str, query: Optional[Mapping[str, Any]] = None) -> Any:
        try:
            return self.get(path, query)
        except errors.NotFound:
            return None

    def list(
        self,
        path: str,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        each: Optional[Callable[[Obj], Obj]] = None,
    ) -> List[Obj]:
        """All items of a collection, read page by page (raw dicts, never client models); each(item) reduces every
        item as its page is decoded, so that only one page is ever whole in memory.

        Their managedFields are dropped: nothing reads them from a list, and they are often half an object's size.
        """
        items, token = [], None
        while True:
            page = self.get(
                path,
                {
                    "limit": LIST_PAGE_SIZE,
                    "continue": token,
                    "labelSelector": label_selector,
                    "fieldSelector": field_selector,
                },
            )
            for item in page.get("items") or []:
                (item.get("metadata") or {}).pop("managedFields", None)
                items.append(each(item) if each else item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def create(self, path: str, body: Obj, dry_run: bool = False) -> Any:
        return self.request("POST", path, {"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER}, body)

    def replace(self, path: str, body: Obj, dry_run: bool = False) -> Any:
        """PUT: with metadata.resourceVersion set, fails with Conflict if the object changed meanwhile."""
        return self.request("PUT", path, {"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER}, body)

    def patch(self, path: str, body: Any, patch_type: str = "merge", dry_run: bool = False) -> Any:
        return self.request(
            "PATCH",
            path,
            {"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER},
            body,
            content_type=PATCH_TYPES[patch_type],
        )

    def apply(self, path: str, obj: Obj, force: bool = False, dry_run: bool = False) -> Any:
        """Server-side apply of obj at its object path, as field manager kubectl-metallb."""
        query = {
            "fieldManager": FIELD_MANAGER,
            "force": "true" if force else None,
            "dryRun": "All" if dry_run else None,
        }
        return self.request("PATCH", path, query, obj, content_type="application/apply-patch+yaml")

    def delete(self, path: str, dry_run: bool = False, propagation: str = "Background") -> Any:
        body: Dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if dry_run:
            body["dryRun"] = ["All"]
        return self.request("DELETE", path, None, body)

    def server_version(self) -> Any:
        return self.get("/version")

    def pod_log(
        self,
        namespace: str,
        name: str,
        container: str,
        previous: bool = False,
        tail_lines: Optional[int] = None,
        limit_bytes: Optional[int] = None,
    ) -> str:
        """A container's log as `kubectl logs` prints it (the API server asks the Pod's kubelet for it).

        previous: the log of the container's last terminated instance; tail_lines / limit_bytes: only the last
        lines / at most that many bytes (the server applies the tail first). An APIError carries the server's
        reason when the log cannot be read (no permission, no previous instance, kubelet unreachable).
        """
        query = {
            "container": container,
            "previous": "true" if previous else None,
            "tailLines": tail_lines,
            "limitBytes": limit_bytes,
        }
        text: str = self.request("GET", api_path("v1", "pods", namespace, name, "log"), query, text=True)
        return text

    def can_i(
        self,
        verb: str,
        resource: str,
        group: str = "",
        namespace: Optional[str] = None,
        name: Optional[str] = None,
        subresource: Optional[str] = None,
    ) -> Tuple[bool, str]:
        """SelfSubjectAccessReview: (allowed, reason)."""
        attributes = {"verb": verb, "resource": resource, "group": group}
        for key, value in (("namespace", namespace), ("name", name), ("subresource", subresource)):
            if value:
                attributes[key] = value
        review = self.create(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes},
            },
        )
        status = review.get("status") or {}
        return bool(status.get("allowed")), status.get("reason", "")

    def resource(self, api_version: str, kind: str) -> Tuple[str, bool]:
        """(plural, namespaced) for a kind, from discovery (one request per group/version, cached)."""
        if api_version not in self._discovery:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                found = self.get(path).get("resources", [])
            except errors.NotFound:
                found = []
            self._discovery[api_version] = {
                r["kind"]: (r["name"], r.get("namespaced", False)) for r in found if "/" not in r["name"]
            }
        try:
            return self._discovery[api_version][kind]
        except KeyError:
            raise errors.NotFound(404, "NotFound", f"the server does not serve {kind} in {api_version}") from None

    def forget_discovery(self, api_version: Optional[str] = None) -> None:
        """Drop cached discovery, e.g. after new CRDs were established."""
        if api_version:
            self._discovery.pop(api_version, None)
        else:
            self._discovery.clear()

    def object_path(self, obj: Obj) -> str:
        """The REST path of a manifest object (namespace from its metadata)."""
        plural, namespaced = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") if namespaced else None
        return api_path(obj["apiVersion"], plural, namespace, meta.get("name"))


# --------------------------------------------------------------------------------------------- snapshots


def _source_path(source: Source, snapshot: Snapshot) -> Union[str, Read]:
    """The collection path of a source, or what to store instead: [] (nothing can be there), None (the kind is not
    served), Unreadable (the CRD list could not be read)."""
    from metallb_plugin.core import objects as k8s
    from metallb_plugin.core.snapshot import METALLB, SYSTEM, Unreadable

    api_version = source.api_version
    if source.crd:
        crds = snapshot.objects.get("crds")
        if isinstance(crds, Unreadable):
            return Unreadable(f"{crds.reason}, so {source.what} cannot be looked for")
        crd = next((c for c in crds or [] if k8s.name(c) == source.crd), None)
        version = k8s.crd_version(crd) if crd else None
        if crd is None or not version:
            return None  # the kind does not exist on this cluster
        api_version = f"{crd['spec']['group']}/{version}"
    if source.after and snapshot.objects.get(source.after) == []:
        return []  # what it lives in (its namespace) does not exist: nothing there
    namespace = {SYSTEM: KUBE_SYSTEM, METALLB: snapshot.namespace}.get(source.scope)
    return api_path(api_version, source.plural, namespace)


def read_source(client: "Client", source: Source, snapshot: Snapshot, params: Mapping[str, Any]) -> Read:
    """The objects of one source: a list, None (the server does not serve the kind) or Unreadable.

    Failures to reach or authenticate to the cluster are raised, as is any failure of a `required` source.
    """
    from metallb_plugin.core.snapshot import ALL, METALLB, Unreadable, project, unreadable_reason

    path = _source_path(source, snapshot)
    if not isinstance(path, str):
        return path
    fields = source.field_selector.format(**params) if source.field_selector else None
    labels = source.label_selector.format(**params) if source.label_selector else None
    try:
        fields_kept = source.fields
        each = (lambda item: project(item, fields_kept)) if fields_kept else None
        items = client.list(path, label_selector=labels or None, field_selector=fields or None, each=each)
    except errors.NotFound:
        if source.fallback:
            return read_source(client, replace(source, api_version=source.fallback, fallback=None), snapshot, params)
        if source.required:
            raise
        if source.optional or source.crd:
            return None
        return Unreadable(f"{unreadable_reason(source, snapshot.namespace, False)}: the server does not serve them")
    except (errors.Unauthorized, errors.ClusterError):
        raise
    except errors.APIError as exc:
        forbidden = isinstance(exc, errors.Forbidden)
        reason = unreadable_reason(source, snapshot.namespace, forbidden)
        if forbidden and source.narrow and source.scope == ALL:  # a user limited to MetalLB's namespace
            narrowed = read_source(client, replace(source, scope=METALLB, narrow=False), snapshot, params)
            if isinstance(narrowed, list):
                snapshot.narrowed.append(source.what)
            return narrowed
        if source.required:
            raise
        return Unreadable(reason if forbidden else f"{reason}: {exc}")
    return source.keep(items) if source.keep else items


@contextmanager
def bulk_read() -> Iterator[None]:
    """Around reading large lists: Python's cycle collector is off meanwhile, and what was read is frozen after.

    Decoded JSON has no cycles, yet every few hundred new objects a collection walks all those decoded so far:
    that took most of the time of reading 20,000 Services. Frozen objects are left out of later collections (they
    live as long as the command); reference counting still frees them.
    """
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def read_snapshot(
    client: "Client",
    sources: Sequence[Source],
    snapshot: Snapshot,
    params: Optional[Mapping[str, Any]] = None,
    progress: Any = None,
) -> Snapshot:
    """Read every source into snapshot.objects, in parallel; CRD-backed sources after the CRDs.

    params fill the sources' selector templates ({namespace} is always there).
    """
    from concurrent.futures import ThreadPoolExecutor

    params = {"namespace": snapshot.namespace, **(params or {})}
    keys = {s.key for s in sources}
    then = [s for s in sources if (s.crd and "crds" in keys) or s.after in keys]  # read what they depend on first
    first = [s for s in sources if s not in then]
    with bulk_read():
        for batch in (first, then):
            if not batch:
                continue
            if progress:
                progress.update(f"reading {', '.join(s.what for s in batch[:3])}{' ...' if len(batch) > 3 else ''}")
            with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(batch))) as pool:
                futures = [(s, pool.submit(read_source, client, s, snapshot, params)) for s in batch]
                for source, future in futures:
                    snapshot.objects[source.key] = future.result()
    return snapshot
