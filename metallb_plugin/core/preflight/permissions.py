"""Permissions: one access review per permission install needs; the manifest's server-side dry run."""

from typing import List, Sequence, Tuple

from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.preflight.facts import BGP, L2, Access, Facts
from metallb_plugin.core.snapshot import Unreadable

# (group, resource, namespaced) of every kind in the release manifests; install creates them with server-side
# apply, which needs create (new objects) and patch (existing ones)
INSTALL_RESOURCES = (
    ("", "namespaces", False),
    ("apiextensions.k8s.io", "customresourcedefinitions", False),
    ("rbac.authorization.k8s.io", "clusterroles", False),
    ("rbac.authorization.k8s.io", "clusterrolebindings", False),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", False),
    ("", "serviceaccounts", True),
    ("", "configmaps", True),
    ("", "secrets", True),
    ("", "services", True),
    ("rbac.authorization.k8s.io", "roles", True),
    ("rbac.authorization.k8s.io", "rolebindings", True),
    ("apps", "deployments", True),
    ("apps", "daemonsets", True),
)
INSTALL_VERBS = ("create", "patch")
POOL_RESOURCES = {L2: ("ipaddresspools", "l2advertisements"), BGP: ("ipaddresspools", "bgpadvertisements", "bgppeers")}


def needed_access(
    namespace: str, resources: Sequence[Tuple[str, str, bool]] = INSTALL_RESOURCES, mode: str = L2, pools: bool = False
) -> List[Access]:
    """Every (verb, group, resource, namespace) install needs; with pools, what creating a pool needs too."""
    needs = []
    for group, resource, namespaced in resources:
        for verb in INSTALL_VERBS:
            needs.append(Access(verb, group, resource, namespace if namespaced else None))
    if pools:
        needs += [Access("create", "metallb.io", r, namespace) for r in POOL_RESOURCES[mode]]
    return list(dict.fromkeys(needs))


def check_permissions(facts: Facts) -> Result:
    if isinstance(facts.permissions, Unreadable):
        raise Skip(facts.permissions.reason)
    reviews = facts.permissions or []
    missing = [access for access, allowed, _ in reviews if not allowed]
    what = "install and the planned pool need" if facts.addresses is not None else "install needs"
    if missing:
        return Result(
            FAIL,
            f"{len(missing)} of the {len(reviews)} permissions that {what} {'is' if len(missing) == 1 else 'are'} missing",
            tuple(str(m) for m in missing),
        )
    return Result(OK, details=(f"all {len(reviews)} permissions that {what} are granted",))


def check_manifest_dry_run(facts: Facts) -> Result:
    manifest = facts.manifest
    if manifest is None:  # the check only runs with --manifest
        raise Skip("no --manifest given")
    known = (
        f"{manifest.release[0]} {manifest.release[1]}"
        if manifest.release
        else f"not a known upstream release file (sha256 {manifest.sha256[:12]}...)"
    )
    if manifest.errors:
        return Result(
            FAIL,
            f"the API server refuses {len(manifest.errors)} of the {manifest.tried} cluster-scoped "
            f"objects of {manifest.path} ({known}) in a server-side dry run",
            tuple(manifest.errors),
        )
    if not manifest.release:
        return Result(
            WARN, f"{manifest.path} is {known}; its {manifest.tried} cluster-scoped objects pass a server-side dry run"
        )
    return Result(OK, details=(f"{manifest.tried} cluster-scoped objects of {known} pass a server-side dry run",))


register(
    "permissions",
    "Permissions",
    (
        Check(
            "permissions",
            "permissions",
            "you may create everything install needs",
            check_permissions,
            hint=lambda f: f"kubectl auth can-i --list -n {f.namespace}",
        ),
        Check(
            "manifest-dry-run",
            "permissions",
            "the API server accepts the release's cluster-scoped objects",
            check_manifest_dry_run,
            hint="kubectl apply --server-side --dry-run=server -f MANIFEST",
            when=lambda f: f.manifest is not None,
        ),
    ),
)
