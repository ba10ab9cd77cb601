"""Loopback forwarder: connections accepted on an inherited listening socket go to HOST:PORT here.

    forward.py FD HOST PORT

The full cluster binds 127.0.0.1:PORT in the machine's own namespace, then starts this program inside the
cluster's namespace (`ip netns exec`) with that socket as FD: kubectl, the plugin and the tests reach the API
server at 127.0.0.1:PORT unchanged, while the API server itself only listens inside the namespace.
"""

import socket
import sys
import threading


def pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


def relay(client, upstream):
    back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
    back.start()
    pipe(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(listener, target):
    while True:
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection(target, timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        threading.Thread(target=relay, args=(client, upstream), daemon=True).start()


def main(argv):
    fd, host, port = int(argv[0]), argv[1], int(argv[2])
    listener = socket.socket(fileno=fd)
    try:
        serve(listener, (host, port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
