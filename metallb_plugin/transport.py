"""HTTP as kubectl's client-go does it: which failures are retried (a urllib3 Retry), and what each failure means
for the user (one line that names the server, the proxy and the fix; never a credential)."""

import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Optional

from metallb_plugin import errors
from metallb_plugin.connection import Proxy, Target

MAX_RETRIES = 10  # client-go's default
RETRY_WAIT = 1.0  # seconds before a retry the server named no time for (client-go's)
MAX_RETRY_AFTER = 30.0  # a longer Retry-After is cut to this: a command should not hang for an hour
GATEWAY_ERRORS = frozenset({429, 502, 503, 504})  # a GET is retried on these even without Retry-After


def retry_policy(on_retry: Callable[[str, str, Any, Optional[Exception], float], None]) -> Any:
    """client-go's retry rules as a urllib3 Retry: any request the server answers with 429 or 5xx and a Retry-After
    (it did not apply it), and a GET also on 429/502/503/504 without one and when the connection was reset; up to
    MAX_RETRIES times, waiting Retry-After seconds (else RETRY_WAIT). Refused connections, TLS failures and read
    timeouts are not retried. on_retry(method, url, response, error, wait) is called before each wait."""
    import urllib3
    from urllib3.exceptions import ReadTimeoutError

    class Policy(urllib3.Retry):
        def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
            if has_retry_after and (status_code == 429 or status_code >= 500):
                return True
            return method == "GET" and status_code in GATEWAY_ERRORS

        def get_retry_after(self, response: Any) -> Optional[float]:
            try:
                seconds = super().get_retry_after(response)
            except urllib3.exceptions.InvalidHeader:
                return None
            return None if seconds is None else min(seconds, MAX_RETRY_AFTER)

        def wait(self, response: Any) -> float:
            return (self.get_retry_after(response) if response is not None else None) or RETRY_WAIT

        def sleep(self, response: Any = None) -> None:
            time.sleep(self.wait(response))

        def increment(
            self,
            method: Optional[str] = None,
            url: Optional[str] = None,
            response: Any = None,
            error: Optional[Exception] = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> Any:
            if isinstance(error, ReadTimeoutError):  # the user's --request-timeout: not a reason to try again
                raise error
            retry = super().increment(method, url, response, error, _pool, _stacktrace)
            on_retry(method or "", url or "", response, error, retry.wait(response))
            return retry

    return Policy(
        total=MAX_RETRIES,
        connect=0,
        read=MAX_RETRIES,
        status=MAX_RETRIES,
        other=0,
        redirect=0,
        raise_on_redirect=False,
        raise_on_status=False,
        allowed_methods=frozenset({"GET"}),  # for read errors (a reset connection): GET only
        respect_retry_after_header=True,
    )


@dataclass
class Failures:
    """Explains failures of requests to one server."""

    target: Target
    proxy: Optional[Proxy]
    read_timeout: Optional[float]
    tls_server_name: Optional[str]

    def where(self) -> str:
        through = f" through the proxy {self.proxy}" if self.proxy else ""
        return f'the API server at {self.target.server} (context "{self.target.context}"){through}'

    def connection(self, exc: Exception, retried: bool = False) -> errors.ClusterError:
        """A failure to talk to the server (urllib3's exception) as the user's line."""
        import urllib3.exceptions as ue

        where = self.where()
        if isinstance(exc, ue.ProxyError):
            return self._proxy_error(exc)
        if isinstance(exc, ue.SSLError):
            return self._tls_error(exc, where)
        if isinstance(exc, ue.ReadTimeoutError):
            seconds = self.read_timeout
            return errors.ClusterError(f"{where} did not answer within {seconds:g}s (--request-timeout)")
        if isinstance(exc, ue.NameResolutionError):
            return errors.ClusterError(f"cannot resolve the host of {where}: check the server address")
        if isinstance(exc, ue.NewConnectionError):
            if self.proxy and self.proxy.scheme == "socks5":
                return errors.ClusterError(f"cannot reach {where}: {short_error(exc)}")
            reason = re.sub(r"^\[Errno -?\d+\] ", "", str(exc).split("new connection: ")[-1]).lower()
            return errors.ClusterError(
                f"cannot reach {where}: {reason}. Is the cluster running, and is this the right context?"
            )
        if isinstance(exc, ue.ConnectTimeoutError):  # after NewConnectionError, which subclasses it
            return errors.ClusterError(f"timed out connecting to {where}")
        if isinstance(exc, ue.ProtocolError):
            after = f" ({MAX_RETRIES} retries)" if retried else ""
            return errors.ClusterError(f"the connection to {where} was dropped{after}: {short_error(exc)}")
        return errors.ClusterError(f"cannot talk to {where}: {short_error(exc)}")

    def _tls_error(self, exc: Exception, where: str) -> errors.ClusterError:
        reason = str(exc.args[0] if exc.args else exc)
        if "EOF occurred in violation of protocol" in reason or "UNEXPECTED_EOF" in reason:
            return errors.ClusterError(f"the connection to {where} was dropped during the TLS handshake")
        if "WRONG_VERSION_NUMBER" in reason or "wrong version number" in reason:
            return errors.ClusterError(
                f"{where} does not speak TLS: if it is served over plain HTTP, write the server as http:// in "
                "your kubeconfig"
            )
        if "Hostname mismatch" in reason or "IP address mismatch" in reason:
            name = self.tls_server_name
            host = name or urllib.parse.urlsplit(self.target.server).hostname
            how = (
                "tls-server-name in your kubeconfig does not match it"
                if name
                else "connect by a name the certificate holds, or set tls-server-name in your kubeconfig"
            )
            return errors.ClusterError(f"the certificate of {where} is not valid for {host!r}: {how}")
        if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason:
            detail = reason.split("certificate verify failed:")[-1].split("(_ssl")[0].strip(" :")
            return errors.ClusterError(
                f"TLS verification of {where} failed: {detail or 'untrusted certificate'}. Check the "
                "cluster's certificate-authority in your kubeconfig"
            )
        return errors.ClusterError(f"TLS handshake with {where} failed: {reason}")

    def _proxy_error(self, exc: Exception) -> errors.ClusterError:
        """The proxy's own failure; the proxy is named without its user and password."""
        cause = getattr(exc, "original_error", None) or exc
        text = short_error(cause)
        if "407" in text:
            return errors.ClusterError(
                f"the proxy {self.proxy} refused to connect to {self.target.server}: 407 Proxy Authentication "
                "Required. Check the user and password in the proxy URL (kubeconfig proxy-url or HTTPS_PROXY)"
            )
        return errors.ClusterError(f"the proxy {self.proxy} could not connect to {self.target.server}: {text}")

    def status(self, method: str, path: str, status: int, data: bytes) -> errors.PluginError:
        """An error answer (status >= 400) as the error to raise: the server's words kept as fields."""
        try:
            body = json.loads(data)
        except ValueError:
            body = {}
        message = body.get("message") if isinstance(body, dict) else None
        reason = body.get("reason", "") if isinstance(body, dict) else ""
        message = message or (data.decode("utf-8", "replace").strip()[:200] or f"HTTP {status}")
        if status == 400 and "Client sent an HTTP request to an HTTPS server" in message:
            https = "https://" + self.target.server.split("://", 1)[-1]
            return errors.ClusterError(
                f"the server at {self.target.server} speaks HTTPS: write it as {https} in your kubeconfig"
            )
        if status == 407:
            return errors.ClusterError(
                f"the proxy {self.proxy} refused to forward the request: 407 Proxy Authentication Required. Check "
                "the user and password in the proxy URL (kubeconfig proxy-url or HTTP_PROXY)"
            )
        if status == 401:
            return errors.Unauthorized(
                status,
                reason,
                message,
                method,
                path,
                text=(
                    f'the API server at {self.target.server} rejected the credentials of user "{self.target.user}" '
                    f'(context "{self.target.context}"): 401 Unauthorized. Log in again or fix the user in your '
                    "kubeconfig"
                ),
            )
        if status == 403 and "denied the request" in message:  # admission refused it, RBAC allowed it
            return errors.Denied(status, reason, message, method, path)
        cls = {403: errors.Forbidden, 404: errors.NotFound, 409: errors.Conflict, 422: errors.Invalid}.get(
            status, errors.APIError
        )
        return cls(status, reason, message, method, path)


def short_error(exc: Any) -> str:
    """An exception's own words without urllib3's object reprs: "Connection aborted", "Remote end closed ..."."""
    text = str(exc.args[-1] if getattr(exc, "args", None) else exc)
    text = re.sub(r"<[^>]*>: ", "", text)
    return re.sub(r"^\[Errno -?\d+\] ", "", text).strip() or type(exc).__name__
