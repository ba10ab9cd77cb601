"""Show the plugin's version and the Kubernetes version of the cluster it talks to."""

import platform

from metallb_plugin import __version__


def add_arguments(parser):
    parser.add_argument("--client", action="store_true", help="only the plugin's version; do not contact the cluster")


def run(args, ctx):
    doc = {"clientVersion": {"gitVersion": f"v{__version__}", "python": platform.python_version()}}
    if not args.client:
        doc["serverVersion"] = ctx.connect(args).server_version()
    ctx.emit(doc, args.output, _text)
    return 0


def _text(doc):
    lines = [f"Client Version: {doc['clientVersion']['gitVersion']}"]
    if "serverVersion" in doc:
        lines.append(f"Server Version: {doc['serverVersion'].get('gitVersion', 'unknown')}")
    return "\n".join(lines)
