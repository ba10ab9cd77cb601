"""One module per subcommand: add_arguments(parser) and run(args, ctx) -> exit code (help texts: cli.COMMANDS)."""

import argparse
from typing import Any, Dict, Tuple

from metallb_plugin import errors
from metallb_plugin.core.duration import parse_duration


def duration(text):
    """argparse type of every DURATION flag: 30s, 5m, 1h30m or seconds."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_timeout(parser, default, what):
    """--timeout DURATION, the same flag wherever a command waits; what: what it limits."""
    from metallb_plugin.core.duration import format_duration

    parser.add_argument(
        "--timeout", type=duration, default=default, metavar="DURATION",
        help=f"{what} (default {format_duration(default, short=True)})",
    )  # fmt: skip


def add_write_flags(parser, overwrite=True, dry_run="show the plan, checked by the API server; change nothing"):
    """The flags of every command that writes: --dry-run, --yes and (where it applies) --overwrite."""
    parser.add_argument("--dry-run", action="store_true", help=dry_run)
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    if overwrite:
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="also change or delete objects that kubectl metallb did not create for this purpose",
        )


def read_text(path, ctx):
    """A text file named on the command line ('-': standard input); one that cannot be read is a UsageError."""
    try:
        if path == "-":
            return ctx.stdin.read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise errors.UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise errors.UsageError(f"{path} is not a text file") from None


def read_manifest(path, ctx, flag="--manifest"):
    """The bytes of a file given with flag ('-': standard input); a bad path is a UsageError."""
    from metallb_plugin.core import manifests

    try:
        if path == "-":
            data = ctx.stdin.buffer.read(manifests.MAX_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(manifests.MAX_BYTES + 1)
    except FileNotFoundError:
        raise errors.UsageError(f"{flag} {path}: no such file") from None
    except IsADirectoryError:
        raise errors.UsageError(f"{flag} {path} is a directory; give the manifest file") from None
    except PermissionError:
        raise errors.UsageError(f"{flag} {path}: permission denied") from None
    return data


def add_prometheus_fit(parser, variant):
    """--prometheus (help: variant), --prometheus-service-account and --servicemonitor-label: the Prometheus variant
    fitted to your Prometheus."""
    parser.add_argument("--prometheus", action="store_true", help=variant)
    parser.add_argument(
        "--prometheus-service-account", metavar="NS/NAME",
        help="the ServiceAccount your Prometheus runs as: the variant's RoleBinding binds it instead of "
        "monitoring/prometheus-k8s",
    )  # fmt: skip
    parser.add_argument(
        "--servicemonitor-label", action="append", metavar="KEY=VALUE",
        help="add this label to MetalLB's ServiceMonitors, so your Prometheus's serviceMonitorSelector selects "
        "them (repeatable)",
    )  # fmt: skip


def prometheus_fit(args: Any) -> Tuple[Any, Dict[str, str]]:
    """(ServiceAccount or None, {label: value}) of those flags; a UsageError when they are wrong or out of place."""
    from metallb_plugin.core.install.prometheus import options

    try:
        account, labels = options(args.prometheus_service_account, args.servicemonitor_label)
    except ValueError as exc:
        raise errors.UsageError(str(exc)) from None
    if (account or labels) and not (args.prometheus or getattr(args, "manifest", None)):
        raise errors.UsageError(
            "--prometheus-service-account and --servicemonitor-label fit the Prometheus variant: add --prometheus"
        )
    return account, labels
