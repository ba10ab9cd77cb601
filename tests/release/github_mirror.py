"""Run a command against a stand-in for github.com, in private network and mount namespaces.

    unshare --mount --net --fork python3 github_mirror.py DIR URL_PATH=FILE... -- COMMAND...

Inside the namespaces only loopback exists. /etc/hosts is replaced by one that says github.com is 127.0.0.1, and the
system CA bundle by DIR/ca.pem, so programs that read neither SSL_CERT_FILE nor a proxy setting (krew's install,
which validate-krew-manifest runs with a bare environment) reach this HTTPS server on 127.0.0.1:443, which serves
each URL_PATH from its FILE (404 otherwise), with the certificate DIR/github.com.pem. It prints the paths served on
stderr and exits with COMMAND's exit code. Nothing outside the namespaces is changed (the mounts are private).
"""

import http.server
import os
import ssl
import subprocess
import sys
import threading


def main(argv):
    split = argv.index("--")
    folder, routes, command = argv[0], dict(a.split("=", 1) for a in argv[1:split]), argv[split + 1 :]
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open(os.path.join(folder, "hosts"), "w") as handle:
        handle.write("127.0.0.1 localhost github.com\n")
    subprocess.run(["mount", "--bind", os.path.join(folder, "hosts"), "/etc/hosts"], check=True)
    for bundle in ("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"):
        if os.path.exists(bundle):
            subprocess.run(["mount", "--bind", os.path.join(folder, "ca.pem"), bundle], check=True)

    class Mirror(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path = routes.get(self.path)
            sys.stderr.write(f"mirror: GET {self.path} {'200' if path else '404'}\n")
            if not path:
                self.send_error(404)
                return
            with open(path, "rb") as handle:
                data = handle.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 443), Mirror)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(folder, "github.com.pem"), os.path.join(folder, "github.com.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return subprocess.run(command).returncode
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
