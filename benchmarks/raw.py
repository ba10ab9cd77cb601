#!/usr/bin/env python3
"""The raw baseline: the LIST and GET requests a command made, sent again by a client that only reads the bytes.

    raw.py KUBECONFIG PLAN [--workers N] [--limit N] [--decode]

PLAN is a JSON list of request URIs (as the audit log has them), one per listing: a URI with `limit=` is a list,
followed page by page through the `continue` token the server returns (found in the list's metadata, which the
server writes before the items, so nothing is decoded). Listings run on --workers connections at once, in the
plan's order; bodies are read and dropped. --limit replaces the page size of every list, to compare page sizes.
--decode also decodes each JSON body with json.loads (on the thread that read it, as the GIL lets it): the floor for a
Python client that reads the objects, not only the bytes.
The kubeconfig must name a client certificate (the benchmark's control plane writes such kubeconfigs).
"""

import argparse
import json
import re
import sys
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import urllib3

CONTINUE = re.compile(rb'"continue":"([^"]+)"')
HEAD = 4096  # the list's metadata is within the first bytes of the body
USER_AGENT = "bench-raw"


def connection(kubeconfig, workers):
    """(server URL, PoolManager) from a kubeconfig with a client certificate."""
    with open(kubeconfig) as handle:
        config = json.load(handle)
    context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    http = urllib3.PoolManager(
        maxsize=workers,
        cert_reqs="CERT_REQUIRED",
        ca_certs=cluster["certificate-authority"],
        cert_file=user["client-certificate"],
        key_file=user["client-key"],
    )
    return cluster["server"], http


def with_query(uri, **changes):
    path, _, query = uri.partition("?")
    params = [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True) if k not in changes]
    params += [(k, v) for k, v in changes.items() if v is not None]
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def fetch(http, server, uri, decode=False):
    """Send one listing (all its pages); (requests, bytes) read."""
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    paged = "limit=" in uri
    requests = size = 0
    token = None
    while True:
        response = http.request(
            "GET", server + (with_query(uri, **{"continue": token}) if token else uri), headers=headers, retries=False
        )
        body = response.data
        size += len(body)
        if decode and response.headers.get("Content-Type", "").startswith("application/json"):
            json.loads(body)  # not a 404 from a group the server does not serve: its body is text
        requests += 1
        match = CONTINUE.search(body, 0, HEAD) if paged and response.status == 200 else None
        if not match:
            return requests, size
        token = match.group(1).decode()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kubeconfig")
    parser.add_argument("plan")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--decode", action="store_true")
    opts = parser.parse_args(argv)
    with open(opts.plan) as handle:
        uris = json.load(handle)
    if opts.limit:
        uris = [with_query(u, limit=str(opts.limit)) if "limit=" in u else u for u in uris]
    server, http = connection(opts.kubeconfig, opts.workers)
    with ThreadPoolExecutor(opts.workers) as pool:
        done = list(pool.map(lambda u: fetch(http, server, u, opts.decode), uris))
    print(json.dumps({"requests": sum(r for r, _ in done), "bytes": sum(b for _, b in done)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
