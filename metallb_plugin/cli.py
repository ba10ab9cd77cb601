"""Command line: the argparse tree, kubectl's global flags, dispatch and exit codes.

Imports nothing heavy: --help, --version and argument errors must stay fast. A subcommand's module (and the
logic it imports) is loaded only when that subcommand runs or shows its help; the Kubernetes client only when a
command talks to the cluster.
"""

import argparse
import importlib
import re
import sys

from metallb_plugin import __version__, defaults, errors
from metallb_plugin.commands import duration
from metallb_plugin.core.text import control_character, echo, printable, shorten
from metallb_plugin.errors import ExitCode
from metallb_plugin.output import FORMATS

# Subcommands in help order, with their one-line help. Each lives in metallb_plugin/commands/<name with _>.py
# and provides add_arguments(parser) and run(args, ctx) -> exit code; its docstring is the description.
COMMANDS = {
    "preflight": "check that the cluster is ready for MetalLB",
    "strict-arp": "show or change kube-proxy's ipvs.strictARP",
    "install": "install or upgrade MetalLB (verified, idempotent, waits until it serves)",
    "uninstall": "remove MetalLB (backs up its configuration first)",
    "restore": "restore a backup made by uninstall or strict-arp",
    "status": "show whether MetalLB is healthy and doing its job; explain one Service",
    "analyze": "check MetalLB's configuration as a whole, live or from files (stable codes)",
    "pools": "list, create and delete address pools; migrate a legacy ConfigMap",
    "report": "write a support bundle (.tar.gz) for a bug report, credentials redacted",
    "version": "show the plugin's and the cluster's versions",
    "completion": "print a shell completion script (bash, zsh, fish, or kubectl's plugin hook)",
}

EPILOG = """exit codes:
  0    success (warnings allowed)
  1    checks failed or the operation failed
  2    usage error or bad input
  3    cannot reach or authenticate to the cluster
  4    timed out waiting
  130  interrupted (Ctrl-C)
"""
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def namespace(text):
    """-n: a namespace name is a DNS-1123 label (it goes into request paths)."""
    if len(text) > 63 or not DNS_LABEL.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"'{echo(text)}' is not a namespace name: at most 63 lower-case letters, digits and '-', starting and "
            "ending with a letter or digit"
        )
    return text


def header_value(text):
    """--as and friends travel as HTTP headers: no control characters (kubectl's HTTP library refuses them too)."""
    bad = control_character(text)
    if bad is not None:
        raise argparse.ArgumentTypeError(
            f"'{echo(text)}' contains a control character ({echo(bad)}), which an HTTP header cannot carry"
        )
    return text


def user_extra(text):
    """--as-user-extra KEY=VALUE."""
    key, equals, _ = header_value(text).partition("=")
    if not key or not equals:
        raise argparse.ArgumentTypeError(f"'{echo(text)}': use KEY=VALUE, like scopes=view")
    return text


class Parser(argparse.ArgumentParser):
    """argparse, quoting the user's input back as one short printable line (long values cut with "…")."""

    def error(self, message):
        words = []
        for word in printable(message).split(" "):
            quoted = len(word) > 2 and word[0] in "'\"" and word[-1] == word[0]
            words.append(word[0] + shorten(word[1:-1]) + word[-1] if quoted else shorten(word))
        super().error(" ".join(words))


def global_flags():
    """kubectl's global flags, accepted before or after the subcommand (kubectl passes plugins only argv)."""
    flags = Parser(add_help=False, argument_default=argparse.SUPPRESS)
    group = flags.add_argument_group("kubectl flags")
    group.add_argument("--kubeconfig", metavar="FILE", help="path to the kubeconfig file (no merging with KUBECONFIG)")
    group.add_argument("--context", help="the kubeconfig context to use")
    group.add_argument("--cluster", help="the kubeconfig cluster to use")
    group.add_argument("--user", help="the kubeconfig user to use")
    group.add_argument("-n", "--namespace", type=namespace, help=f"MetalLB's namespace (default {defaults.NAMESPACE})")
    group.add_argument("--as", dest="as_user", type=header_value, metavar="USER", help="user to impersonate")
    group.add_argument("--as-uid", type=header_value, metavar="UID", help="UID to impersonate (with --as)")
    group.add_argument(
        "--as-group", action="append", type=header_value, metavar="GROUP", help="group to impersonate (repeatable)"
    )
    group.add_argument(
        "--as-user-extra",
        action="append",
        type=user_extra,
        metavar="KEY=VALUE",
        help="user extra to impersonate (repeatable)",
    )
    group.add_argument(
        "--request-timeout",
        type=duration,
        metavar="DURATION",
        help="time limit for each request, like 30s or 1m (0: none)",
    )
    group.add_argument(
        "--insecure-skip-tls-verify", action="store_true", help="do not verify the server's certificate (insecure)"
    )
    group.add_argument("-o", "--output", choices=FORMATS, help="output format (default table)")
    group.add_argument("-v", "--verbose", action="count", help="more detail on stderr (each API request)")
    group.add_argument("--debug", action="store_true", help="show the Python traceback of an internal error")
    group.add_argument("--no-color", action="store_true", help="never colour the output (NO_COLOR works too)")
    return flags


