"""kubectl metallb pools: list, create and delete address pools."""

from metallb_plugin.commands import not_available

HELP = "list, create and delete address pools"


def add_arguments(parser):
    pass


run = not_available("pools")
