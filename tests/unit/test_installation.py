"""Finding an existing MetalLB install from raw workload dicts: manifest, Helm and operator layouts."""

import pytest

from metallb_plugin.core.installation import (
    daemonset_ready,
    deployment_ready,
    find_installation,
    find_installations,
    find_operator,
    image_tag,
    why_not_ready,
)


def workload(kind, name, namespace, labels, containers, volumes=None, owners=None):
    meta = {"name": name, "namespace": namespace, "labels": labels}
    if owners:
        meta["ownerReferences"] = owners
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": meta,
        "spec": {"template": {"spec": {"containers": containers, "volumes": volumes or []}}},
    }


def container(name, image, env=None, args=None):
    c = {"name": name, "image": image, "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}
    if args:
        c["args"] = args
    return c


def manifest_install(tag="v0.16.1", ns="metallb-system", speaker_env=None, extra=(), webhook_secret=None):
    controller = workload(
        "Deployment",
        "controller",
        ns,
        {"app": "metallb", "component": "controller"},
        [container("controller", f"quay.io/metallb/controller:{tag}", {"METALLB_ML_SECRET_NAME": "memberlist"})],
        [{"name": "cert", "secret": {"secretName": webhook_secret}}] if webhook_secret else [],
    )
    speaker = workload(
        "DaemonSet",
        "speaker",
        ns,
        {"app": "metallb", "component": "speaker"},
        [container("speaker", f"quay.io/metallb/speaker:{tag}", speaker_env), *extra],
    )
    return [controller], [speaker]


def helm_install(release="metallb", ns="metallb", tag="v0.15.3", frr=True):
    labels = {
        "app.kubernetes.io/name": "metallb",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/managed-by": "Helm",
    }
    controller = workload(
        "Deployment",
        f"{release}-controller",
        ns,
        {**labels, "app.kubernetes.io/component": "controller"},
        [
            container(
                "controller", f"quay.io/metallb/controller:{tag}", {"METALLB_ML_SECRET_NAME": f"{release}-memberlist"}
            )
        ],
    )
    speaker_containers = [container("speaker", f"quay.io/metallb/speaker:{tag}")]
    if frr:
        speaker_containers.append(container("frr", "quay.io/frrouting/frr:9.1.0"))
    speaker = workload(
        "DaemonSet", f"{release}-speaker", ns, {**labels, "app.kubernetes.io/component": "speaker"}, speaker_containers
    )
    return [controller], [speaker]


def test_nothing_installed():
    assert find_installations([], []) == []
    assert find_installation([], [], namespace="metallb-system") is None
    unrelated = workload("Deployment", "controller", "x", {"app": "other", "component": "controller"}, [])
    assert find_installation([unrelated], []) is None


def test_manifest_native_install():
    found = find_installation(*manifest_install(), namespace="metallb-system")
    assert found.namespace == "metallb-system"
    assert found.version == "v0.16.1"
    assert (found.backend, found.managed_by) == ("native", "manifest")
    assert (found.controller, found.speaker) == ("controller", "speaker")
    assert (found.webhook_service, found.webhook_secret) == ("metallb-webhook-service", "metallb-webhook-cert")
    assert found.webhook_configuration == "metallb-webhook-configuration"
    assert found.memberlist_secret == "memberlist"
    assert found.helm_release is None and found.operator is None
    assert found.to_dict()["version"] == "v0.16.1"


def test_old_release_uses_old_webhook_names():
    found = find_installation(*manifest_install(tag="v0.14.3"))
    assert (found.webhook_service, found.webhook_secret) == ("webhook-service", "webhook-server-cert")
    assert find_installation(*manifest_install(tag="v0.14.4")).webhook_service == "metallb-webhook-service"


def test_webhook_secret_read_from_the_controller_volume():
    found = find_installation(*manifest_install(tag="v0.14.3", webhook_secret="custom-cert"))
    assert found.webhook_secret == "custom-cert"


def test_webhook_service_from_controller_flag():
    deployments, daemonsets = manifest_install()
    deployments[0]["spec"]["template"]["spec"]["containers"][0]["args"] = ["--cert-service-name", "my-svc"]
    assert find_installation(deployments, daemonsets).webhook_service == "my-svc"


@pytest.mark.parametrize(
    "env, extra, daemonsets, backend",
    [
        ({"METALLB_BGP_TYPE": "frr"}, [], [], "frr"),
        ({"METALLB_BGP_TYPE": "frr-k8s"}, [], [], "frr-k8s"),
        ({"METALLB_BGP_TYPE": "frr-k8s-external"}, [], [], "frr-k8s"),
        (None, [container("frr", "quay.io/frrouting/frr:10.5.3")], [], "frr"),
        (None, [], [workload("DaemonSet", "frr-k8s-daemon", "metallb-system", {}, [])], "frr-k8s"),
        (None, [], [], "native"),
    ],
)
def test_backend(env, extra, daemonsets, backend):
    deployments, speakers = manifest_install(speaker_env=env, extra=extra)
    assert find_installation(deployments, speakers + daemonsets).backend == backend


def test_frr_k8s_in_its_own_namespace():
    deployments, speakers = manifest_install()
    frr = workload("DaemonSet", "frr-k8s", "frr-k8s-system", {"app.kubernetes.io/name": "frr-k8s"}, [])
    found = find_installation(deployments, speakers + [frr])
    assert (found.backend, found.frr_k8s) == ("frr-k8s", "frr-k8s-system/frr-k8s")


def test_helm_install():
    found = find_installation(*helm_install())
    assert (found.namespace, found.managed_by, found.helm_release) == ("metallb", "helm", "metallb")
    assert (found.controller, found.speaker) == ("metallb-controller", "metallb-speaker")
    assert (found.version, found.backend) == ("v0.15.3", "frr")
    assert found.memberlist_secret == "metallb-memberlist"


def test_operator_install_by_owner_reference():
    deployments, daemonsets = manifest_install()
    owner = [{"apiVersion": "metallb.io/v1beta1", "kind": "MetalLB", "name": "metallb"}]
    for obj in deployments + daemonsets:
        obj["metadata"]["ownerReferences"] = owner
    operator = workload(
        "Deployment",
        "metallb-operator-controller-manager",
        "metallb-system",
        {"control-plane": "controller-manager"},
        [],
    )
    found = find_installation(deployments + [operator], daemonsets)
    assert found.managed_by == "operator"
    assert found.operator == "metallb-system/metallb-operator-controller-manager"


def test_operator_resource_without_workloads_yet():
    cr = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "MetalLB",
        "metadata": {"name": "metallb", "namespace": "metallb-system"},
    }
    found = find_installation([], [], [cr])
    assert (found.namespace, found.managed_by, found.version, found.backend) == (
        "metallb-system",
        "operator",
        None,
        "unknown",
    )
    assert found.controller is None


