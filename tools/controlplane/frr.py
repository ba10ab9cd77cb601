"""A real BGP router for the full cluster: FRR (Debian's `frr` package: zebra, bfdd and bgpd) in the LAN namespace,
the top-of-rack router MetalLB's speakers peer with.

    router = Router(cluster_dir, lan_netns, "198.51.100.2")
    router.start(asn=64500, neighbors={"198.51.100.11": {"remote-as": 64512, "bfd": True}})
    router.configure("router bgp 64500", "neighbor 198.51.100.11 password s3cret")   # vtysh, configure mode
    router.show("show bgp summary json")        -> the parsed answer
    router.peers() / router.route("192.0.2.1/32")
    router.stop()                               # also done by `controlplane.py down` (stop(cluster_dir))

Its own configuration, sockets, pid files, logs and state (/var/tmp/frr, seen through a bind mount) live in
DIR/frr/; vtysh is pointed at that socket directory, so the machine's own FRR (if any) is never touched. The
daemons run as root with FRR's vty group (the cluster's directory is private to root) in the LAN namespace, which
has no default route: bgpd reaches the nodes on the LAN and nothing else, and zebra installs the routes it learns
into that namespace only.
"""

import json
import os
import shutil
import signal
import subprocess
import time

import netns

DAEMONS = ("zebra", "bfdd", "bgpd")  # started in this order (bgpd asks zebra for bfdd's sessions), stopped reversed
LIB = "/usr/lib/frr"
VTY_GROUP = "frrvty"  # the group Debian built FRR with for vty sockets: root runs the daemons with it as its group


class Unavailable(Exception):
    """FRR is not installed (apt-get install -y frr)."""


class Router:
    def __init__(self, directory, namespace, address):
        self.dir = os.path.join(os.path.abspath(directory), "frr")
        self.netns, self.address = namespace, address

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, asn, neighbors=(), timeout=20):
        """(Re)start zebra, bfdd and bgpd with a configuration of AS asn and these neighbors ({address: {"remote-as":
        ASN or "internal"/"external", "password": ..., "bfd": True})."""
        for daemon in DAEMONS:
            if not os.access(os.path.join(LIB, daemon), os.X_OK) or shutil.which("vtysh") is None:
                raise Unavailable(f"FRR's {daemon} or vtysh is missing: apt-get install -y frr")
        self.stop()
        os.makedirs(self.dir, exist_ok=True)
        self.asn = asn
        lines = ["frr defaults traditional", "hostname tor", f"log file {self.path('frr.log')} informational", "!",
                 f"router bgp {asn}", f" bgp router-id {self.address}", " no bgp ebgp-requires-policy",
                 " bgp log-neighbor-changes"]
        for address, options in dict(neighbors).items():
            lines.append(f" neighbor {address} remote-as {options.get('remote-as', 'external')}")
            if options.get("password"):
                lines.append(f" neighbor {address} password {options['password']}")
            if options.get("bfd"):
                lines.append(f" neighbor {address} bfd")
        for daemon in ("zebra", "bfdd"):
            with open(self.path(f"{daemon}.conf"), "w") as handle:
                handle.write("hostname tor\n")
        with open(self.path("bgpd.conf"), "w") as handle:
            handle.write("\n".join(lines + ["!", ""]))
        os.makedirs(self.path("tmp"), exist_ok=True)
        for daemon in DAEMONS:
            argv = [os.path.join(LIB, daemon), "-d", "-u", "root", "-g", VTY_GROUP,
                    "-f", self.path(f"{daemon}.conf"), "-i", self.path(f"{daemon}.pid"),
                    "-z", self.path("zserv.api"), "--vty_socket", self.dir, "-A", "127.0.0.1", "-P", "0",
                    "--log", f"file:{self.path(daemon + '.log')}"]
            if daemon == "bfdd":
                argv += ["--bfdctl", self.path("bfdd.sock")]  # not the machine's /var/run/frr/bfdd.sock
            # FRR keeps per-daemon state under /var/tmp/frr: in their mount namespace, /var/tmp is DIR/frr/tmp
            private = ["sh", "-c", 'mount --bind "$0" /var/tmp && exec "$@"', self.path("tmp"), *argv]
            done = subprocess.run(netns.exec_argv(self.netns, private), capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{daemon} did not start: {done.stderr.strip() or done.stdout.strip()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.show("show bgp summary json")
                return self
            except RuntimeError:
                time.sleep(0.2)
        raise RuntimeError(f"bgpd does not answer vtysh after {timeout}s (see {self.path('bgpd.log')})")

    def vtysh(self, *commands):
        done = subprocess.run(["vtysh", "--vty_socket", self.dir, *(a for c in commands for a in ("-c", c))],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"vtysh {' | '.join(commands)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def show(self, command):
        return json.loads(self.vtysh(command) or "{}")

    def configure(self, *lines):
        """Configuration commands, as typed after `configure terminal`."""
        return self.vtysh("configure terminal", *lines)

    def peers(self):
        """{neighbor address: summary entry (state, remoteAs, pfxRcd, ...)} of the IPv4 unicast table."""
        return self.show("show bgp summary json").get("ipv4Unicast", {}).get("peers", {})

    def route(self, prefix):
        """The paths bgpd holds for prefix (each with nexthops, community, locPrf, ...), [] when it has none."""
        return self.show(f"show bgp ipv4 unicast {prefix} json").get("paths", [])

    def stop(self):
        stop(os.path.dirname(self.dir))


def stop(directory):
    """Stop the router of a cluster directory, if one runs (SIGTERM, then SIGKILL)."""
    for daemon in reversed(DAEMONS):
        pidfile = os.path.join(os.path.abspath(directory), "frr", f"{daemon}.pid")
        try:
            with open(pidfile) as handle:
                pid = int(handle.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                ours = pidfile.encode() in handle.read()  # not another process that got the pid since
        except (OSError, ValueError):
            ours = False
        for sig in (signal.SIGTERM, signal.SIGKILL) if ours else ():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        try:
            os.unlink(pidfile)
        except FileNotFoundError:
            pass