GLOBAL_DEFAULTS: dict[str, object] = {
    "kubeconfig": None,
    "context": None,
    "cluster": None,
    "user": None,
    "namespace": None,
    "as_user": None,
    "as_uid": None,
    "as_group": [],
    "as_user_extra": [],
    "request_timeout": 0.0,
    "insecure_skip_tls_verify": False,
    "output": "table",
    "verbose": 0,
    "debug": False,
    "no_color": False,
}


def _module(name):
    return importlib.import_module(f"metallb_plugin.commands.{name.replace('-', '_')}")


def build_parser(only=None):
    """The argparse tree. only: the one subcommand whose arguments are needed ("" for none, None for all)."""
    flags = global_flags()
    parser = Parser(
        prog="kubectl metallb",
        parents=[flags],
        allow_abbrev=False,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Install MetalLB on a bare-metal cluster, check it, and keep it handing out addresses.",
    )
    parser.add_argument("--version", action="version", version=f"kubectl-metallb v{__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        command = sub.add_parser(
            name,
            parents=[flags],
            help=help_text,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if only is None or only == name:
            module = _module(name)
            command.description = module.__doc__
            module.add_arguments(command)
            command.set_defaults(run=module.run, outputs=getattr(module, "OUTPUTS", FORMATS))
    return parser


def _subcommand(argv):
    """The subcommand named in argv, telling flag values apart from it ("" when there is none)."""
    probe = Parser(add_help=False, parents=[global_flags()], allow_abbrev=False)
    probe.add_argument("command", nargs="?")
    probe.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        found, _ = probe.parse_known_args(argv)
    except SystemExit:  # a malformed global flag: the full parser reports it
        return ""
    return found.command if found.command in COMMANDS else ""


def parse(argv):
    parser = build_parser(only=_subcommand(argv))
    args = parser.parse_args(argv)
    for key, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    if args.output not in getattr(args, "outputs", FORMATS):
        parser.error(f"{args.command} does not print data: -o {args.output} does not apply to it")
    if not args.as_user and (args.as_uid or args.as_group or args.as_user_extra):
        parser.error("--as-uid, --as-group and --as-user-extra impersonate a user: give --as USER too")
    args.namespace_given = args.namespace is not None
    args.namespace = args.namespace or defaults.NAMESPACE
    return parser, args


def main(argv=None, ctx=None):
    """Run the plugin; the exit code. ctx: the streams, clocks and cluster connector (the process's own by
    default; tests pass their own)."""
    from metallb_plugin.context import Context

    argv = sys.argv[1:] if argv is None else argv
    if ctx is None:
        ctx = Context.system()
        sys.stdout, sys.stderr = ctx.stdout, ctx.stderr  # argparse writes help and usage errors there
    if argv[:1] == ["__complete"]:  # hidden: shell completion (cobra's protocol; see commands/completion.py)
        return _module("completion").complete(argv[1:], ctx)
    parser, args = parse(argv)
    if not args.command:
        ctx.out(parser.format_help())
        return ExitCode.OK
    try:
        if args.insecure_skip_tls_verify:
            ctx.warn("--insecure-skip-tls-verify: the server's identity is not checked")
        return args.run(args, ctx)
    except errors.PluginError as exc:
        ctx.say(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        ctx.say("\ninterrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): nothing left to say
        sys.stdout = None  # no flush of a closed pipe at exit
        return ExitCode.OK
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        if args.debug:
            raise
        ctx.say(
            f"error: internal error ({type(exc).__name__}: {exc}); run again with --debug for details and please "
            "report it"
        )
        return ExitCode.FAILED
