"""kubectl metallb uninstall: remove MetalLB."""

from metallb_plugin.commands import not_available

HELP = "remove MetalLB"


def add_arguments(parser):
    pass


run = not_available("uninstall")
