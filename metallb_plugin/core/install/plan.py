"""What install will do, decided from what is on the cluster and what the manifest holds (pure).

refusal(found, operator, namespace)         -> why install must not touch this cluster, or None
kubernetes_too_old(version, server)         -> the message when the cluster is older than the release needs
action(found, version, mode)                -> ("install" | "reinstall" | "upgrade" | "downgrade", previous)
headline(...)                               -> the one-line summary
"""

from typing import Any, Dict, Iterable, List, Optional, Tuple

from metallb_plugin.core import installation, releases
from metallb_plugin.core.objects import kubernetes_version

Obj = Dict[str, Any]


def refusal(found: Any, operator: Optional[str], namespace: str) -> Optional[str]:
    """Why install must leave this cluster alone (Helm, the operator, another namespace), or None."""
    if found and found.managed_by == installation.HELM:
        return (
            f"MetalLB {found.version or ''} in namespace {found.namespace} was installed with Helm (release "
            f"{found.helm_release or 'unknown'}); upgrade it with `helm upgrade` rather than mixing installers, "
            "or `helm uninstall` it first"
        )
    if operator or (found and found.managed_by == installation.OPERATOR):
        return (
            f"MetalLB is managed by metallb-operator ({operator or found.operator or found.namespace}); change "
            "its MetalLB resource instead, or remove the operator first"
        )
    if found and found.namespace != namespace:
        return (
            f"MetalLB {found.version or ''} already runs in namespace {found.namespace}; two installs would "
            f"fight over the same Services. Remove it first (kubectl metallb uninstall -n {found.namespace})"
        )
    return None


def kubernetes_floor(version: Optional[str]) -> Optional[Tuple[int, int]]:
    """The oldest Kubernetes the release is documented to support, or None."""
    try:
        return releases.min_kubernetes(version) if version else None
    except ValueError:
        return None


def kubernetes_too_old(version: Optional[str], server: Optional[Obj]) -> Optional[str]:
    """The message when the cluster runs a Kubernetes older than the release's documented floor, else None."""
    floor = kubernetes_floor(version)
    have = kubernetes_version(server)
    if not floor or have is None or have >= floor:
        return None
    return (
        f"MetalLB {version} needs Kubernetes {floor[0]}.{floor[1]} or newer; this cluster runs "
        f"{(server or {}).get('gitVersion')}"
    )


def action(found: Any, version: Optional[str], mode: str) -> Tuple[str, Optional[str]]:
    """(install | reinstall | upgrade | downgrade, the installed version)."""
    if not found:
        return "install", None
    previous = found.version
    if previous == version and found.backend in (mode, "unknown"):
        return "reinstall", previous
    try:
        older = releases.parse_version(version or "") < releases.parse_version(previous or "")
    except ValueError:
        older = False
    return ("downgrade" if older else "upgrade"), previous


def downgrade_refusal(previous: Optional[str], version: Optional[str]) -> str:
    return (
        f"MetalLB {previous} is installed; {version} is older. Downgrades are not supported upstream (CRDs and "
        "stored objects may not convert back); pass --force to do it anyway"
    )


def change_text(found: Any, version: Optional[str], mode: str) -> str:
    return f"from {found.version or 'an unknown version'} ({found.backend}) to {version} ({mode})"


def established(crd: Obj) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or []
    )


def webhook_services(objects: Iterable[Obj], namespace: str) -> List[str]:
    """Names of the Services the manifest's webhooks call (validating webhooks and CRD conversion), in order."""
    names: List[str] = []
    for obj in objects:
        configs = []
        if obj["kind"] == "ValidatingWebhookConfiguration":
            configs = [hook.get("clientConfig") or {} for hook in obj.get("webhooks") or []]
        elif obj["kind"] == "CustomResourceDefinition":
            conversion = (obj.get("spec") or {}).get("conversion") or {}
            configs = [((conversion.get("webhook") or {}).get("clientConfig")) or {}]
        for config in configs:
            service = config.get("service") or {}
            if (
                service.get("name")
                and service.get("namespace", namespace) == namespace
                and service["name"] not in names
            ):
                names.append(service["name"])
    return names


def headline(
    what: str,
    namespace: str,
    chosen: str,
    previous: Optional[str],
    found: Dict[str, int],
    summary: str,
    dry_run: bool,
    unchecked: int,
) -> str:
    """The summary line: what: "MetalLB v0.16.1 (native)"; found: the plan's counts, summary: their text."""
    if dry_run:
        text = f"dry run: {what}: {summary}; nothing was changed"
        if unchecked:
            text += (
                f" ({unchecked} objects in namespace {namespace} could not be checked by the server: the namespace "
                "does not exist yet)"
            )
        return text
    if chosen == "reinstall" and not (found["created"] or found["changed"] or found["deleted"]):
        return f"{what} is already installed in {namespace}: nothing changed ({summary})"
    verb = {
        "install": "installed",
        "upgrade": f"upgraded from {previous}",
        "downgrade": f"downgraded from {previous}",
        "reinstall": "re-applied",
    }[chosen]
    return f"{what} {verb} in {namespace}: {summary}"
