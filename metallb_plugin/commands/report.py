"""Write a support bundle for a MetalLB bug report or support request: one .tar.gz with what MetalLB's
maintainers ask for, credentials redacted.

kubectl metallb report [--file FILE] [--tail LINES] [--no-logs] [--max-size SIZE] [--no-redact]

The archive (default metallb-report-<context>-<UTC time>.tar.gz in the current directory, mode 0600) holds:
MetalLB's and frr-k8s' objects (every metallb.io and frrk8s.metallb.io kind, all namespaces) and CRDs; the
workloads, Pods with their status, ConfigMaps, Secrets (names and key names only), RBAC, NetworkPolicies,
EndpointSlices and Events of MetalLB's namespace (and frr-k8s' when it has its own); every container's log, current
and previous; LoadBalancer Services with their EndpointSlices and Events; Nodes (addresses, labels, taints,
conditions); kube-proxy's configuration; the output of `status`, `status --bgp`, `analyze`, `version` and
`strict-arp`, as text and JSON; and manifest.json / manifest.txt: what was collected, and what could not be and why.

BGPPeer passwords and every password, token or key field, in objects, configuration text (FRR's included) and
logs, are replaced by <redacted>, as is any value of a Secret the report could read wherever it appears.
--no-redact keeps them (with a warning); Secret values are never collected.

exit codes: 0 the report was written (parts that could not be read are listed in it), 2 bad flags or an output
file that cannot be created, 3 the cluster cannot be reached.
"""

import re

from metallb_plugin import reporter
from metallb_plugin.core.report.contents import NO_PREVIOUS
from metallb_plugin.errors import ExitCode

UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3}
DEFAULT_MAX = "200Mi"
DEFAULT_TAIL = 10000


def size(text):
    """argparse type of --max-size: bytes, or a Kubernetes quantity like 50M or 200Mi."""
    import argparse

    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]i?)?\s*", text)
    if not match or int(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: use bytes or a quantity like 50M or 200Mi")
    return int(match.group(1)) * UNITS[(match.group(2) or "").lower()]


def tail(text):
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of lines, or -1 for whole logs")
    return value


def add_arguments(parser):
    parser.add_argument("-f", "--file", metavar="FILE", help="where to write the report (a new file; default "
                        "metallb-report-<context>-<UTC time>.tar.gz)")  # fmt: skip
    parser.add_argument("--tail", type=tail, default=DEFAULT_TAIL, metavar="LINES",
                        help=f"the last LINES of each container log (default {DEFAULT_TAIL}; -1: whole logs)")  # fmt: skip
    parser.add_argument("--no-logs", action="store_true", help="collect no container logs")
    parser.add_argument("--max-size", type=size, default=size(DEFAULT_MAX), metavar="SIZE",
                        help=f"most bytes the report may hold before compression (default {DEFAULT_MAX}); "
                        "what does not fit is left out and listed")  # fmt: skip
    parser.add_argument("--no-redact", action="store_true",
                        help="keep passwords, tokens and keys (Secret values are never collected)")  # fmt: skip


def default_name(context, now):
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", context).strip("_") or "cluster"
    return f"metallb-report-{safe}-{now.strftime('%Y%m%dT%H%M%SZ')}.tar.gz"


def run(args, ctx):
    client = ctx.connect(args)
    path = args.file or default_name(client.target.context, ctx.now())
    top = re.sub(r"\.t(ar\.)?gz$", "", path.rstrip("/").rsplit("/", 1)[-1]) or "metallb-report"
    if args.no_redact:
        ctx.warn("--no-redact: the report holds BGP passwords, tokens and keys in clear text; share it only with "
                 "people you would give them to")  # fmt: skip
    archive = reporter.Archive.create(path, top)
    progress = ctx.progress() if ctx.stderr_tty else None
    started = ctx.monotonic()
    try:
        manifest = reporter.collect(ctx, client, args, archive, progress)
        written = archive.close()
    except BaseException:
        archive.discard()
        raise
    finally:
        if progress:
            progress.done()
    doc = {"file": path, "bytes": written, "seconds": round(ctx.monotonic() - started, 1),
           "manifest": manifest.to_document()}  # fmt: skip
    ctx.emit(doc, args.output, lambda d: _text(d, manifest))
    if manifest.size_capped:
        ctx.warn(f"the report reached --max-size ({args.max_size} bytes before compression): "
                 f"{manifest.size_capped} entries were left out (listed in manifest.json); raise --max-size or "
                 "lower --tail")  # fmt: skip
    return ExitCode.OK


def _text(doc, manifest):
    lines = [f"Wrote {doc['file']} ({_human(doc['bytes'])}, {len(manifest.files)} files, {doc['seconds']:g}s)"]
    absent = [m for m in manifest.not_collected if m["reason"] == NO_PREVIOUS]
    missing = [m for m in manifest.not_collected if m["reason"] != NO_PREVIOUS]
    if missing:
        lines.append(f"Not collected ({len(missing)}, listed in manifest.txt in the archive):")
        lines += [f"  {m['path']}: {m['reason']}" for m in missing]
    if absent:
        lines.append(f"No previous log for {len(absent)} containers: they have not restarted.")
    if manifest.redacted:
        lines.append("Passwords, tokens and keys are redacted; Secret values are never collected.")
    return "\n".join(lines)


def _human(count):
    for unit in ("bytes", "KiB", "MiB"):
        if count < 1024 or unit == "MiB":
            return f"{count:.1f} {unit}" if unit != "bytes" else f"{count} bytes"
        count /= 1024
    return f"{count} bytes"
