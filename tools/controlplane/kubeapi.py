"""A minimal Kubernetes API client over HTTPS with a client certificate (stdlib only), for the cluster tools."""

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Api:
    def __init__(self, server, cafile, certfile, keyfile):
        self.server = server
        self.context = ssl.create_default_context(cafile=cafile)
        self.context.load_cert_chain(certfile, keyfile)

    def request(self, method, path, body=None, content_type="application/json", timeout=30):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method,
                                         headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except ValueError:
                pass
            raise ApiError(exc.code, detail) from None
        return json.loads(text) if text else {}

    def get(self, path, missing_ok=False):
        try:
            return self.request("GET", path)
        except ApiError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise

    def list(self, path, **query):
        query = {k: v for k, v in query.items() if v is not None}
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        return self.request("GET", path + suffix).get("items", [])

    def create(self, path, obj):
        return self.request("POST", path, obj)

    def patch(self, path, patch, kind="merge"):
        content = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json",
                   "apply": "application/apply-patch+yaml"}[kind]
        return self.request("PATCH", path, patch, content_type=content)

    def delete(self, path, body=None, missing_ok=True):
        try:
            return self.request("DELETE", path, body)
        except ApiError as exc:
            if missing_ok and exc.status in (404, 409):
                return None
            raise
