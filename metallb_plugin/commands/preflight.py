"""kubectl metallb preflight: check that the cluster is ready for MetalLB."""

from metallb_plugin.commands import not_available

HELP = "check that the cluster is ready for MetalLB"


def add_arguments(parser):
    pass


run = not_available("preflight")
