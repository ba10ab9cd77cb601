"""MetalLB release manifests as data: verify, split, validate, order and rewrite (pure: no I/O, no cluster).

verify_sha256(data, expected)      raise ManifestError with both digests when they differ
parse(data)                        multi-document YAML -> [object dicts]; guards against huge inputs and
                                   alias bombs; every document must be a Kubernetes object
validate(objects)                  only the kinds a MetalLB manifest contains, one Namespace, every namespaced
                                   object in it, no duplicates -> the namespace
order(objects)                     dependency order: Namespace, CRDs, RBAC, config, Services, workloads,
                                   monitoring, webhook configurations (stable within a step)
rewrite_images(objects, registry)  quay.io/metallb/*, quay.io/frrouting/* and kube-rbac-proxy -> REGISTRY/<name>:<tag>
move_images(objects)               images the releases name at a registry that no longer serves them -> their new home
drop_ca_bundles(objects)           without webhook caBundles (MetalLB's controller injects the real ones)
typed_secrets(objects)             empty Secrets get their default `type: Opaque` spelled out
prepare(data, registry=None)       parse + validate + order + rewrite (or move) -> Manifest
render(objects)                    YAML text, documents separated by ---
key(obj) / describe(obj)           identity tuple / "kind.group/name" as kubectl prints it
"""

import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from metallb_plugin.core import objects as k8s
from metallb_plugin.core import yamlsafe

if TYPE_CHECKING:
    from metallb_plugin.core.installation import Installation

Obj = Dict[str, Any]

MAX_BYTES = 8 * 1024 * 1024  # the biggest upstream manifest is ~150 KB
MAX_DOCUMENTS = 1000
MAX_ALIASES = 100  # upstream manifests use none
MAX_NODES = 2_000_000  # values after expanding aliases: stops "billion laughs" documents

# kind -> (API groups allowed, plural, namespaced, apply step). Only what MetalLB's manifests contain.
KINDS = {
    "Namespace": (("",), "namespaces", False, 0),
    "CustomResourceDefinition": (("apiextensions.k8s.io",), "customresourcedefinitions", False, 1),
    "ServiceAccount": (("",), "serviceaccounts", True, 2),
    "ClusterRole": (("rbac.authorization.k8s.io",), "clusterroles", False, 3),
    "Role": (("rbac.authorization.k8s.io",), "roles", True, 3),
    "ClusterRoleBinding": (("rbac.authorization.k8s.io",), "clusterrolebindings", False, 4),
    "RoleBinding": (("rbac.authorization.k8s.io",), "rolebindings", True, 4),
    "ConfigMap": (("",), "configmaps", True, 5),
    "Secret": (("",), "secrets", True, 5),
    "Service": (("",), "services", True, 6),
    "Deployment": (("apps",), "deployments", True, 7),
    "DaemonSet": (("apps",), "daemonsets", True, 7),
    "ServiceMonitor": (("monitoring.coreos.com",), "servicemonitors", True, 8),
    "PodMonitor": (("monitoring.coreos.com",), "podmonitors", True, 8),
    "ValidatingWebhookConfiguration": (("admissionregistration.k8s.io",), "validatingwebhookconfigurations", False, 9),
}
STEPS = (
    "namespace",
    "crds",
    "service accounts",
    "roles",
    "role bindings",
    "config",
    "services",
    "workloads",
    "monitoring",
    "webhooks",
)
CRD_GROUPS = ("metallb.io", "frrk8s.metallb.io")
IMAGE_PREFIXES = ("quay.io/metallb/", "quay.io/frrouting/", "gcr.io/kubebuilder/")
# Registries the releases name that stopped serving: gcr.io/kubebuilder was shut down in March 2025, so the
# kube-rbac-proxy sidecar of every Prometheus variant v0.13.5-v0.15.3 and of FRR-K8s mode v0.14.0-v0.15.3 cannot be
# pulled from there; the same images (same tags) are served at registry.k8s.io/kubebuilder.
MOVED = {"gcr.io/kubebuilder/": "registry.k8s.io/kubebuilder/"}


class ManifestError(ValueError):
    """The manifest cannot be used; the message says why in one line."""

    def __init__(self, message: str) -> None:
        from metallb_plugin.core.text import printable

        super().__init__(printable(message))  # names and values from the file are quoted: keep it one line


