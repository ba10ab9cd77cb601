"""Kubernetes: the API answers and its version is one the release supports."""

from metallb_plugin.core import objects as k8s
from metallb_plugin.core import releases
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.preflight.facts import Facts
from metallb_plugin.defaults import DOCS


def check_api(facts: Facts) -> Result:
    if facts.server_error:
        return Result(FAIL, facts.server_error)
    return Result(OK)


def check_kubernetes_version(facts: Facts) -> Result:
    have = k8s.kubernetes_version(facts.server)
    if have is None:
        raise Skip("the server did not report a version")
    shown = (facts.server or {}).get("gitVersion") or "%d.%d" % have
    need = releases.min_kubernetes(facts.tag)
    if need and have < need:
        return Result(
            FAIL,
            f"Kubernetes {shown} is older than {need[0]}.{need[1]}, the oldest that MetalLB "
            f"{facts.tag} supports (it reads EndpointSlices, GA in 1.21)",
        )
    if have < (1, 25):
        return Result(
            WARN,
            f"Kubernetes {shown} does not enforce CRD validation rules (1.25+): invalid MetalLB "
            "resources can be accepted and then ignored by MetalLB",
        )
    floor = f"; MetalLB {facts.tag} needs {need[0]}.{need[1]} or newer" if need else ""
    return Result(OK, details=(f"Kubernetes {shown}{floor}",))


register(
    "kubernetes",
    "Kubernetes",
    (
        Check("kubernetes-api", "kubernetes", "can reach the Kubernetes API", check_api, fatal=True),
        Check(
            "kubernetes-version",
            "kubernetes",
            "Kubernetes version is supported by the MetalLB release",
            check_kubernetes_version,
            hint=f"{DOCS}/release-notes/",
        ),
    ),
)
