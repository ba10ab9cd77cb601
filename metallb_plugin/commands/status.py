"""kubectl metallb status: show whether MetalLB is healthy and doing its job."""

from metallb_plugin.commands import not_available

HELP = "show whether MetalLB is healthy and doing its job"


def add_arguments(parser):
    pass


run = not_available("status")