@dataclass
class Manifest:
    objects: List[Obj]  # ordered, images rewritten
    namespace: str
    images: Dict[str, str] = field(default_factory=dict)  # original image -> rewritten image (only the rewritten ones)

    def installation(self) -> Optional["Installation"]:
        """What the manifest installs, described like a live install (version, backend, object names)."""
        from metallb_plugin.core.installation import find_installation

        deployments = [o for o in self.objects if o["kind"] == "Deployment"]
        daemonsets = [o for o in self.objects if o["kind"] == "DaemonSet"]
        return find_installation(deployments, daemonsets, namespace=self.namespace)

    @property
    def version(self) -> Optional[str]:
        """Tag of the controller image (the MetalLB release the manifest installs), or None."""
        found = self.installation()
        return found.version if found else None

    @property
    def mode(self) -> str:
        """native | frr | frr-k8s (unknown without a speaker)."""
        found = self.installation()
        return found.backend if found else "unknown"


# ------------------------------------------------------------------------------------------- digests


def sha256_hex(data: bytes) -> str:
    import hashlib  # deferred: costs 5 ms at start-up, which --help must not pay

    return hashlib.sha256(data).hexdigest()


def normalize_digest(text: Optional[str]) -> str:
    """A sha256 as 64 lower-case hex digits (an optional "sha256:" prefix is accepted); ManifestError if not."""
    value = (text or "").strip().lower()
    if value.startswith("sha256:"):
        value = value[len("sha256:") :]
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ManifestError(f"'{text}' is not a sha256 digest (64 hexadecimal digits)")
    return value


def verify_sha256(data: bytes, expected: str, source: str = "the manifest") -> str:
    """The actual digest; ManifestError naming both digests when it is not the expected one."""
    actual = sha256_hex(data)
    expected = normalize_digest(expected)
    if actual != expected:
        raise ManifestError(
            f"checksum mismatch for {source}: expected sha256 {expected}, got {actual}; nothing was applied"
        )
    return actual


# ------------------------------------------------------------------------------------------- parsing


def _documents(text: str, source: str) -> List[Any]:
    """The documents, once their depth and aliases are known to be bounded (core/yamlsafe)."""
    try:
        yamlsafe.check(text, max_aliases=MAX_ALIASES)
    except yamlsafe.TooManyAliases:
        raise ManifestError(
            f"{source} uses more than {MAX_ALIASES} YAML aliases; refusing it (MetalLB's manifests use none)"
        ) from None
    except yamlsafe.TooDeep as exc:
        raise ManifestError(f"{source} is {exc}") from None
    return yamlsafe.load_all(text)


def _count_nodes(value: Any, budget: int) -> int:
    """Walk a loaded document as if aliases were expanded; ManifestError once it exceeds the budget."""
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget:
            raise ManifestError(f"the manifest expands to more than {budget} values (a YAML alias bomb?); refusing it")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return seen


def parse(data: Union[bytes, str], source: str = "the manifest", lists: bool = False) -> List[Obj]:
    """The objects of a multi-document YAML text (bytes or str); empty documents are skipped. lists: accept
    `kind: List` documents (kept whole: their items are the caller's to read); a text without objects is then
    [] rather than an error."""
    import yaml

    size = len(data)
    if size > MAX_BYTES:
        raise ManifestError(f"{source} is {size} bytes, more than the {MAX_BYTES} a MetalLB manifest can be")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ManifestError(f"{source} is not UTF-8 text") from None
    objects: List[Obj] = []
    budget = MAX_NODES
    try:
        for number, doc in enumerate(_documents(data, source), start=1):
            if number > MAX_DOCUMENTS:
                raise ManifestError(f"{source} has more than {MAX_DOCUMENTS} documents")
            if doc is None:
                continue
            budget -= _count_nodes(doc, budget)
            if not isinstance(doc, dict):
                raise ManifestError(
                    f"document {number} of {source} is not a Kubernetes object (a {type(doc).__name__})"
                )
            if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
                if lists:
                    objects.append(doc)
                    continue
                raise ManifestError(f"document {number} of {source} is a List: give the objects one per document")
            meta = doc.get("metadata")
            if not doc.get("apiVersion") or not doc.get("kind") or not isinstance(meta, dict) or not meta.get("name"):
                raise ManifestError(f"document {number} of {source} lacks apiVersion, kind or metadata.name")
            objects.append(doc)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "parse error"
        raise ManifestError(f"{source} is not valid YAML: {problem}{where}") from None
    if not objects and not lists:
        raise ManifestError(f"{source} contains no objects")
    return objects


