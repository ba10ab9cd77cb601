"""Find an existing MetalLB installation in raw Deployment / DaemonSet dicts (pure: no I/O).

How MetalLB can be installed, and how each install looks:
- manifest (`kubectl apply -f metallb-native.yaml`, or this plugin): Deployment `controller` and DaemonSet `speaker`
  labelled `app=metallb,component=controller|speaker`;
- Helm chart: Deployment `<release>-controller`, DaemonSet `<release>-speaker` labelled
  `app.kubernetes.io/name=metallb,app.kubernetes.io/component=controller|speaker` (+ `app.kubernetes.io/instance`);
- metallb-operator: a `metallb-operator*` Deployment and a `MetalLB` custom resource; the controller and speaker it
  creates carry the manifest labels and an ownerReference to the `MetalLB` resource.

Typical use (one LIST per kind, all namespaces):

    deployments = client.list("/apis/apps/v1/deployments")
    daemonsets = client.list("/apis/apps/v1/daemonsets")
    metallbs = client.list("/apis/metallb.io/v1beta1/metallbs")  # only if the operator's CRD exists; else []
    found = installation.find_installation(deployments, daemonsets, metallbs, namespace=args.namespace)

The list calls may be narrowed with LABEL_SELECTORS (one list per selector) when listing everything is too costly;
the operator's own Deployment is then found through the `MetalLB` resources only.

API (stable):
    Installation        dataclass: namespace, version, backend, managed_by, controller, speaker, frr_k8s,
                        webhook_service, webhook_secret, webhook_configuration, memberlist_secret, helm_release,
                        controller_image, operator; .to_dict() for JSON output
    find_installations(deployments, daemonsets, metallbs=()) -> [Installation], one per namespace, sorted
    find_installation(deployments, daemonsets, metallbs=(), namespace=None) -> Installation or None
                        (the one in `namespace` if there is one there, else the only/first one found)
    find_operator(deployments) -> "namespace/name" of a metallb-operator Deployment, or None (the operator may
                        be installed before any MetalLB resource asks it to deploy MetalLB)
    image_tag(image)    "quay.io/metallb/controller:v0.16.1@sha256:..." -> "v0.16.1" (None without a tag)
    deployment_ready(obj) / daemonset_ready(obj) -> (ready, "1/1 available")
    why_not_ready(workload, pods, events) -> "pod controller-x Pending (FailedScheduling: ...)" and the like
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

from metallb_plugin.core import objects as k8s
from metallb_plugin.core import releases
from metallb_plugin.core.objects import Obj

MANIFEST = "manifest"
HELM = "helm"
OPERATOR = "operator"

NATIVE = "native"
FRR = "frr"
FRR_K8S = "frr-k8s"
UNKNOWN = "unknown"

LABEL_SELECTORS = ("app=metallb", "app.kubernetes.io/name=metallb")
FRR_K8S_DAEMONSET = "frr-k8s-daemon"
OPERATOR_PREFIX = "metallb-operator"


@dataclass(frozen=True)
class Installation:
    """One MetalLB installation: where it is, which release, how it was installed, and its object names."""

    namespace: str
    version: Optional[str]  # image tag of the controller ("v0.16.1"); None when the image has no tag
    backend: str  # native | frr | frr-k8s | unknown (no speaker found and nothing else tells)
    managed_by: str  # manifest | helm | operator
    controller: Optional[str] = None  # Deployment name (None: missing)
    speaker: Optional[str] = None  # DaemonSet name (None: missing)
    frr_k8s: Optional[str] = None  # "namespace/name" of the frr-k8s DaemonSet, when one runs with this install
    webhook_service: str = releases.WEBHOOK_NAMES[0]
    webhook_secret: str = releases.WEBHOOK_NAMES[1]
    webhook_configuration: str = releases.WEBHOOK_CONFIGURATION
    memberlist_secret: str = "memberlist"
    helm_release: Optional[str] = None
    controller_image: Optional[str] = None
    operator: Optional[str] = None  # "namespace/name" of the operator Deployment, for operator installs
    notes: Tuple[str, ...] = field(default_factory=tuple)  # odd findings worth telling the user (e.g. two speakers)

    def to_dict(self) -> Dict[str, Any]:
        doc = asdict(self)
        doc["notes"] = list(self.notes)
        return doc


def image_tag(image: Optional[str]) -> Optional[str]:
    """The tag of an image reference, ignoring a digest and a registry port; None when it has no tag."""
    if not image:
        return None
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _component(obj: Obj) -> Optional[str]:
    """'controller' / 'speaker' for MetalLB workloads (manifest or Helm labels), else None."""
    labels = k8s.labels(obj)
    if labels.get("app") == "metallb" and labels.get("component") in ("controller", "speaker"):
        return str(labels["component"])
    if labels.get("app.kubernetes.io/name") == "metallb":
        component = labels.get("app.kubernetes.io/component")
        if component in ("controller", "speaker"):
            return str(component)
    return None


def _is_helm(obj: Obj) -> bool:
    labels = k8s.labels(obj)
    return labels.get("app.kubernetes.io/managed-by") == "Helm" or (
        labels.get("app.kubernetes.io/name") == "metallb" and "app.kubernetes.io/instance" in labels
    )


def _owned_by_operator(obj: Obj) -> bool:
    return any(ref.get("kind") == "MetalLB" for ref in k8s.meta(obj).get("ownerReferences") or [])


def _backend(speaker: Optional[Obj], controller: Optional[Obj], frr_k8s: Optional[str]) -> str:
    for workload, name in ((speaker, "speaker"), (controller, "controller")):
        if workload:
            value = k8s.env(k8s.main_container(workload, name)).get("METALLB_BGP_TYPE")
            if value:
                return FRR_K8S if str(value).startswith("frr-k8s") else str(value)
    if speaker:
        if any(c.get("name") == "frr" for c in k8s.containers(speaker)):
            return FRR
        return FRR_K8S if frr_k8s else NATIVE
    return FRR_K8S if frr_k8s else UNKNOWN


def _webhook_names(controller: Optional[Obj], version: Optional[str]) -> Tuple[str, str]:
    service, secret = releases.webhook_names(version or "")
    if controller:
        container = k8s.main_container(controller, "controller")
        service = k8s.flag_value(k8s.argv(container), "--cert-service-name") or service
        mounted = [
            str((v.get("secret") or {}).get("secretName"))
            for v in k8s.pod_spec(controller).get("volumes") or []
            if v.get("name") == "cert" and (v.get("secret") or {}).get("secretName")
        ]
        secret = k8s.flag_value(k8s.argv(container), "--webhook-secret") or (mounted[0] if mounted else secret)
    return service, secret


def _pick(items: List[Obj], kind: str, notes: List[str]) -> Optional[Obj]:
    """The workload to report when a namespace holds several of one component (should not happen)."""
    items = sorted(items, key=lambda o: k8s.meta(o).get("name", ""))
    if len(items) > 1:
        names = ", ".join(k8s.meta(o).get("name", "") for o in items)
        notes.append(f"more than one MetalLB {kind} in this namespace: {names}")
    return items[0] if items else None


def find_installations(
    deployments: Optional[Iterable[Obj]], daemonsets: Optional[Iterable[Obj]], metallbs: Optional[Iterable[Obj]] = ()
) -> List[Installation]:
    """Every MetalLB installation in the given objects (all namespaces), one per namespace, by namespace."""
    by_ns: Dict[str, Dict[str, List[Obj]]] = {}
    for kind, objects in (("controller", deployments), ("speaker", daemonsets)):
        for obj in objects or []:
            component = _component(obj)
            if component == kind:
                by_ns.setdefault(k8s.meta(obj).get("namespace", ""), {"controller": [], "speaker": []})[kind].append(
                    obj
                )
    frr_k8s: Dict[str, str] = {}
    for obj in daemonsets or []:
        meta = k8s.meta(obj)
        if meta.get("name") == FRR_K8S_DAEMONSET or k8s.labels(obj).get("app.kubernetes.io/name") == "frr-k8s":
            frr_k8s.setdefault(meta.get("namespace", ""), f"{meta.get('namespace', '')}/{meta.get('name')}")
    operator = find_operator(deployments)
    cr_namespaces = {k8s.meta(cr).get("namespace", "") for cr in metallbs or []}
    # the operator has been asked for MetalLB but has not created its workloads (yet): still an install
    for namespace in cr_namespaces:
        by_ns.setdefault(namespace, {"controller": [], "speaker": []})

    found: List[Installation] = []
    for namespace in sorted(by_ns):
        notes: List[str] = []
        controller = _pick(by_ns[namespace]["controller"], "controller Deployment", notes)
        speaker = _pick(by_ns[namespace]["speaker"], "speaker DaemonSet", notes)
        workloads = [w for w in (controller, speaker) if w]
        if namespace in cr_namespaces or any(_owned_by_operator(w) for w in workloads):
            managed_by = OPERATOR
        elif any(_is_helm(w) for w in workloads):
            managed_by = HELM
        else:
            managed_by = MANIFEST
        image = k8s.main_container(controller, "controller").get("image") if controller else None
        if not image and speaker:
            image = k8s.main_container(speaker, "speaker").get("image")
        version = image_tag(image)
        service, secret = _webhook_names(controller, version)
        memberlist = "memberlist"
        if controller:
            memberlist = (
                k8s.env(k8s.main_container(controller, "controller")).get("METALLB_ML_SECRET_NAME") or memberlist
            )
        helm_release = None
        if managed_by == HELM:
            helm_release = next(
                (
                    k8s.labels(w).get("app.kubernetes.io/instance")
                    for w in workloads
                    if k8s.labels(w).get("app.kubernetes.io/instance")
                ),
                None,
            )
        local_frr = frr_k8s.get(namespace)
        if local_frr is None and len(frr_k8s) == 1:  # frr-k8s may run in a namespace of its own
            local_frr = next(iter(frr_k8s.values()))
        found.append(
            Installation(
                namespace=namespace,
                version=version,
                backend=_backend(speaker, controller, local_frr),
                managed_by=managed_by,
                controller=k8s.meta(controller).get("name") if controller else None,
                speaker=k8s.meta(speaker).get("name") if speaker else None,
                frr_k8s=local_frr,
                webhook_service=service,
                webhook_secret=secret,
                memberlist_secret=memberlist,
                helm_release=helm_release,
                controller_image=image,
                operator=operator if managed_by == OPERATOR else None,
                notes=tuple(notes),
            )
        )
    return found


def find_operator(deployments: Optional[Iterable[Obj]]) -> Optional[str]:
    """ "namespace/name" of the first metallb-operator Deployment (by name prefix or app.kubernetes.io/name)."""
    names = sorted(
        f"{k8s.meta(o).get('namespace', '')}/{k8s.meta(o).get('name')}"
        for o in deployments or []
        if (k8s.meta(o).get("name") or "").startswith(OPERATOR_PREFIX)
        or k8s.labels(o).get("app.kubernetes.io/name") == OPERATOR_PREFIX
    )
    return names[0] if names else None


def find_installation(
    deployments: Optional[Iterable[Obj]],
    daemonsets: Optional[Iterable[Obj]],
    metallbs: Optional[Iterable[Obj]] = (),
    namespace: Optional[str] = None,
) -> Optional[Installation]:
    """The installation in `namespace` if there is one, else the first one found anywhere; None if none."""
    found = find_installations(deployments, daemonsets, metallbs)
    if namespace is not None:
        for item in found:
            if item.namespace == namespace:
                return item
    return found[0] if found else None


# ------------------------------------------------------------------------------------------- readiness
# How far a workload or webhook Service is from serving, judged from raw objects as their controllers write them.
# Each returns (ready: bool, text): text is a short phrase such as "1/1 available" or "ready on 2/3 nodes".


def deployment_ready(obj: Obj) -> Tuple[bool, str]:
    """A Deployment is ready as `kubectl rollout status` sees it: its controller saw the current spec, every wanted
    replica is updated and available, and no replica of an older template is left (still terminating)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    available = status.get("availableReplicas", 0) or 0
    updated = status.get("updatedReplicas", 0) or 0
    if not status or status.get("observedGeneration", 0) < k8s.meta(obj).get("generation", 0):
        return False, f"{available}/{want} available (its controller has not seen the current spec yet)"
    old = (status.get("replicas", 0) or 0) - updated
    if updated >= want and old > 0:
        return False, f"{available}/{want} available ({old} old replica(s) pending termination)"
    ready = bool(available >= want and updated >= want)
    return ready, f"{available}/{want} available"