def test_find_operator_alone():
    operator = workload("Deployment", "metallb-operator-controller-manager", "operators", {}, [])
    assert find_installations([operator], []) == []
    assert find_operator([operator]) == "operators/metallb-operator-controller-manager"
    assert find_operator([]) is None


def test_two_installs_prefers_the_asked_namespace():
    a = manifest_install(ns="metallb-system")
    b = helm_install(ns="lb")
    deployments, daemonsets = a[0] + b[0], a[1] + b[1]
    assert [i.namespace for i in find_installations(deployments, daemonsets)] == ["lb", "metallb-system"]
    assert find_installation(deployments, daemonsets, namespace="metallb-system").managed_by == "manifest"
    assert find_installation(deployments, daemonsets, namespace="nowhere").namespace == "lb"


def test_only_a_speaker_left():
    _, daemonsets = manifest_install(tag="v0.14.9")
    found = find_installation([], daemonsets)
    assert (found.controller, found.speaker, found.version) == (None, "speaker", "v0.14.9")


def test_duplicate_components_are_noted():
    deployments, daemonsets = manifest_install()
    twin = workload(
        "Deployment",
        "controller-2",
        "metallb-system",
        {"app": "metallb", "component": "controller"},
        [container("controller", "quay.io/metallb/controller:v0.16.1")],
    )
    found = find_installation(deployments + [twin], daemonsets)
    assert found.controller == "controller"
    assert found.notes == ("more than one MetalLB controller Deployment in this namespace: controller, controller-2",)


@pytest.mark.parametrize(
    "image, tag",
    [
        ("quay.io/metallb/controller:v0.16.1", "v0.16.1"),
        ("registry.local:5000/metallb/controller:v0.14.9", "v0.14.9"),
        ("registry.local:5000/metallb/controller", None),
        ("quay.io/metallb/controller:v0.16.1@sha256:" + "a" * 64, "v0.16.1"),
        ("quay.io/metallb/controller@sha256:" + "a" * 64, None),
        ("controller:main", "main"),
        ("", None),
        (None, None),
    ],
)
def test_image_tag(image, tag):
    assert image_tag(image) == tag


# ------------------------------------------------------------------------------------------- readiness


def _with_status(kind, status, generation=1, replicas=None):
    obj = {"kind": kind, "metadata": {"name": "x", "generation": generation}, "spec": {}}
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    if status is not None:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(
    "status, generation, replicas, expected",
    [
        (None, 1, None, (False, "0/1 available (its controller has not seen the current spec yet)")),
        ({"observedGeneration": 1, "availableReplicas": 1, "updatedReplicas": 1}, 1, None, (True, "1/1 available")),
        (
            {"observedGeneration": 1, "availableReplicas": 1, "updatedReplicas": 1},
            2,
            None,
            (False, "1/1 available (its controller has not seen the current spec yet)"),
        ),
        ({"observedGeneration": 3, "availableReplicas": 1, "updatedReplicas": 2}, 3, 2, (False, "1/2 available")),
        ({"observedGeneration": 3, "availableReplicas": 2, "updatedReplicas": 1}, 3, 2, (False, "2/2 available")),
        # an upgrade: the new Pod is available, the old one still terminating (kubectl rollout status waits too)
        (
            {"observedGeneration": 2, "replicas": 2, "availableReplicas": 1, "updatedReplicas": 1},
            2,
            1,
            (False, "1/1 available (1 old replica(s) pending termination)"),
        ),
        (
            {"observedGeneration": 2, "replicas": 1, "availableReplicas": 1, "updatedReplicas": 1},
            2,
            1,
            (True, "1/1 available"),
        ),
    ],
)
def test_deployment_ready(status, generation, replicas, expected):
    assert deployment_ready(_with_status("Deployment", status, generation, replicas)) == expected