# ------------------------------------------------------------------------------------------- validation


def group_of(obj: Mapping[str, Any]) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def key(obj: Mapping[str, Any]) -> Tuple[str, Any, str, Any]:
    """Identity of an object: (group, kind, namespace, name)."""
    meta = obj.get("metadata") or {}
    return group_of(obj), obj.get("kind"), meta.get("namespace") or "", meta.get("name")


def describe(obj: Mapping[str, Any]) -> str:
    """kubectl's way of naming an object: deployment.apps/controller, namespace/metallb-system."""
    group = group_of(obj)
    kind = str(obj.get("kind", "")).lower()
    return f"{kind}{'.' + group if group else ''}/{obj['metadata']['name']}"


def validate(objects: List[Obj]) -> str:
    """The namespace the manifest installs into; ManifestError for anything a MetalLB manifest does not contain."""
    namespaces = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    if len(namespaces) != 1:
        raise ManifestError(f"a MetalLB manifest creates exactly one Namespace; this one creates {len(namespaces)}")
    namespace = str(namespaces[0])
    seen = set()
    for obj in objects:
        kind, meta = obj["kind"], obj["metadata"]
        spec = KINDS.get(kind)
        if spec is None:
            raise ManifestError(
                f"unexpected {kind} {meta['name']}: a MetalLB manifest contains only {', '.join(sorted(KINDS))}"
            )
        groups, _, namespaced, _ = spec
        if group_of(obj) not in groups:
            raise ManifestError(f"unexpected apiVersion {obj['apiVersion']} for {kind} {meta['name']}")
        if namespaced:
            if meta.get("namespace", namespace) != namespace:
                raise ManifestError(
                    f"{kind} {meta['name']} is in namespace {meta.get('namespace')}; every "
                    f"namespaced object of the manifest must be in {namespace}"
                )
        elif meta.get("namespace"):
            raise ManifestError(f"{kind} {meta['name']} is cluster-scoped but has a namespace")
        if kind == "CustomResourceDefinition":
            group = (obj.get("spec") or {}).get("group")
            if group not in CRD_GROUPS:
                raise ManifestError(
                    f"CustomResourceDefinition {meta['name']} is for group {group}, "
                    f"not a MetalLB group ({', '.join(CRD_GROUPS)})"
                )
        if kind == "ValidatingWebhookConfiguration":
            for hook in obj.get("webhooks") or []:
                service = (hook.get("clientConfig") or {}).get("service") or {}
                if service and service.get("namespace") != namespace:
                    raise ManifestError(f"webhook {hook.get('name')} calls a Service outside {namespace}")
        ident = key(obj)
        if ident in seen:
            raise ManifestError(f"{kind} {meta['name']} appears twice in the manifest")
        seen.add(ident)
    return namespace


def step(obj: Mapping[str, Any]) -> int:
    return int(KINDS[obj["kind"]][3])


def order(objects: List[Obj]) -> List[Obj]:
    """Objects in dependency order (stable: the manifest's order within a step)."""
    return sorted(objects, key=step)


def with_namespace(objects: List[Obj], namespace: str) -> List[Obj]:
    """Copies with metadata.namespace set on every namespaced object (server-side apply needs it in the path)."""
    result = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        if KINDS[obj["kind"]][2]:
            obj["metadata"]["namespace"] = namespace
        result.append(obj)
    return result


# ------------------------------------------------------------------------------------------- images


def rewrite_image(image: str, registry: str) -> str:
    """quay.io/metallb/controller:v0.16.1 -> REGISTRY/controller:v0.16.1; other images unchanged."""
    registry = registry.rstrip("/")
    for prefix in IMAGE_PREFIXES:
        if image.startswith(prefix):
            return f"{registry}/{image[len(prefix) :].rsplit('/', 1)[-1]}"
    return image


