"""kubectl metallb: install, check and operate MetalLB from kubectl."""

__version__ = "0.1.0"