@pytest.mark.parametrize(
    "status, expected",
    [
        (None, (False, "ready on 0/0 nodes (its controller has not seen the current spec yet)")),
        (
            {"observedGeneration": 1, "desiredNumberScheduled": 0},
            (False, "ready on 0/0 nodes (no node is eligible to run it)"),
        ),
        (
            {"observedGeneration": 1, "desiredNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3},
            (False, "ready on 2/3 nodes"),
        ),
        (
            {"observedGeneration": 1, "desiredNumberScheduled": 3, "numberReady": 3, "updatedNumberScheduled": 3},
            (True, "ready on 3/3 nodes"),
        ),
    ],
)
def test_daemonset_ready(status, expected):
    assert daemonset_ready(_with_status("DaemonSet", status)) == expected


def _pod(name, labels, phase="Pending", waiting=None, ready=False):
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if waiting:
        status["containerStatuses"] = [{"name": "c", "state": {"waiting": waiting}}]
    return {"metadata": {"name": name, "labels": labels}, "status": status}


def _event(kind, name, reason, message, type_="Warning"):
    return {"involvedObject": {"kind": kind, "name": name}, "reason": reason, "message": message, "type": type_}


CONTROLLER = {
    "kind": "Deployment",
    "metadata": {"name": "controller"},
    "spec": {"selector": {"matchLabels": {"app": "metallb", "component": "controller"}}},
}
SPEAKER = {
    "kind": "DaemonSet",
    "metadata": {"name": "speaker"},
    "spec": {"selector": {"matchLabels": {"app": "metallb", "component": "speaker"}}},
}
LABELS = {"app": "metallb", "component": "controller", "pod-template-hash": "abc"}


def test_why_not_ready_without_pods():
    assert why_not_ready(CONTROLLER, [], []) == "no pods were created"
    other = _pod("web-1", {"app": "web"})
    assert (
        why_not_ready(CONTROLLER, [other], [_event("Pod", "web-1", "FailedScheduling", "x")]) == "no pods were created"
    )


def test_why_not_ready_pod_security_violation():
    psa = _event(
        "DaemonSet",
        "speaker",
        "FailedCreate",
        'Error creating: pods "speaker-x" is forbidden: violates PodSecurity "baseline:latest": host '
        "namespaces (hostNetwork=true)",
    )
    rs = _event("ReplicaSet", "controller-7d4b9", "FailedCreate", "quota exceeded")
    normal = _event("DaemonSet", "speaker", "SuccessfulCreate", "created", type_="Normal")
    assert why_not_ready(SPEAKER, [], [psa, normal, psa]) == (
        'no pods were created: FailedCreate: Error creating: pods "speaker-x" is forbidden: violates PodSecurity '
        '"baseline:latest": host namespaces (hostNetwork=true)'
    )
    assert why_not_ready(CONTROLLER, [], [rs]) == "no pods were created: FailedCreate: quota exceeded"


def test_why_not_ready_pending_pods_with_events_and_image_pull():
    pods = [
        _pod("controller-abc-1", LABELS),
        _pod("controller-abc-2", LABELS, waiting={"reason": "ImagePullBackOff", "message": "Back-off pulling image"}),
    ]
    events = [
        _event(
            "Pod", "controller-abc-1", "FailedScheduling", "0/3 nodes are available: 3 node(s) had untolerated taint."
        ),
        _event("Pod", "controller-abc-1", "Scheduled", "ok", type_="Normal"),
    ]
    assert why_not_ready(CONTROLLER, pods, events) == (
        "pod controller-abc-1 Pending (FailedScheduling: 0/3 nodes are available: 3 node(s) had untolerated "
        "taint.); pod controller-abc-2 Pending (ImagePullBackOff: Back-off pulling image)"
    )


def test_why_not_ready_running_but_not_ready():
    running = _pod("controller-abc-1", LABELS, phase="Running")
    assert why_not_ready(CONTROLLER, [running], []) == "pods not ready: controller-abc-1 (see `kubectl logs`)"
    ready = _pod("controller-abc-1", LABELS, phase="Running", ready=True)
    assert why_not_ready(CONTROLLER, [ready], []) == "its pods run, but its controller has not reported them ready yet"
