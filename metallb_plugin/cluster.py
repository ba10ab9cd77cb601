"""The only module that talks to the API server.

connection.py resolves the kubeconfig (the official client only for auth-provider users and in-cluster service
accounts); requests go out as raw JSON over urllib3, retried as client-go retries
(transport.py), so big lists are never turned into model objects and every failure can be turned into one clear
line. Lists are read page by page, the next page requested while the last is decoded; reading.py reads tables of
them into Snapshots.
"""

import json
import os
import sys
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, cast

from metallb_plugin import errors, paging, transport
from metallb_plugin.connection import Proxy, Settings, Target, client_settings, load_selection, pool_manager, proxy_for
from metallb_plugin.core.snapshot import Obj
from metallb_plugin.defaults import (
    CONNECT_TIMEOUT,
    FIELD_MANAGER,
    LIST_PAGE_SIZE,
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
        decode: bool = True,
    ) -> Any:
        """Send one request (retried as client-go retries); the decoded JSON answer (None for an empty one), or a
        PluginError.

        text=True: the answer is plain text (a container log), returned as str (undecodable bytes replaced);
        decode=False: the answer's bytes.
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
            raise self._status_error(method, path, response)
        if text:
            return data.decode("utf-8", "replace")
        return self._decode(data, method, path) if decode else data

    def _status_error(self, method: str, path: str, response: Any) -> errors.PluginError:
        """The error an answer of status >= 400 stands for. Made here, not in request(): an exception that a frame
        holds in a local while it is raised there forms a cycle, which a read's gc.freeze would keep for good."""
        error = self._failures.status(method, path, response.status, response.data)
        retries = len(response.retries.history) if response.retries else 0
        if retries and isinstance(error, errors.APIError) and not isinstance(error, errors.Unauthorized):
            error.note = f"after {retries} retries"
        return error

    def _decode(self, data: bytes, method: str, path: str) -> Any:
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
        item as its page is decoded, so that only a few pages are ever whole in memory (paging.pages requests the
        next ones while this one is decoded).

        Their managedFields are dropped: nothing reads them from a list, and they are often half an object's size.
        """

        def fetch(token: Optional[str]) -> bytes:
            query = {
                "limit": LIST_PAGE_SIZE,
                "continue": token,
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
            }
            return cast(bytes, self.request("GET", path, query, decode=False))

        items: List[Obj] = []
        for page in paging.pages(fetch, lambda data: self._decode(data, "GET", path) or {}):
            for item in page.get("items") or []:
                (item.get("metadata") or {}).pop("managedFields", None)
                items.append(each(item) if each else item)
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