def validate_registry(registry: Optional[str]) -> str:
    """HOST[:PORT][/PATH] without scheme, tag or digest; ManifestError otherwise."""
    value = (registry or "").strip().rstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*", value):
        raise ManifestError(
            f"--image-registry '{registry}' is not a registry like registry.example.com/mirror "
            "(host[:port][/path], no scheme, tag or digest)"
        )
    return value


def _map_images(objects: List[Obj], change: Callable[[str], str]) -> Tuple[List[Obj], Dict[str, str]]:
    """Copies of objects with every container image passed through change; {old: new} of what changed."""
    changed: Dict[str, str] = {}
    result: List[Obj] = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        spec = k8s.pod_spec(obj)
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            image = container.get("image")
            if image:
                new = change(image)
                if new != image:
                    changed[image] = new
                    container["image"] = new
        result.append(obj)
    return result, changed


def rewrite_images(objects: List[Obj], registry: str) -> Tuple[List[Obj], Dict[str, str]]:
    """Copies of objects with MetalLB's, FRR's and kube-rbac-proxy's images pulled from registry; {old: new}."""
    return _map_images(objects, lambda image: rewrite_image(image, registry))


def move_image(image: str) -> str:
    """An image at a registry that stopped serving it -> the same image where it is served now."""
    for old, new in MOVED.items():
        if image.startswith(old):
            return new + image[len(old) :]
    return image


def move_images(objects: List[Obj]) -> Tuple[List[Obj], Dict[str, str]]:
    return _map_images(objects, move_image)


# ------------------------------------------------------------------------------------------- webhooks


def drop_ca_bundles(objects: List[Obj]) -> List[Obj]:
    """Copies without the caBundle of webhook client configs (validating webhooks, CRD conversion).

    MetalLB's controller generates the webhook certificate and writes the real caBundle into these objects; some
    releases (e.g. v0.14.9) ship a placeholder there. Applying it would undo the controller's work on every run and
    make server-side apply report a conflict with the controller's field manager.
    """
    result = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        configs = []
        if obj["kind"] == "ValidatingWebhookConfiguration":
            configs = [hook.get("clientConfig") for hook in obj.get("webhooks") or []]
        elif obj["kind"] == "CustomResourceDefinition":
            webhook = ((obj.get("spec") or {}).get("conversion") or {}).get("webhook") or {}
            configs = [webhook.get("clientConfig")]
        for config in configs:
            if isinstance(config, dict):
                config.pop("caBundle", None)
        result.append(obj)
    return result


def typed_secrets(objects: List[Obj]) -> List[Obj]:
    """Copies where a Secret without a type says `type: Opaque` (the server's default).

    The webhook certificate Secrets ship empty (the controller fills them). Server-side apply of an object that sets
    no field leaves the applier owning nothing, so every later apply rewrites the object's managedFields: re-running
    install would never be a no-op. Spelling out the default gives kubectl-metallb one field to own.
    """
    result = []
    for obj in objects:
        if obj["kind"] == "Secret" and "type" not in obj and "data" not in obj and "stringData" not in obj:
            obj = {**copy.deepcopy(obj), "type": "Opaque"}
        result.append(obj)
    return result


# ------------------------------------------------------------------------------------------- all together


def prepare(data: Union[bytes, str], registry: Optional[str] = None, source: str = "the manifest") -> Manifest:
    """Parse, validate, order, drop placeholder caBundles, type empty Secrets, rewrite images to the registry (else
    move those whose registry stopped serving them)."""
    objects = parse(data, source)
    namespace = validate(objects)
    objects = typed_secrets(drop_ca_bundles(with_namespace(order(objects), namespace)))
    if registry:
        objects, images = rewrite_images(objects, validate_registry(registry))
    else:
        objects, images = move_images(objects)
    return Manifest(objects, namespace, images)


def render(objects: List[Obj]) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", None) if yamlsafe.USE_LIBYAML else None
    return str(
        yaml.dump_all(
            objects, Dumper=dumper or yaml.SafeDumper, sort_keys=False, default_flow_style=False, explicit_start=True
        )
    )
