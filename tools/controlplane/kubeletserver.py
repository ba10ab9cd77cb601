"""The kubelet's HTTPS endpoint for container logs, on every node of the full cluster (stdlib only).

    kubeletserver.py DIR        (fullcluster.py starts it with the cluster; `down` stops it)

The API server answers `kubectl logs` (GET pods/NAME/log) by asking the Pod's kubelet: GET
https://NODE-IP:10250/containerLogs/NAMESPACE/POD/CONTAINER?previous=&tailLines=&limitBytes=. This program listens
there in every node's network namespace and serves the logs the kubelet stand-in (kubelet.py) writes: DIR/pods/
NS_POD_UID/CONTAINER.log for the running instance, CONTAINER.previous.log for the last terminated one. It answers
as the kubelet does (pkg/kubelet/server and kubelet_pods.go): the previous instance, or a 400 naming it missing;
for a container that is not running, its last terminated instance, else "is waiting to start". Pods the stand-in
does not run (kwok's) have no logs: 404, as for a Pod the kubelet does not know.

TLS both ways, as between a real API server and kubelet: this side presents a serving certificate for the node
addresses signed by the cluster CA (the API server checks it: --kubelet-certificate-authority) and only accepts
the API server's kubelet-client certificate. `certs()` and `apiserver_flags()` are what fullcluster.py adds.
"""

import http.server
import os
import socket
import socketserver
import ssl
import sys
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 10250
CLIENT_CN = "kube-apiserver-kubelet-client"


def certs(node_ips):
    """The certificates to add to the cluster's PKI: {name: (subject, extended key usage, subjectAltName)}."""
    return {"kubelet": ("/CN=kubelet", "serverAuth", ",".join(f"IP:{ip}" for ip in node_ips)),
            "apiserver-kubelet-client": (f"/O=system:masters/CN={CLIENT_CN}", "clientAuth", None)}


def apiserver_flags(pki):
    """kube-apiserver flags: reach kubelets at their InternalIP (never a host name the machine's resolver would
    look up), with a client certificate, checking theirs."""
    return ["--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-client-certificate={pki}/apiserver-kubelet-client.crt",
            f"--kubelet-client-key={pki}/apiserver-kubelet-client.key",
            f"--kubelet-certificate-authority={pki}/ca.crt"]


def pod_dir(pods, namespace, pod):
    """The stand-in's directory of this Pod (the newest, if the name was used before), or None."""
    prefix = f"{namespace}_{pod}_"
    found = [os.path.join(pods, d) for d in os.listdir(pods) if d.startswith(prefix)] if os.path.isdir(pods) else []
    return max(found, key=os.path.getmtime) if found else None


def read_log(directory, pod, container, previous, tail, limit):
    """(HTTP status, body) of a container log request."""
    current = os.path.join(directory, f"{container}.log")
    last = os.path.join(directory, f"{container}.previous.log")
    if previous:
        path = last if os.path.exists(last) else None
        missing = f"previous terminated container \"{container}\" in pod \"{pod}\" not found"
    else:
        path = current if os.path.exists(current) else last if os.path.exists(last) else None
        missing = f"container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"
    if path is None:
        return 400, missing.encode()
    with open(path, "rb") as handle:
        data = handle.read()
    if tail is not None:
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-tail:]) if tail > 0 else b""
    return 200, data[:limit] if limit is not None else data


class Handler(http.server.BaseHTTPRequestHandler):
    pods = ""

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = urllib.parse.parse_qs(url.query)
        if len(parts) != 4 or parts[0] != "containerLogs":
            return self._answer(404, b"404 page not found")
        _, namespace, pod, container = parts
        directory = pod_dir(self.pods, namespace, pod)
        if directory is None:
            return self._answer(404, f'pod "{pod}" does not exist'.encode())
        number = lambda key: int(query[key][0]) if key in query else None  # noqa: E731
        previous = query.get("previous", ["false"])[0] == "true"
        return self._answer(*read_log(directory, pod, container, previous, number("tailLines"), number("limitBytes")))

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, sock, tls):
        super().__init__(sock.getsockname()[:2], Handler, bind_and_activate=False)
        self.socket = tls.wrap_socket(sock, server_side=True)

    def verify_request(self, request, client_address):
        subject = dict(x[0] for x in request.getpeercert().get("subject", ()))
        return subject.get("commonName") == CLIENT_CN


def serve(directory):
    import json

    import netns

    with open(os.path.join(directory, "state.json")) as handle:
        nodes = json.load(handle)["full"]["nodes"]
    pki = os.path.join(directory, "pki")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.path.join(pki, "kubelet.crt"), os.path.join(pki, "kubelet.key"))
    tls.load_verify_locations(os.path.join(pki, "ca.crt"))
    tls.verify_mode = ssl.CERT_REQUIRED
    Handler.pods = os.path.join(directory, "pods")
    servers = []
    for node in nodes.values():
        sock = netns.socket_in(node["netns"])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((node["ip"], PORT))
        sock.listen(64)
        servers.append(Server(sock, tls))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    threading.Event().wait()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.path.insert(0, HERE)
    serve(sys.argv[1])
