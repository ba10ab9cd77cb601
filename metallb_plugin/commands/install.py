"""kubectl metallb install: install or upgrade MetalLB."""

from metallb_plugin.commands import not_available

HELP = "install or upgrade MetalLB"


def add_arguments(parser):
    pass


run = not_available("install")
