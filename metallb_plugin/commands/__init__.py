"""One module per subcommand: add_arguments(parser) and run(args, ctx) -> exit code (help texts: cli.COMMANDS)."""

import argparse

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


def read_manifest(path, ctx):
    """The bytes of a --manifest file ('-': standard input); a bad path is a UsageError."""
    from metallb_plugin.core import manifests

    try:
        if path == "-":
            data = ctx.stdin.buffer.read(manifests.MAX_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(manifests.MAX_BYTES + 1)
    except FileNotFoundError:
        raise errors.UsageError(f"--manifest {path}: no such file") from None
    except IsADirectoryError:
        raise errors.UsageError(f"--manifest {path} is a directory; give the manifest file") from None
    except PermissionError:
        raise errors.UsageError(f"--manifest {path}: permission denied") from None
    return data
