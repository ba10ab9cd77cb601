"""One module per subcommand: add_arguments(parser) and run(args) -> exit code (help texts: cli.COMMANDS)."""

import argparse

from metallb_plugin.core.duration import parse_duration


def duration(text):
    """argparse type of every DURATION flag: 30s, 5m, 1h30m or seconds."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
