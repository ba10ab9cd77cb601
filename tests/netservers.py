"""Small loopback servers for transport tests, standard library only: a scripted HTTP server (429s, 5xx, resets,
stalls, a path prefix), an HTTP CONNECT proxy that demands Basic auth, and a SOCKS5 proxy with user/password auth.

The proxies resolve host names themselves from a table (`hosts`), as a corporate proxy resolves names the client
cannot: a kubeconfig can then name the API server `kubernetes` (a name in its certificate) and reach it only
through the proxy.
"""

import base64
import http.server
import json
import socket
import socketserver
import struct
import threading
import time


class _Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server:
    """Runs a socketserver on a free loopback port in a thread; use as a context manager."""

    def __init__(self, handler):
        self._server = _Threaded(("127.0.0.1", 0), handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ------------------------------------------------------------------------------------------- scripted API server


class ScriptedServer(_Server):
    """Plain HTTP. Each request takes the next step of its (method, path) script, or answers 200 with `default`.

    A step is (status, headers, body: a dict for JSON, or bytes), "reset" (close the connection without an answer) or "stall" (never
    answer). `prefix` is a path the server lives under: other paths get 404. Every request is recorded as
    (time, method, path, headers).
    """

    def __init__(self, script=None, prefix="", default=None):
        self.script = {key: list(steps) for key, steps in (script or {}).items()}
        self.prefix = prefix
        self.default = default if default is not None else {"major": "1", "minor": "37", "gitVersion": "v1.37.2"}
        self.seen = []
        self._lock = threading.Lock()
        super().__init__(_ScriptedHandler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def next_step(self, method, path):
        with self._lock:
            steps = self.script.get((method, path)) or []
            return steps.pop(0) if steps else None

    def count(self, method=None, path=None):
        return sum(1 for _, m, p, _ in self.seen if (method is None or m == method) and (path is None or p == path))


class _ScriptedHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _handle(self):
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        owner.seen.append((time.monotonic(), self.command, path, self.headers))
        if not path.startswith(owner.prefix + "/"):
            return self._answer(404, {}, {"kind": "Status", "status": "Failure", "reason": "NotFound",
                                          "message": f"not under {owner.prefix}", "code": 404})
        step = owner.next_step(self.command, path[len(owner.prefix):])
        if step == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if step == "stall":
            time.sleep(30)
            return
        status, headers, body = step or (200, {}, owner.default)
        self._answer(status, headers, body)

    def _answer(self, status, headers, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def status(code, message, retry_after=None):
    """A scripted step: the API server's Status answer, with Retry-After when given."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return code, headers, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                           "reason": "TooManyRequests" if code == 429 else "InternalError", "code": code}


# ------------------------------------------------------------------------------------------- proxies


def _pump(a, b):
    def copy(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    threads = [threading.Thread(target=copy, args=pair, daemon=True) for pair in ((a, b), (b, a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class ConnectProxy(_Server):
    """An HTTP proxy for CONNECT tunnels. With `user`, it answers 407 unless Proxy-Authorization is Basic for
    user:password. hosts: {name: (address, port)} it resolves (the name's port is replaced by the mapped one).
    Records every CONNECT target and the Proxy-Authorization headers it got."""

    def __init__(self, hosts, user=None, password=None):
        self.hosts = hosts
        self.credentials = None if user is None else "Basic " + base64.b64encode(
            f"{user}:{password}".encode()).decode()
        self.targets = []
        self.authorizations = []
        super().__init__(_ConnectHandler)


class _ConnectHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_CONNECT(self):
        owner = self.server.owner
        owner.targets.append(self.path)
        owner.authorizations.append(self.headers.get("Proxy-Authorization"))
        if owner.credentials and self.headers.get("Proxy-Authorization") != owner.credentials:
            self.send_response(407, "Proxy Authentication Required")
            self.send_header("Proxy-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        host = self.path.rsplit(":", 1)[0]
        if host not in owner.hosts:
            self.send_error(502, f"cannot resolve {host}")
            return
        upstream = socket.create_connection(owner.hosts[host])
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        _pump(self.connection, upstream)


class Socks5Proxy(_Server):
    """A SOCKS5 proxy (RFC 1928) for CONNECT, with user/password authentication (RFC 1929) when `user` is given.
    Domain names are resolved from `hosts` here, never by the client. Records (kind, host) requests: kind is
    "domain" or "ip"."""

    def __init__(self, hosts, user=None, password=None):
        self.hosts = hosts
        self.user, self.password = user, password
        self.requests = []
        self.logins = []
        super().__init__(_SocksHandler)


class _SocksHandler(socketserver.BaseRequestHandler):
    def _read(self, count):
        data = b""
        while len(data) < count:
            chunk = self.request.recv(count - len(data))
            if not chunk:
                raise ConnectionError("client went away")
            data += chunk
        return data

    def handle(self):
        owner = self.server.owner
        try:
            version, count = self._read(2)
            methods = self._read(count)
            want = 0x02 if owner.user is not None else 0x00
            if version != 5 or want not in methods:
                self.request.sendall(b"\x05\xff")
                return
            self.request.sendall(bytes([5, want]))
            if want == 0x02:
                _, length = self._read(2)
                user = self._read(length).decode()
                (length,) = self._read(1)
                password = self._read(length).decode()
                owner.logins.append(user)
                ok = (user, password) == (owner.user, owner.password)
                self.request.sendall(b"\x01\x00" if ok else b"\x01\x01")
                if not ok:
                    return
            _, command, _, kind = self._read(4)
            if kind == 3:
                (length,) = self._read(1)
                host, where = self._read(length).decode(), "domain"
            elif kind == 1:
                host, where = socket.inet_ntoa(self._read(4)), "ip"
            else:
                host, where = socket.inet_ntop(socket.AF_INET6, self._read(16)), "ip"
            self._read(2)  # the port: the table says where the name lives
            owner.requests.append((where, host))
            if command != 1 or host not in owner.hosts:
                self.request.sendall(b"\x05\x04\x00\x01" + b"\x00" * 6)  # host unreachable
                return
            upstream = socket.create_connection(owner.hosts[host])
            self.request.sendall(b"\x05\x00\x00\x01" + b"\x00" * 6)
        except (ConnectionError, OSError):
            return
        _pump(self.request, upstream)
