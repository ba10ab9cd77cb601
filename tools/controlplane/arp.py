"""ARP probe (stdlib, AF_PACKET): who answers for an address on a LAN, as `arping` asks it.

    arp.py --cluster DIR ADDRESS [--count N]      from the LAN of the full cluster in DIR
    arp.py NETNS INTERFACE ADDRESS [--count N]    from INTERFACE in network namespace NETNS

Sends a broadcast who-has for ADDRESS and prints each reply as `Unicast reply from ADDRESS [MAC]  TIME`; exits 1
when nothing answered.
"""

import argparse
import ipaddress
import json
import socket
import struct
import subprocess
import sys
import time

from netns import socket_in

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6


def source_address(netns, interface):
    out = subprocess.run(["ip", "-n", netns, "-j", "-4", "addr", "show", interface], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)[0]["addr_info"][0]["local"]


def probe(netns, interface, target, timeout=1.0, source=None):
    """(MAC 'aa:bb:..', seconds) of the first ARP reply for target, or None when nothing answers in time."""
    source = source or source_address(netns, interface)
    sock = socket_in(netns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    with sock:
        sock.bind((interface, ETH_P_ARP))
        own = sock.getsockname()[4]
        spa, tpa = ipaddress.IPv4Address(source).packed, ipaddress.IPv4Address(target).packed
        request = BROADCAST + own + struct.pack("!H", ETH_P_ARP) + \
            struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, own, spa, b"\0" * 6, tpa)
        sent = time.monotonic()
        sock.send(request)
        deadline = sent + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                frame = sock.recv(128)
            except socket.timeout:
                break
            op, sha, reply_spa, _, reply_tpa = struct.unpack("!6xH6s4s6s4s", frame[14:42])
            if op == 2 and reply_spa == tpa and reply_tpa == spa:
                return ":".join(f"{b:02x}" for b in sha), time.monotonic() - sent
    return None


def main(argv):
    parser = argparse.ArgumentParser(prog="arp.py", description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", metavar="DIR", help="the full cluster's directory: ask from its LAN (br0)")
    parser.add_argument("where", nargs="+", metavar="NETNS INTERFACE ADDRESS")
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args(argv)
    if args.cluster:
        with open(f"{args.cluster}/state.json") as handle:
            args.where[:0] = [json.load(handle)["full"]["lan_netns"], "br0"]
    if len(args.where) != 3:
        parser.error("give --cluster DIR ADDRESS, or NETNS INTERFACE ADDRESS")
    args.netns, args.interface, args.address = args.where
    print(f"ARPING {args.address} from {source_address(args.netns, args.interface)} {args.interface}")
    answered = 0
    for attempt in range(args.count):
        if attempt:
            time.sleep(1)
        reply = probe(args.netns, args.interface, args.address)
        if reply:
            answered += 1
            print(f"Unicast reply from {args.address} [{reply[0].upper()}]  {reply[1] * 1000:.3f}ms")
    print(f"Sent {args.count} probes, received {answered} response(s)")
    return 0 if answered else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
