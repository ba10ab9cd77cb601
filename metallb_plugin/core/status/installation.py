"""Installation: where and how MetalLB is installed, its release, BGP backend, left-over objects."""

from typing import List

from metallb_plugin.core import releases
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.objects import meta, name
from metallb_plugin.core.status.common import (
    LEGACY_CONFIGMAP,
    _need_install,
    _plural,
    installed,
    named,
)
from metallb_plugin.core.view import View


def check_found(view: View) -> Result:
    facts = view.facts
    if view.install:
        install = view.install
        how = {
            "manifest": "manifest",
            "helm": f"Helm release {install.helm_release or '?'}",
            "operator": f"metallb-operator{' ' + install.operator if install.operator else ''}",
        }[install.managed_by]
        return Result(
            OK, f"MetalLB {install.version or '(untagged image)'} in {install.namespace}, installed with the {how}"
        )
    for kind in ("deployments", "daemonsets"):
        if not facts.readable(kind):
            raise Skip(facts.reason(kind))  # MetalLB may be there: the workloads could not be read
    elsewhere = [i.namespace for i in facts.installations]
    if facts.namespace_given and elsewhere:
        return Result(
            FAIL,
            f"no MetalLB in namespace {facts.namespace} (-n); found one in {', '.join(elsewhere)}: "
            f"use -n {elsewhere[0]} or leave -n out",
        )
    return Result(
        FAIL,
        "MetalLB is not installed: no controller Deployment or speaker DaemonSet labelled "
        "app=metallb or app.kubernetes.io/name=metallb in any namespace",
    )


def check_version(view: View) -> Result:
    install = _need_install(view)
    version = install.version
    if view.version is None:
        return Result(
            WARN,
            f"controller image tag {version or '(none)'} is not a release: version-dependent checks "
            "assume the newest release",
        )
    if view.version < (0, 13, 0):
        return Result(
            FAIL,
            f"MetalLB {version} is configured by ConfigMap; this plugin checks v0.13.0 and newer (custom resources)",
        )
    newest = releases.parse_version(releases.DEFAULT_TAG)
    if view.version > newest:
        return Result(OK, f"{version} (newer than the newest release this plugin knows, {releases.DEFAULT_TAG})")
    if view.version < newest:
        return Result(
            OK,
            f"{version} (the newest release is {releases.DEFAULT_TAG}: kubectl metallb install "
            f"--version {releases.DEFAULT_TAG} upgrades)",
        )
    return Result(OK, f"{version} is the newest release")


def check_backend(view: View) -> Result:
    install = _need_install(view)
    backend = install.backend
    if backend == "frr" and view.at_least(0, 16, 0):
        return Result(WARN, "BGP backend: frr (FRR mode is deprecated since v0.16.0; FRR-K8s is the default)")
    detail = {
        "native": "native (MetalLB's own BGP; no BFD, no IPv6 BGP)",
        "frr": "frr (FRR containers in the speaker)",
        "frr-k8s": f"frr-k8s (DaemonSet {install.frr_k8s or 'not found'})",
    }.get(backend, backend)
    if backend == "frr-k8s" and not install.frr_k8s:
        return Result(FAIL, "BGP backend frr-k8s, but no frr-k8s DaemonSet was found")
    return Result(OK, f"BGP backend: {detail}")


def check_objects(view: View) -> Result:
    """Renamed, deprecated and left-over objects for the installed release."""
    install = _need_install(view)
    found: List[str] = []
    old_service, old_secret = releases.WEBHOOK_NAMES_OLD
    if install.webhook_service != old_service:
        if any(meta(s).get("namespace") == view.ns and name(s) == old_service for s in view.services):
            found.append(
                f"Service {old_service}: the webhook Service before v0.14.4, now {install.webhook_service}; "
                "left over, safe to delete"
            )
        if old_secret in view.secrets:
            found.append(
                f"Secret {old_secret}: the webhook certificate before v0.14.4, now {install.webhook_secret};"
                " left over, safe to delete"
            )
    legacy = view.configmaps.get(LEGACY_CONFIGMAP)
    if legacy is not None and "config" in (legacy.get("data") or {}):
        found.append(
            f"ConfigMap {LEGACY_CONFIGMAP}: the pre-v0.13 configuration, ignored since v0.13.0; convert it "
            "with kubectl metallb pools migrate"
        )
    found += list(install.notes)
    if found:
        return Result(WARN, _plural(len(found), "deprecated or left-over object"), tuple(found))
    names = f"webhook Service {install.webhook_service}, Secret {install.webhook_secret}"
    return Result(OK, f"object names match {install.version or 'this release'} ({names})")


register(
    "installation",
    "Installation",
    (
        Check("install.found", "installation", "MetalLB is installed", check_found, hint="kubectl metallb install"),
        Check(
            "install.version",
            "installation",
            "MetalLB release",
            check_version,
            severity="warning",
            hint="https://metallb.io/release-notes/",
            when=installed,
        ),
        Check(
            "install.backend",
            "installation",
            "BGP backend",
            check_backend,
            hint="https://metallb.io/installation/",
            when=installed,
        ),
        Check(
            "install.objects",
            "installation",
            "no renamed or left-over objects",
            check_objects,
            severity="warning",
            hint=named("kubectl -n {ns} get services,secrets,configmaps"),
            when=installed,
        ),
    ),
)
