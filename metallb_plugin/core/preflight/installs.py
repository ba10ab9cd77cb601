"""Existing installation: another MetalLB (manifest, Helm, operator, MicroK8s addon) or a legacy configuration."""

from typing import Optional

from metallb_plugin.core import installation, legacy, releases
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, register
from metallb_plugin.core.objects import Obj
from metallb_plugin.core.preflight.facts import Facts


def check_existing_install(facts: Facts) -> Result:
    deployments = facts.items("deployments")
    daemonsets = facts.items("daemonsets")
    metallbs = facts.items("metallbs") if facts.readable("metallbs") else []
    found = installation.find_installations(deployments, daemonsets, metallbs)
    operator = installation.find_operator(deployments)
    if not found:
        if operator:
            return Result(
                WARN,
                f"the MetalLB operator runs ({operator}): let it deploy MetalLB (a MetalLB resource) "
                "rather than installing the manifest next to it",
            )
        return Result(OK, details=("no MetalLB controller or speaker found",))
    described = tuple(_describe_install(i) for i in found)
    here = [i for i in found if i.namespace == facts.namespace]
    if not here:
        other = found[0]
        return Result(
            FAIL,
            f"MetalLB is already installed in namespace {other.namespace}: a second installation "
            f"in {facts.namespace} would compete with it (use -n {other.namespace})",
            described,
        )
    current = here[0]
    version = current.version or "(unknown version)"
    if current.managed_by == installation.HELM:
        return Result(
            WARN,
            f"MetalLB {version} is installed in {current.namespace} by Helm release "
            f"{current.helm_release}: upgrade it with helm, not with kubectl metallb install",
            described,
        )
    if current.managed_by == installation.OPERATOR:
        return Result(
            WARN,
            f"MetalLB {version} in {current.namespace} is managed by the MetalLB operator: change "
            "its MetalLB resource instead of installing the manifest",
            described,
        )
    return Result(
        WARN,
        f"MetalLB {version} is already installed in {current.namespace}: kubectl metallb install "
        f"would {_change(current.version, facts.tag)}",
        described,
    )


def _change(installed: Optional[str], tag: str) -> str:
    """What installing `tag` over `installed` means, in words."""
    try:
        have, want = releases.parse_version(installed or ""), releases.parse_version(tag)
    except ValueError:
        return f"replace it with {tag}"
    if have == want:
        return "re-apply the same release"
    return f"{'upgrade' if have < want else 'downgrade'} it to {tag}"


def _describe_install(found: installation.Installation) -> str:
    how = {installation.HELM: f"Helm release {found.helm_release}", installation.OPERATOR: "operator"}.get(
        found.managed_by, "manifest"
    )
    parts = [f"{found.namespace}: MetalLB {found.version or '(unknown version)'} ({how}, {found.backend} backend)"]
    return "; ".join(parts + list(found.notes))


def is_legacy_config(configmap: Obj) -> bool:
    """A MetalLB <= 0.12 configuration: ConfigMap `config` whose `config` key holds address-pools or peers."""
    if k8s.name(configmap) != "config":
        return False
    try:
        config, _ = legacy.from_document(dict(configmap, kind="ConfigMap"))
    except legacy.LegacyConfigError:
        return False
    return any(str(k).lower() in legacy.TOP_KEYS for k in config)


def check_legacy_config(facts: Facts) -> Result:
    legacy = [cm for cm in facts.items("legacy_configmaps") if is_legacy_config(cm)]
    if not legacy:
        return Result(OK)
    names = [k8s.qualified(cm) for cm in legacy]
    return Result(
        WARN,
        f"ConfigMap {k8s.listing(names)} holds a MetalLB <= 0.12 configuration, which MetalLB 0.13 "
        "and later ignore: convert it to custom resources",
        tuple(f"kubectl metallb pools migrate --from-configmap {name}" for name in names),
    )


def check_microk8s(facts: Facts) -> Result:
    nodes = [n for n in facts.items("nodes") if k8s.labels(n).get("microk8s.io/cluster") == "true"]
    if not nodes:
        return Result(OK)
    return Result(
        WARN,
        "this is a MicroK8s cluster, which ships MetalLB as an addon (microk8s enable "
        "metallb:RANGE): use the addon or this plugin, not both",
    )


register(
    "existing-installation",
    "Existing installation",
    (
        Check(
            "existing-install",
            "existing-installation",
            "no other MetalLB installation",
            check_existing_install,
            hint="kubectl metallb status",
            needs=("deployments", "daemonsets"),
        ),
        Check(
            "legacy-config",
            "existing-installation",
            "no legacy MetalLB ConfigMap configuration",
            check_legacy_config,
            severity="warning",
            hint="kubectl metallb pools migrate",
            needs=("legacy_configmaps",),
        ),
        Check(
            "microk8s-addon",
            "existing-installation",
            "not a MicroK8s cluster with its own MetalLB addon",
            check_microk8s,
            severity="warning",
            hint="https://microk8s.io/docs/addon-metallb",
            needs=("nodes",),
        ),
    ),
)
