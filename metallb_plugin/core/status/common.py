"""What the status checks share: names shown in hints, when a category applies, small helpers."""

from typing import TYPE_CHECKING, Callable, Dict

from metallb_plugin.core import releases
from metallb_plugin.core.checks import Skip
from metallb_plugin.core.installation import Installation

if TYPE_CHECKING:
    from metallb_plugin.core.view import View

MEMBERLIST_KEY = "secretkey"
CA_KEY = "ca.crt"
LEGACY_CONFIGMAP = "config"


def _plural(n: int, word: str, suffix: str = "s") -> str:
    return f"{n} {word}{'' if n == 1 else suffix}"


def _need_install(view: "View") -> Installation:
    """The installation; Skip when there is none."""
    if not view.install:
        raise Skip("no MetalLB installation")
    return view.install


def installed(view: "View") -> bool:
    """Components and webhook checks only apply to an installation (else left out, not a wall of skips)."""
    return view.install is not None


def uses_frr_k8s(view: "View") -> bool:
    return view.install is not None and bool(view.install.frr_k8s)


def crds_served(view: "View") -> bool:
    return view.facts.metallb_served is not None


def _names(view: "View") -> Dict[str, str]:
    """The object names a hint shows (the installed ones, else the release defaults)."""
    install = view.install
    frr_ns, _, frr = (install.frr_k8s or "").partition("/") if install else ("", "", "")
    return {
        "ns": view.ns,
        "controller": install.controller if install and install.controller else "controller",
        "speaker": install.speaker if install and install.speaker else "speaker",
        "frr": frr,
        "frr_ns": frr_ns,
        "webhook_service": install.webhook_service if install else releases.WEBHOOK_NAMES[0],
        "webhook_configuration": install.webhook_configuration if install else releases.WEBHOOK_CONFIGURATION,
    }


def named(template: str) -> Callable[["View"], str]:
    """A hint made from the view: template.format() with the names _names() gives."""
    return lambda view: template.format(**_names(view))