def daemonset_ready(obj: Obj) -> Tuple[bool, str]:
    """A DaemonSet is ready when it runs, updated and ready, on every node it should (and at least one)."""
    status = obj.get("status") or {}
    desired = status.get("desiredNumberScheduled", 0) or 0
    ready = status.get("numberReady", 0) or 0
    updated = status.get("updatedNumberScheduled", 0) or 0
    if not status or status.get("observedGeneration", 0) < k8s.meta(obj).get("generation", 0):
        return False, f"ready on {ready}/{desired} nodes (its controller has not seen the current spec yet)"
    if desired == 0:
        return False, "ready on 0/0 nodes (no node is eligible to run it)"
    return bool(ready >= desired and updated >= desired), f"ready on {ready}/{desired} nodes"


def why_not_ready(obj: Obj, pods: Iterable[Obj], events: Iterable[Obj]) -> str:
    """Why a Deployment or DaemonSet has no ready pods, from raw Pod and Event dicts of its namespace.

    Pending pods with their Warning events and waiting reasons (FailedScheduling, ErrImagePull, ...), pods that could
    not be created (FailedCreate events, e.g. a Pod Security violation), or plainly that no pods were created.
    """
    name = obj["metadata"]["name"]
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    mine = [
        p
        for p in pods
        if selector and all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())
    ]
    related = {name} | {p["metadata"]["name"] for p in mine}
    own_events = [
        e
        for e in events
        if (e.get("involvedObject") or {}).get("name") in related
        or (
            (e.get("involvedObject") or {}).get("kind") == "ReplicaSet"
            and (e.get("involvedObject") or {}).get("name", "").startswith(name + "-")
        )
    ]
    warnings = [e for e in own_events if e.get("type") == "Warning"]

    def event_text(e: Obj) -> str:
        return f"{e.get('reason')}: {(e.get('message') or '').strip()}"

    if not mine:
        failed = [event_text(e) for e in warnings if e.get("reason") in ("FailedCreate", "FailedScheduling")]
        if failed:
            return "no pods were created: " + " / ".join(dict.fromkeys(failed))
        return "no pods were created"
    pending = [p for p in mine if (p.get("status") or {}).get("phase") == "Pending"]
    if pending:
        details = []
        for pod in pending:
            pname = pod["metadata"]["name"]
            reasons = [event_text(e) for e in warnings if (e.get("involvedObject") or {}).get("name") == pname]
            waiting = [
                ((c.get("state") or {}).get("waiting") or {})
                for c in (pod.get("status") or {}).get("containerStatuses") or []
            ]
            reasons += [f"{w.get('reason')}: {w.get('message', '')}".strip(": ") for w in waiting if w.get("reason")]
            details.append(f"pod {pname} Pending" + (f" ({' / '.join(dict.fromkeys(reasons))})" if reasons else ""))
        return "; ".join(details)
    not_ready = [
        p["metadata"]["name"]
        for p in mine
        if not any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or []
        )
    ]
    if not_ready:
        return f"pods not ready: {', '.join(not_ready)} (see `kubectl logs`)"
    return "its pods run, but its controller has not reported them ready yet"
