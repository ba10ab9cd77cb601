"""One module per subcommand: HELP, add_arguments(parser) and run(args) -> exit code."""

from metallb_plugin import errors


def not_available(name):
    """run() of a subcommand that this version of the plugin does not implement yet."""

    def run(args):
        raise errors.UsageError(f"'kubectl metallb {name}' is not available yet in this version of the plugin")

    return run
