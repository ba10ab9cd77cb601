"""Command line: the argparse tree, kubectl's global flags, dispatch and exit codes.

Imports nothing heavy: --help, --version and argument errors must stay fast, so the Kubernetes client is only
imported by a command that talks to the cluster.
"""

import argparse
import importlib
import sys

from metallb_plugin import __version__, errors
from metallb_plugin.core.duration import parse_duration
from metallb_plugin.output import FORMATS

DEFAULT_NAMESPACE = "metallb-system"

# Subcommands in help order; each lives in metallb_plugin/commands/<name with _>.py and provides
# HELP, add_arguments(parser) and run(args) -> exit code.
COMMANDS = ("preflight", "strict-arp", "install", "uninstall", "status", "pools", "version", "completion")

EPILOG = """exit codes:
  0  success (warnings allowed)
  1  checks failed or the operation failed
  2  usage error or bad input
  3  cannot reach or authenticate to the cluster
  4  timed out waiting
"""


def _duration(text):
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _global_flags():
    """kubectl's global flags, accepted before or after the subcommand (kubectl passes plugins only argv)."""
    flags = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = flags.add_argument_group("kubectl flags")
    group.add_argument("--kubeconfig", metavar="FILE", help="path to the kubeconfig file (no merging with KUBECONFIG)")
    group.add_argument("--context", help="the kubeconfig context to use")
    group.add_argument("--cluster", help="the kubeconfig cluster to use")
    group.add_argument("--user", help="the kubeconfig user to use")
    group.add_argument("-n", "--namespace", help=f"MetalLB's namespace (default {DEFAULT_NAMESPACE})")
    group.add_argument("--as", dest="as_user", metavar="USER", help="user to impersonate")
    group.add_argument("--as-group", action="append", metavar="GROUP", help="group to impersonate (repeatable)")
    group.add_argument("--request-timeout", type=_duration, metavar="DURATION",
                       help="time limit for each request, like 30s or 1m (0: none)")
    group.add_argument("--insecure-skip-tls-verify", action="store_true",
                       help="do not verify the server's certificate (insecure)")
    group.add_argument("-o", "--output", choices=FORMATS, help="output format (default table)")
    group.add_argument("-v", "--verbose", action="count", help="more detail on stderr (each API request)")
    group.add_argument("--no-color", action="store_true", help="never colour the output (NO_COLOR works too)")
    return flags


GLOBAL_DEFAULTS = {
    "kubeconfig": None, "context": None, "cluster": None, "user": None, "namespace": None, "as_user": None,
    "as_group": [], "request_timeout": 0.0, "insecure_skip_tls_verify": False, "output": "table", "verbose": 0,
    "no_color": False,
}


def _module(name):
    return importlib.import_module(f"metallb_plugin.commands.{name.replace('-', '_')}")


def build_parser():
    flags = _global_flags()
    parser = argparse.ArgumentParser(
        prog="kubectl metallb", parents=[flags], allow_abbrev=False, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Install MetalLB on a bare-metal cluster, check it, and keep it handing out addresses.")
    parser.add_argument("--version", action="version", version=f"kubectl-metallb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _module(name)
        command = sub.add_parser(name, parents=[flags], help=module.HELP, description=module.__doc__,
                                 allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def parse(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    for key, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    args.namespace_given = args.namespace is not None
    args.namespace = args.namespace or DEFAULT_NAMESPACE
    return parser, args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["__complete"]:  # hidden: shell completion (cobra's protocol; see commands/completion.py)
        return _module("completion").complete(argv[1:])
    parser, args = parse(argv)
    if not args.command:
        parser.print_help()
        return errors.OK
    try:
        if args.insecure_skip_tls_verify:
            print("warning: --insecure-skip-tls-verify: the server's identity is not checked", file=sys.stderr)
        return args.run(args)
    except errors.PluginError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return errors.INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): nothing left to say
        sys.stdout = None
        return errors.OK
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        if args.verbose:
            raise
        print(f"error: internal error ({type(exc).__name__}: {exc}); run again with -v for details and "
              "please report it", file=sys.stderr)
        return errors.FAILED
