"""kubectl metallb strict-arp: show or change kube-proxy's ipvs.strictARP."""

from metallb_plugin.commands import not_available

HELP = "show or change kube-proxy's ipvs.strictARP"


def add_arguments(parser):
    pass


run = not_available("strict-arp")
