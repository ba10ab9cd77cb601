"""Network namespaces for the full cluster (stdlib + iproute2's `ip`).

Every namespace is created without a default route, so an address outside the subnets assigned inside it is
unreachable: no packet can leave them. Interface names are local to their namespace (each veth end is created
directly in the namespace it belongs to), so several clusters never collide on them; namespace names carry a
prefix unique to the cluster's directory.
"""

import ctypes
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class Unavailable(Exception):
    """This machine cannot create network namespaces (not root, or no iproute2)."""


def check_available():
    if os.geteuid() != 0:
        raise Unavailable("the full cluster needs root (it creates network namespaces); run it as root")
    if shutil.which("ip") is None:
        raise Unavailable("the full cluster needs `ip` from iproute2 (apt-get install -y iproute2)")
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if done.returncode != 0:
        raise Unavailable(f"`ip netns` does not work here: {done.stderr.strip() or done.returncode}")


def prefix_for(directory):
    """A short name prefix unique to a cluster directory (several clusters may run side by side)."""
    return "mlb" + hashlib.sha256(os.path.abspath(directory).encode()).hexdigest()[:8]


def ip(*args, netns=None, check=True):
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def add(name):
    ip("netns", "add", name)
    ip("link", "set", "lo", "up", netns=name)


def exists(name):
    return os.path.exists(f"/run/netns/{name}")


def delete(name):
    """Kill whatever still runs in the namespace, then delete it (nothing is left behind)."""
    if not exists(name):
        return
    for pid in pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    ip("netns", "delete", name, check=False)


def pids(name):
    out = ip("netns", "pids", name, check=False)
    return [int(p) for p in out.split()]


def veth(netns, name, peer_netns, peer_name, address=None):
    """A veth pair: `name` (with address, e.g. '198.51.100.11/24') in netns, `peer_name` in peer_netns."""
    ip("link", "add", name, "type", "veth", "peer", "name", peer_name, "netns", peer_netns, netns=netns)
    if address:
        ip("addr", "add", address, "dev", name, netns=netns)
    ip("link", "set", name, "up", netns=netns)
    ip("link", "set", peer_name, "up", netns=peer_netns)


def pod_network(netns, address, host_netns, host_interface, reach):
    """A Pod's own namespace, as a CNI plugin makes it: eth0 with address/32, a veth to host_netns (where
    host_interface routes address to it), and routes to the reach subnets only."""
    delete(netns)  # a leftover of the same name (deleting it also removes its veth's other end)
    add(netns)
    veth(netns, "eth0", host_netns, host_interface, f"{address}/32")
    for subnet in reach:
        ip("route", "add", subnet, "dev", "eth0", netns=netns)
    ip("route", "add", f"{address}/32", "dev", host_interface, netns=host_netns)


def mac(netns, interface):
    return json.loads(ip("-j", "link", "show", interface, netns=netns))[0]["address"]


def default_routes(netns):
    """Default routes of both families (empty for every namespace of the full cluster)."""
    return [line for family in ("-4", "-6") for line in ip(family, "route", "show", "default", netns=netns).splitlines()
            if line.strip()]


def exec_argv(netns, argv):
    """argv that runs a program inside netns (`ip netns exec` replaces itself with it: the pid stays the same)."""
    return ["ip", "netns", "exec", netns, *argv]


def socket_in(netns, family=socket.AF_INET, kind=socket.SOCK_STREAM, proto=0):
    """A socket created inside netns: it stays there whichever thread uses it.

    A network namespace is a property of the thread that creates the socket, so a short-lived thread joins the
    namespace (setns) and creates it; the calling thread never changes namespace.
    """
    result = {}

    def create():
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns into {netns}: {os.strerror(errno)}")
            finally:
                os.close(fd)
            result["socket"] = socket.socket(family, kind, proto)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=create)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["socket"]


def http_status(netns, host, port, path, tls=False, timeout=1.0):
    """Status code of GET path on host:port as seen from inside netns (HTTPS unverified, as kubelet probes)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket_in(netns, family)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
        if tls:
            sock = ssl._create_unverified_context().wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = sock
        connection.request("GET", path, headers={"User-Agent": "kube-probe/1.37", "Accept": "*/*"})
        return connection.getresponse().status
    finally:
        sock.close()
