"""The pure evaluation behind `kubectl metallb status` on hand-built object sets."""

import copy
import gc
import weakref
from datetime import datetime, timedelta, timezone

import pytest

from metallb_plugin.core import (
    allocation,
    election,
    endpoints,
    events,
    explain,
    objects,
    service_status,
    status,
    workloads,
)
from metallb_plugin.core.checks import FAIL, OK, SKIP, WARN
from metallb_plugin.core.snapshot import Unreadable
from metallb_plugin.core.view import METALLB_KINDS, Facts, View, locate

NS = "metallb-system"
NOW = datetime(2026, 5, 30, 12, 0, 0, tzinfo=timezone.utc)
ALL_KINDS = METALLB_KINDS
MANIFEST = {
    "controller": {"app": "metallb", "component": "controller"},
    "speaker": {"app": "metallb", "component": "speaker"},
}
HELM = {
    c: {
        "app.kubernetes.io/name": "metallb",
        "app.kubernetes.io/instance": "lb",
        "app.kubernetes.io/component": c,
        "app.kubernetes.io/managed-by": "Helm",
    }
    for c in ("controller", "speaker")
}


def ts(minutes_ago=0):
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------- builders


def deployment(name="controller", ns=NS, labels=None, version="v0.16.1", desired=1, ready=1, args=(), env=None):
    labels = labels or MANIFEST["controller"]
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "generation": 1},
        "spec": {
            "replicas": desired,
            "selector": {"matchLabels": labels},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "controller",
                            "image": f"quay.io/metallb/controller:{version}",
                            "args": list(args),
                            "env": [
                                {"name": k, "value": v}
                                for k, v in (env or {"METALLB_ML_SECRET_NAME": "memberlist"}).items()
                            ],
                        }
                    ]
                }
            },
        },
        "status": {
            "observedGeneration": 1,
            "replicas": desired,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "updatedReplicas": desired,
        },
    }


def daemonset(
    name="speaker",
    ns=NS,
    labels=None,
    version="v0.16.1",
    desired=2,
    ready=2,
    updated=None,
    memberlist="memberlist",
    args=(),
    env=None,
    containers=None,
):
    labels = labels or MANIFEST["speaker"]
    volumes = [{"name": "memberlist", "secret": {"secretName": memberlist}}] if memberlist else []
    bind = [{"name": "METALLB_ML_BIND_ADDR", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    main = {
        "name": "speaker",
        "image": f"quay.io/metallb/speaker:{version}",
        "args": list(args),
        "env": (bind if memberlist else []) + [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    return {
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "generation": 1},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "spec": {
                    "hostNetwork": True,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [
                        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "containers": [main] + list(containers or []),
                    "volumes": volumes,
                }
            },
        },
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": desired,
            "numberReady": ready,
            "updatedNumberScheduled": desired if updated is None else updated,
            "numberAvailable": ready,
        },
    }


def node(name, labels=None, taints=None, conditions=None):
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux", **(labels or {})}},
        "spec": {"taints": taints or []},
        "status": {"conditions": conditions or []},
    }


def pod(
    name,
    node_name,
    labels=None,
    ready=True,
    waiting=None,
    restarts=0,
    finished=None,
    ns=NS,
    scheduled=True,
    scheduled_message="",
):
    state = {"waiting": waiting} if waiting else {"running": {}}
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    if not scheduled:
        conditions.append(
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": scheduled_message}
        )
    container = {"name": "speaker", "ready": ready, "restartCount": restarts, "state": state}
    if finished:
        container["lastState"] = {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": finished}}
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or MANIFEST["speaker"]},
        "spec": {"nodeName": node_name},
        "status": {
            "phase": "Running" if ready else "Pending",
            "conditions": conditions,
            "containerStatuses": [container],
        },
    }


def service(name, ns="apps", ip=None, pool=None, labels=None, annotations=None, **spec):
    annotations = dict(annotations or {})
    if pool:
        annotations["metallb.io/ip-allocated-from-pool"] = pool
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}, "annotations": annotations},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, **spec},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}] if ip else []}},
    }


def event(kind, ns, name, reason, message, type_="Normal", minutes_ago=0):
    return {
        "kind": "Event",
        "involvedObject": {"kind": kind, "namespace": ns, "name": name},
        "reason": reason,
        "message": message,
        "type": type_,
        "lastTimestamp": ts(minutes_ago),
        "metadata": {"name": f"{name}.{reason}", "namespace": ns},
    }


def pool(name="prod", addresses=("192.168.10.0/28",), ns=NS, status=None, labels=None, **spec):
    obj = {
        "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"addresses": list(addresses), **spec},
    }
    if status is not None:
        obj["status"] = status
    return obj


def l2(name="l2", ns=NS, **spec):
    return {"kind": "L2Advertisement", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def bgp_adv(name="bgp", ns=NS, **spec):
    return {"kind": "BGPAdvertisement", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def peer(name="router", ns=NS):
    return {
        "kind": "BGPPeer",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "10.0.0.1"},
    }


def endpoint_slice(svc_name, nodes, ns="apps", ready=True):
    """The EndpointSlice as status keeps it (reduced as it is read)."""
    return endpoints.reduce(endpoint_slice_object(svc_name, nodes, ns, ready))


def endpoint_slice_object(svc_name, nodes, ns="apps", ready=True):
    return {
        "metadata": {"name": f"{svc_name}-x", "namespace": ns, "labels": {"kubernetes.io/service-name": svc_name}},
        "endpoints": [
            {"addresses": [f"10.244.{i}.1"], "nodeName": n, "conditions": {"ready": ready}} for i, n in enumerate(nodes)
        ],
    }


def l2_status(svc_name, node_name, ns="apps", name=None):
    return {
        "kind": "ServiceL2Status",
        "metadata": {"name": name or f"l2-{svc_name}-{node_name}", "namespace": NS},
        "status": {"node": node_name, "serviceName": svc_name, "serviceNamespace": ns},
    }


def config_state(name, result, summary=""):
    return {
        "kind": "ConfigurationState",
        "metadata": {"name": name, "namespace": NS},
        "status": {"result": result, "errorSummary": summary},
    }


def webhook_configuration(ca=True, ns=NS, service_name="metallb-webhook-service"):
    return {
        "metadata": {"name": "metallb-webhook-configuration"},
        "webhooks": [
            {
                "name": f"{k}validationwebhook.metallb.io",
                "clientConfig": {"caBundle": "Q0EK" if ca else "", "service": {"namespace": ns, "name": service_name}},
            }
            for k in ("ipaddresspool", "l2advertisement")
        ],
    }


def healthy(
    version="v0.16.1", labels=MANIFEST, ns=NS, names=("controller", "speaker"), webhook=None, memberlist="memberlist"
):
    """A MetalLB that is doing its job: everything ready, one pool announced in L2, one Service announced."""
    webhook_service, webhook_secret = webhook or ("metallb-webhook-service", "metallb-webhook-cert")
    web = service("web", ip="192.168.10.1", pool="prod")
    objects = {
        "deployments": [
            deployment(names[0], ns, labels["controller"], version, env={"METALLB_ML_SECRET_NAME": memberlist})
        ],
        "daemonsets": [daemonset(names[1], ns, labels["speaker"], version, memberlist=memberlist)],
        "pods": [],
        "events": [],
        "configmaps": [],
        "services": [
            web,
            {"kind": "Service", "metadata": {"name": webhook_service, "namespace": ns}, "spec": {"type": "ClusterIP"}},
        ],
        "serviceEvents": [
            event("Service", "apps", "web", "IPAllocated", 'Assigned IP ["192.168.10.1"]', minutes_ago=5)
        ],
        "endpointslices": [endpoint_slice("web", ["n1"]), endpoint_slice(webhook_service, ["n1"], ns=ns)],
        "nodes": [node("n1"), node("n2")],
        "namespaces": [{"metadata": {"name": "apps", "labels": {"team": "a"}}}],
        "validatingwebhookconfigurations": [webhook_configuration(ns=ns, service_name=webhook_service)],
        "secrets": [
            {"name": memberlist, "keys": ["secretkey"]},
            {"name": webhook_secret, "keys": ["ca.crt", "tls.crt"]},
        ],
        "ipaddresspools": [pool(ns=ns)],
        "l2advertisements": [l2(ns=ns)],
        "bgpadvertisements": [],
        "bgppeers": [],
        "configurationstates": [config_state("controller", "Valid"), config_state("speaker-n1", "Valid")],
        "servicel2statuses": [l2_status("web", "n1")],
        "servicebgpstatuses": [],
    }
    for item in objects["configurationstates"] + objects["servicel2statuses"]:
        item["metadata"]["namespace"] = ns
    facts = Facts(namespace=NS, objects=objects, metallb_served=frozenset(ALL_KINDS), now=NOW)
    return locate(facts)


def evaluate(facts):
    return status.evaluate(locate(facts))


def outcome(report, check_id):
    return next(o for o in report.outcomes if o.check.id == check_id)


def result(report, check_id):
    return outcome(report, check_id).result


def failed(report):
    return [o.check.id for o in report.outcomes if o.result.status == FAIL]


def warned(report):
    return [o.check.id for o in report.outcomes if o.result.status == WARN]


def row(report, name):
    return next(s for s in report.services if s.name == name)


# --------------------------------------------------------------------------------------------- overview


def test_healthy_manifest_install():
    report = evaluate(healthy())
    assert report.healthy and report.verdict == "healthy"
    assert failed(report) == [] and warned(report) == []
    assert report.summary() == "MetalLB is healthy"
    assert result(report, "install.found").message == "MetalLB v0.16.1 in metallb-system, installed with the manifest"
    assert (
        result(report, "components.speaker").message == "speaker DaemonSet speaker: ready on 2/2 nodes, 2/2 up to date"
    )
    web = row(report, "web")
    assert (web.state, web.ips, web.pool, [a.node for a in web.announced_by]) == (
        "assigned",
        ("192.168.10.1",),
        "prod",
        ["n1"],
    )
    doc = report.to_document()
    assert set(doc) == {
        "namespace",
        "installation",
        "verdict",
        "summary",
        "components",
        "configuration",
        "services",
        "bgp",
        "checks",
        "problems",
    }
    assert doc["components"]["speaker"]["nodesWithoutReadyPod"] == []
    assert doc["services"][0]["announcedBy"] == [{"node": "n1", "protocol": "layer2", "source": "ServiceL2Status"}]
    assert doc["checks"]["success"] is True and doc["problems"] == []


def test_the_report_keeps_nothing_of_the_snapshot_it_judged():
    """status prints the report after the objects read are freed: the report must not hold them."""
    facts = healthy()
    report = status.evaluate(facts)
    read = weakref.ref(facts)
    del facts
    gc.collect()  # the View and the analysis made of it point at each other
    assert read() is None
    assert report.to_document()["components"]["speaker"]["nodesWithoutReadyPod"] == []


def test_helm_install_in_its_own_namespace():
    facts = healthy(
        labels=HELM,
        ns="metallb",
        names=("lb-metallb-controller", "lb-metallb-speaker"),
        memberlist="lb-metallb-memberlist",
    )
    report = evaluate(facts)
    assert facts.namespace == "metallb"
    assert report.install.managed_by == "helm" and report.install.helm_release == "lb"
    assert result(report, "install.found").message == ("MetalLB v0.16.1 in metallb, installed with the Helm release lb")
    assert result(report, "secrets.memberlist").message == "Secret lb-metallb-memberlist has secretkey"
    assert report.healthy, [o.result for o in report.problems]


def test_namespace_flag_overrides_discovery():
    facts = healthy()
    facts.namespace, facts.namespace_given = "other", True
    report = evaluate(facts)
    assert report.install is None
    assert result(report, "install.found").message == (
        "no MetalLB in namespace other (-n); found one in metallb-system: use -n metallb-system or leave -n out"
    )
    assert [o.check.id for o in report.outcomes if o.check.category == "components"] == []


def test_not_installed_at_all():
    facts = Facts(
        namespace=NS,
        objects={"deployments": [], "daemonsets": [], "services": [service("web")]},
        metallb_served=None,
        now=NOW,
    )
    report = evaluate(facts)
    assert failed(report) == ["install.found", "services.pending"]
    assert row(report, "web").reason == "MetalLB is not installed (no controller found)"
    assert row(report, "web").hint == "kubectl metallb install"
    assert result(report, "config.pools").status == SKIP


def test_metallb_crds_missing_with_an_install():
    facts = healthy()
    facts.metallb_served = None
    report = evaluate(facts)
    assert (
        result(report, "config.pools").message == "the metallb.io API is not served: MetalLB's CRDs are not installed"
    )
    assert [o.check.id for o in report.outcomes if o.check.category == "configuration"] == ["config.pools"]


@pytest.mark.parametrize(
    "version, names",
    [
        ("v0.14.3", ("webhook-service", "webhook-server-cert")),
        ("v0.14.4", ("metallb-webhook-service", "metallb-webhook-cert")),
        ("v0.13.12", ("webhook-service", "webhook-server-cert")),
        ("v0.16.1", ("metallb-webhook-service", "metallb-webhook-cert")),
    ],
)
def test_object_names_per_version(version, names):
    report = evaluate(healthy(version=version, webhook=names))
    assert report.install.webhook_service == names[0]
    assert result(report, "webhook.endpoints").message == f"webhook Service {names[0]}: 1 ready endpoint"
    assert result(report, "webhook.certificate").message == f"Secret {names[1]} has ca.crt"
    assert report.healthy


def test_expecting_new_names_but_finding_old_ones():
    report = evaluate(healthy(version="v0.15.2", webhook=("webhook-service", "webhook-server-cert")))
    assert (
        result(report, "webhook.endpoints").message == "webhook Service metallb-webhook-service not found in "
        "metallb-system"
    )
    assert (
        result(report, "webhook.certificate").message == "Secret metallb-webhook-cert (webhook certificate) not "
        "found in metallb-system"
    )
    left = result(report, "install.objects")
    assert left.status == WARN
    assert left.details[0].startswith("Service webhook-service: the webhook Service before v0.14.4")
    assert left.details[1].startswith("Secret webhook-server-cert: the webhook certificate before v0.14.4")


def test_legacy_configmap_and_old_releases():
    facts = healthy()
    facts.objects["configmaps"] = [{"metadata": {"name": "config"}, "data": {"config": "address-pools: []"}}]
    assert "ConfigMap config: the pre-v0.13 configuration" in result(evaluate(facts), "install.objects").details[0]
    assert result(evaluate(healthy(version="v0.12.1")), "install.version").status == WARN  # a warning-severity check
    assert "configured by ConfigMap" in result(evaluate(healthy(version="v0.12.1")), "install.version").message
    assert result(evaluate(healthy(version="main")), "install.version").status == WARN
    assert "newest release is v0.16.1" in result(evaluate(healthy(version="v0.15.3")), "install.version").message


def test_frr_backend_deprecated_from_0_16_and_frr_k8s_daemonset():
    facts = healthy()
    facts.objects["daemonsets"][0]["spec"]["template"]["spec"]["containers"].append({"name": "frr", "image": "frr"})
    assert result(evaluate(facts), "install.backend").status == WARN
    facts = healthy()
    frr = daemonset(
        "frr-k8s-daemon",
        labels={"app.kubernetes.io/name": "frr-k8s", "app.kubernetes.io/component": "frr-k8s"},
        ready=1,
    )
    facts.objects["daemonsets"].append(frr)
    facts.objects["daemonsets"][0]["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "METALLB_BGP_TYPE", "value": "frr-k8s"}
    ]
    report = evaluate(facts)
    assert result(report, "install.backend").message == "BGP backend: frr-k8s (DaemonSet metallb-system/frr-k8s-daemon)"
    assert result(report, "components.frr-k8s").message.startswith("frr-k8s DaemonSet frr-k8s-daemon: ready on 1/2")
    assert failed(report) == ["components.frr-k8s"]


def test_controller_not_ready_with_pod_reason_and_replicaset_events():
    facts = healthy()
    facts.objects["deployments"][0]["status"].update(readyReplicas=0, availableReplicas=0)
    facts.objects["pods"] = [
        pod(
            "controller-abc-1",
            "n1",
            labels=MANIFEST["controller"],
            ready=False,
            waiting={"reason": "ImagePullBackOff", "message": "pull access denied"},
        )
    ]
    facts.objects["events"] = [
        event("ReplicaSet", NS, "controller-abc", "FailedCreate", "pods is forbidden: violates PodSecurity", "Warning"),
        event("Pod", NS, "controller-abc-1", "Failed", "Failed to pull image", "Warning"),
    ]
    report = evaluate(facts)
    check = result(report, "components.controller")
    assert check.status == FAIL and check.message == "controller Deployment controller: 0/1 available"
    assert check.details == (
        "pod controller-abc-1 (n1): container speaker: ImagePullBackOff: pull access denied (event Failed: Failed to "
        "pull image)",
        "event FailedCreate: pods is forbidden: violates PodSecurity",
    )
    assert (
        outcome(report, "components.controller").check.hint == "kubectl -n metallb-system describe deployment "
        "controller"
    )
    assert "services.pending" not in failed(report)  # web already has its address
    new = service("new")
    facts.objects["services"].append(new)
    assert row(evaluate(facts), "new").reason == "MetalLB's controller is not ready, so nothing assigns addresses"


def test_speaker_missing_on_nodes_from_pods():
    facts = healthy()
    facts.objects["nodes"].append(
        node("cp1", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    )
    facts.objects["nodes"].append(node("gpu", taints=[{"key": "gpu", "effect": "NoSchedule"}]))  # not tolerated
    facts.objects["nodes"].append(node("win", labels={"kubernetes.io/os": "windows"}))  # nodeSelector excludes it
    facts.objects["daemonsets"][0]["status"].update(desiredNumberScheduled=3, numberReady=1)
    facts.objects["pods"] = [
        pod("speaker-a", "n1"),
        pod(
            "speaker-b",
            "n2",
            ready=False,
            waiting={"reason": "CreateContainerConfigError", "message": 'secret "memberlist" not found'},
        ),
    ]
    report = evaluate(facts)
    speaker = result(report, "components.speaker")
    assert speaker.status == FAIL
    assert speaker.details[0] == "nodes without a ready speaker: cp1, n2"
    assert speaker.details[1] == (
        'pod speaker-b (n2): container speaker: CreateContainerConfigError: secret "memberlist" not found'
    )
    assert result(report, "components.pods").message == "1 Pod of 2 not ready"
    assert report.to_document()["components"]["speaker"]["nodesWithoutReadyPod"] == ["cp1", "n2"]


def test_daemonset_on_no_node_shows_failed_create():
    facts = healthy()
    facts.objects["daemonsets"][0]["status"].update(desiredNumberScheduled=0, numberReady=0, updatedNumberScheduled=0)
    facts.objects["events"] = [
        event(
            "DaemonSet",
            NS,
            "speaker",
            "FailedCreate",
            'Error creating: pods "speaker-x" is forbidden: violates PodSecurity "baseline:latest"',
            "Warning",
        )
    ]
    speaker = result(evaluate(facts), "components.speaker")
    assert speaker.status == FAIL
    assert "ready on 0/0 nodes (no node is eligible to run it)" in speaker.message
    assert speaker.details == (
        'event FailedCreate: Error creating: pods "speaker-x" is forbidden: violates PodSecurity "baseline:latest"',
    )


def test_rollout_in_progress_is_not_ready():
    facts = healthy()
    facts.objects["daemonsets"][0]["status"]["updatedNumberScheduled"] = 1
    assert result(evaluate(facts), "components.speaker").status == FAIL


def test_restarts_recent_and_old():
    facts = healthy()
    facts.objects["pods"] = [
        pod("speaker-a", "n1", restarts=3, finished=ts(10)),
        pod("speaker-b", "n2", restarts=1, finished=ts(600)),
    ]
    check = result(evaluate(facts), "components.restarts")
    assert check.status == WARN
    assert check.details == ("speaker-a/speaker: 3 restarts, last Error with code 1",)
    facts.objects["pods"] = [pod("speaker-b", "n2", restarts=1, finished=ts(600))]
    assert result(evaluate(facts), "components.restarts").message == (
        "no recent restarts (1 restart more than an hour ago)"
    )


def test_pods_not_scheduled():
    facts = healthy()
    facts.objects["pods"] = [
        pod(
            "speaker-a",
            None,
            ready=False,
            scheduled=False,
            scheduled_message="0/2 nodes are available: 2 node(s) didn't have free ports",
        )
    ]
    assert result(evaluate(facts), "components.pods").details == (
        "pod speaker-a (no node): not scheduled: Unschedulable: 0/2 nodes are available: 2 node(s) didn't have free "
        "ports",
    )


@pytest.mark.parametrize(
    "change, check_id, message",
    [
        (
            lambda o: o["endpointslices"].pop(),
            "webhook.endpoints",
            "webhook Service metallb-webhook-service: no endpoints (no EndpointSlice yet); every write of a metallb.io "
            "object fails until the controller serves it",
        ),
        (
            lambda o: o.update(validatingwebhookconfigurations=[webhook_configuration(ca=False)]),
            "webhook.configuration",
            "ValidatingWebhookConfiguration metallb-webhook-configuration has no CA bundle in 2 of 2 webhooks (the "
            "controller injects it when it starts)",
        ),
        (
            lambda o: o.update(validatingwebhookconfigurations=[webhook_configuration(ns="metallb")]),
            "webhook.configuration",
            "ValidatingWebhookConfiguration metallb-webhook-configuration points at another namespace",
        ),
        (
            lambda o: o["secrets"][1].update(keys=["tls.crt"]),
            "webhook.certificate",
            "Secret metallb-webhook-cert has no ca.crt: the controller has not written its certificate yet",
        ),
        (
            lambda o: o["secrets"].pop(0),
            "secrets.memberlist",
            "Secret memberlist not found in metallb-system: speakers cannot start (the controller creates it when it "
            "starts)",
        ),
        (lambda o: o["secrets"][0].update(keys=[]), "secrets.memberlist", "Secret memberlist has no key secretkey"),
        (
            lambda o: o.update(ipaddresspools=[]),
            "config.pools",
            "no IPAddressPool in metallb-system: MetalLB assigns no address",
        ),
        (
            lambda o: o.update(l2advertisements=[]),
            "config.advertisements",
            "no L2Advertisement or BGPAdvertisement: addresses are assigned but never announced",
        ),
        (
            lambda o: o.update(configurationstates=[config_state("controller", "Invalid", "pool a overlaps pool b")]),
            "config.state",
            "configuration rejected by 1 component (the last valid one keeps running)",
        ),
    ],
)
def test_each_failure_mode(change, check_id, message):
    facts = healthy()
    change(facts.objects)
    report = evaluate(facts)
    assert check_id in failed(report)
    assert result(report, check_id).message == message
    assert report.verdict == "degraded"
    problem = next(p for p in report.to_document()["problems"] if p["id"] == check_id)
    assert problem["severity"] == "fail" and problem["hint"]


def test_missing_webhook_configuration_is_a_warning():
    facts = healthy()
    facts.objects["validatingwebhookconfigurations"] = []
    report = evaluate(facts)
    assert report.healthy and warned(report) == ["webhook.configuration"]
    assert report.summary() == "MetalLB is healthy: 1 warning"


def test_memberlist_not_used():
    facts = healthy()
    facts.objects["daemonsets"][0]["spec"]["template"]["spec"]["volumes"] = []
    facts.objects["secrets"].pop(0)
    assert result(evaluate(facts), "secrets.memberlist").status == SKIP


def test_unreadable_secrets_are_skipped_not_failed():
    facts = healthy()
    facts.objects["secrets"] = Unreadable("no permission to list Secrets in namespace metallb-system")
    report = evaluate(facts)
    assert result(report, "webhook.certificate").status == SKIP
    assert result(report, "webhook.certificate").message == "no permission to list Secrets in namespace metallb-system"
    assert report.healthy


def test_pools_in_another_namespace_are_ignored():
    facts = healthy()
    facts.objects["ipaddresspools"] = [pool("stray", ns="metallb")]
    report = evaluate(facts)
    check = result(report, "config.pools")
    assert check.status == FAIL
    assert check.details == ("ignored (MetalLB only reads metallb-system): ipaddresspools in metallb: stray",)
    assert report.to_document()["configuration"]["ignoredObjects"] == ["ipaddresspools in metallb: stray"]
    facts.objects["services"].append(service("new"))
    assert row(evaluate(facts), "new").reason == (
        "there is no IPAddressPool in metallb-system (MetalLB records no "
        "event in that case); the pools in metallb are ignored"
    )


def test_unannounced_pool_and_bgp_mismatch():
    facts = healthy()
    facts.objects["ipaddresspools"].append(pool("dark", ["10.9.0.0/30"]))
    facts.objects["l2advertisements"] = [l2(ipAddressPools=["prod"])]
    facts.objects["bgpadvertisements"] = [bgp_adv(ipAddressPools=["prod"])]
    report = evaluate(facts)
    assert result(report, "config.announced-pools").message == (
        "1 pool no advertisement selects (addresses assigned from it are never announced): dark"
    )
    assert (
        result(report, "config.bgp").message == "BGPAdvertisements exist but no BGPPeer: nothing is announced over BGP"
    )
    assert report.healthy and set(warned(report)) == {"config.announced-pools", "config.bgp"}
    facts.objects["bgpadvertisements"], facts.objects["bgppeers"] = [], [peer()]
    assert "but no BGPAdvertisement" in result(evaluate(facts), "config.bgp").message


def test_configuration_state_needs_0_15_3():
    facts = healthy(version="v0.15.2")
    facts.metallb_served = frozenset(k for k in ALL_KINDS if k != "configurationstates")
    check = result(evaluate(facts), "config.state")
    assert check.status == SKIP and check.message.startswith("ConfigurationState needs MetalLB v0.15.3+")
    facts = healthy()
    facts.objects["configurationstates"].append(config_state("speaker-n2", "Unknown"))
    assert result(evaluate(facts), "config.state").details == ("speaker-n2: Unknown",)


# --------------------------------------------------------------------------------------------- services


def test_pending_reasons_in_order():
    facts = healthy()
    facts.objects["services"] += [
        service("full"),
        service("stale"),
        service("classy", loadBalancerClass="x.io/lb"),
        service("both", loadBalancerIP="192.168.10.2", annotations={"metallb.io/loadBalancerIPs": "192.168.10.3"}),
        service("quiet"),
    ]
    facts.objects["serviceEvents"] += [
        event(
            "Service",
            "apps",
            "full",
            "AllocationFailed",
            'Failed to allocate IP for "apps/full": no available IPs in pool "prod"',
            "Warning",
        ),
        event("Service", "apps", "stale", "AllocationFailed", "no available IPs", "Warning", minutes_ago=10),
        event("Service", "apps", "stale", "IPAllocated", "Assigned IP", minutes_ago=1),
    ]
    report = evaluate(facts)
    assert row(report, "full").reason == (
        'AllocationFailed: Failed to allocate IP for "apps/full": no available IPs in pool "prod"'
    )
    assert row(report, "full").hint.startswith("the requested pool is full")
    assert row(report, "stale").reason == "no MetalLB event yet: the controller has not processed it"
    assert (row(report, "classy").state, row(report, "classy").severity) == ("ignored", None)
    assert row(report, "both").reason.startswith("the Service sets both spec.loadBalancerIP and the")
    assert result(report, "services.pending").message == "4 Services pending"
    assert result(report, "services.foreign").message == ("1 Service left to other implementations (loadBalancerClass)")


def test_a_check_names_twenty_services_and_counts_the_rest():
    # the Services list shows every one with its reason: a check's details name the first twenty
    facts = healthy()
    facts.objects["services"] += [service(f"new-{i:02}") for i in range(25)]
    report = evaluate(facts)
    details = result(report, "services.pending").details
    assert result(report, "services.pending").message == "25 Services pending"
    assert [d.split(":")[0] for d in details[:20]] == [f"apps/new-{i:02}" for i in range(20)]
    assert details[20:] == ("and 5 more (all, with their reasons, under LoadBalancer Services)",)
    assert len([s for s in report.services if s.state == "pending"]) == 25


def test_pending_because_no_pool_fits():
    facts = healthy()
    facts.objects["ipaddresspools"] = [pool("reserved", autoAssign=False)]
    facts.objects["services"] = [service("new")]
    assert row(evaluate(facts), "new").reason == (
        "no IPAddressPool can serve it: reserved: autoAssign is false: it only "
        "serves Services that ask for it by name or address"
    )


def test_pending_with_rejected_configuration():
    facts = healthy()
    facts.objects["services"].append(service("new"))
    facts.objects["configurationstates"] = [config_state("controller", "Invalid", "bad pool")]
    assert row(evaluate(facts), "new").reason == "MetalLB rejected its configuration: bad pool"


def test_lb_class_flag_of_the_controller():
    facts = healthy()
    facts.objects["deployments"][0]["spec"]["template"]["spec"]["containers"][0]["args"] = ["--lb-class=metallb"]
    facts.objects["services"] += [service("mine", loadBalancerClass="metallb"), service("plain")]
    report = evaluate(facts)
    assert row(report, "plain").state == "ignored"
    assert row(report, "plain").reason == (
        "It has no loadBalancerClass and MetalLB only handles class metallb (--lb-class)"
    )
    assert row(report, "mine").state == "pending"


def test_service_served_by_another_implementation_and_inferred_pool():
    facts = healthy(version="v0.13.8")
    facts.objects["services"] += [service("klipper", ip="172.18.0.2"), service("older", ip="192.168.10.7")]
    report = evaluate(facts)
    other = row(report, "klipper")
    assert (other.state, other.severity) == ("other", "warn")
    assert result(report, "services.foreign").status == WARN
    older = row(report, "older")
    assert (older.state, older.pool, older.pool_inferred) == ("assigned", "prod", True)


def test_announcement_from_events_on_older_releases():
    facts = healthy(version="v0.14.5")
    facts.metallb_served = frozenset(
        k for k in ALL_KINDS if k not in ("servicel2statuses", "servicebgpstatuses", "configurationstates")
    )
    facts.objects["servicel2statuses"] = []
    facts.objects["serviceEvents"] += [
        event(
            "Service", "apps", "web", "nodeAssigned", 'announcing from node "n2" with protocol "layer2"', minutes_ago=9
        ),
        event(
            "Service", "apps", "web", "nodeAssigned", 'announcing from node "n1" with protocol "layer2"', minutes_ago=2
        ),
    ]
    web = row(evaluate(facts), "web")
    assert [(a.node, a.source) for a in web.announced_by] == [("n1", "event")]
    facts.objects["serviceEvents"] = facts.objects["serviceEvents"][:1]
    web = row(evaluate(facts), "web")
    assert (web.reason, web.severity) == ("announcing node unknown (no recent nodeAssigned event)", None)


def test_not_announced_when_it_should_be():
    facts = healthy()
    facts.objects["servicel2statuses"] = []
    report = evaluate(facts)
    assert row(report, "web").reason == (
        "no node announces it (no ServiceL2Status/ServiceBGPStatus, no nodeAssigned event)"
    )
    assert failed(report) == ["services.announced"]
    facts.objects["endpointslices"] = facts.objects["endpointslices"][1:]
    web = row(evaluate(facts), "web")
    assert (web.reason, web.severity) == ("not announced: it has no ready endpoints", "warn")


def test_split_brain_and_bgp_announcements():
    facts = healthy()
    facts.objects["servicel2statuses"].append(l2_status("web", "n2"))
    web = row(evaluate(facts), "web")
    assert web.reason == "announced in layer 2 by several nodes at once (split brain?)" and web.severity == "warn"
    facts = healthy()
    facts.objects["servicel2statuses"] = []
    facts.objects["servicebgpstatuses"] = [
        {
            "metadata": {"name": f"bgp-{n}", "namespace": NS},
            "status": {"node": n, "serviceName": "web", "serviceNamespace": "apps"},
        }
        for n in ("n1", "n2")
    ]
    assert [(a.node, a.protocol) for a in row(evaluate(facts), "web").announced_by] == [("n1", "bgp"), ("n2", "bgp")]


def test_deprecated_annotations():
    facts = healthy()
    facts.objects["services"][0]["metadata"]["annotations"]["metallb.universe.tf/address-pool"] = "prod"
    report = evaluate(facts)
    assert warned(report) == ["services.annotations"]
    assert result(report, "services.annotations").details == ("apps/web: metallb.universe.tf/address-pool",)


# --------------------------------------------------------------------------------------------- allocation


def test_request_reading():
    svc = service(
        "s",
        annotations={
            "metallb.universe.tf/loadBalancerIPs": "10.0.0.1, fd00::1",
            "metallb.io/address-pool": "p",
            "metallb.universe.tf/address-pool": "old",
            "metallb.io/allow-shared-ip": "k",
        },
    )
    wanted = allocation.request(svc)
    assert wanted.ips == ("10.0.0.1", "fd00::1") and wanted.families == (4, 6)
    assert wanted.pool == "p" and wanted.sharing_key == "k" and wanted.problems == ()
    assert allocation.deprecated_annotations(svc) == [
        "metallb.universe.tf/address-pool",
        "metallb.universe.tf/loadBalancerIPs",
    ]
    assert allocation.request(service("s", ipFamilies=["IPv6"])).families == (6,)
    assert allocation.request(service("s", ipFamilyPolicy="RequireDualStack")).families == (4, 6)
    assert allocation.request(service("s", loadBalancerIP="nonsense")).problems == (
        'requested address "nonsense" is not an IP address',
    )


def _fits(svc, pools, services=(), ns_labels=None):
    return {f.name: f for f in allocation.evaluate_pools(svc, allocation.PoolTable.of(pools, services), ns_labels)}


def test_pool_fit_rules():
    pools = [
        pool("prod"),
        pool("reserved", ["10.1.0.0/30"], autoAssign=False),
        pool("team", ["10.2.0.0/30"], serviceAllocation={"priority": 1, "namespaces": ["team-a"]}),
        pool("labelled", ["10.3.0.0/30"], serviceAllocation={"serviceSelectors": [{"matchLabels": {"x": "y"}}]}),
        pool("v6", ["fd00::/126"]),
        pool("selected", ["10.4.0.0/30"], serviceAllocation={"namespaceSelectors": [{"matchLabels": {"team": "a"}}]}),
    ]
    fits = _fits(service("s"), pools, ns_labels={"team": "a"})
    assert fits["prod"].eligible and fits["selected"].eligible and fits["selected"].pinned
    assert fits["reserved"].reasons == [
        "autoAssign is false: it only serves Services that ask for it by name or address"
    ]
    assert fits["team"].reasons == ["serviceAllocation limits it to namespaces team-a, not apps"]
    assert fits["labelled"].reasons == ["serviceAllocation limits it to Services labelled x=y"]
    assert fits["v6"].reasons == ["it has no IPv4 addresses"]
    assert fits["prod"].to_dict()["free"] == {"IPv4": 16}
    asked = _fits(service("s", annotations={"metallb.io/address-pool": "reserved"}), pools)
    assert asked["reserved"].eligible and asked["prod"].reasons == ['the Service asks for pool "reserved"']
    by_ip = _fits(service("s", annotations={"metallb.io/loadBalancerIPs": "10.1.0.2"}), pools)
    assert by_ip["reserved"].eligible
    assert by_ip["prod"].reasons == ["requested address 10.1.0.2 is not in this pool"]


def test_pool_fit_free_addresses_sharing_and_buggy_ips():
    small = pool("small", ["10.0.0.0/31"], avoidBuggyIPs=True)  # 10.0.0.0 is skipped: one usable address
    users = [service("a", ip="10.0.0.1", pool="small", annotations={"metallb.io/allow-shared-ip": "k"})]
    fit = _fits(service("s"), [small], users)["small"]
    assert fit.free == {4: 0} and fit.reasons == ["no free IPv4 address left"]
    assert _fits(service("a", ip="10.0.0.1"), [small], users)["small"].eligible  # it holds the address already
    share = service("s", annotations={"metallb.io/loadBalancerIPs": "10.0.0.1", "metallb.io/allow-shared-ip": "k"})
    assert _fits(share, [small], users)["small"].eligible
    clash = service("s", annotations={"metallb.io/loadBalancerIPs": "10.0.0.1"})
    assert _fits(clash, [small], users)["small"].reasons == [
        "requested address 10.0.0.1 is already used by apps/a and the two do not share the same "
        "metallb.io/allow-shared-ip key"
    ]
    buggy = service("s", annotations={"metallb.io/loadBalancerIPs": "10.0.0.0"})
    assert _fits(buggy, [small], users)["small"].reasons == ["requested address 10.0.0.0 is not in this pool"]
    counted = pool("counted", status={"availableIPv4": 0, "assignedIPv4": 16})
    assert _fits(service("s"), [counted])["counted"].reasons == ["no free IPv4 address left"]


def test_pool_fit_dual_stack():
    mixed = pool("mixed", ["10.0.0.0/30", "fd00::/126"])
    v4 = pool("v4")
    need_both = service("s", ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv4", "IPv6"])
    fits = _fits(need_both, [mixed, v4])
    assert fits["mixed"].eligible and fits["v4"].reasons == ["it has no IPv6 addresses"]
    prefer = service("s", ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv4", "IPv6"])
    assert _fits(prefer, [v4])["v4"].eligible


# --------------------------------------------------------------------------------------------- explanation


def _explain(facts, name):
    view = View(locate(facts))
    svc = next(s for s in view.services if s["metadata"]["name"] == name)
    return explain.explain(view, svc)


def test_explain_healthy_service():
    result_ = _explain(healthy(), "web")
    assert result_.ok and result_.state == "assigned"
    assert result_.cause == "none: MetalLB assigned 192.168.10.1 and n1 announces it"
    titles = [s.title for s in result_.steps]
    assert titles == [
        "type LoadBalancer, no loadBalancerClass: MetalLB handles it",
        "what it asks for: no particular address or pool",
        "MetalLB v0.16.1 in metallb-system: controller ready",
        "pools: 1 of 1 could serve it",
        "address: 192.168.10.1 from pool prod",
        "endpoints: 1 ready on n1",
        "externalTrafficPolicy Cluster: any node may announce it",
        "advertisements for pool prod: 1",
        "nodes that may announce it: 2 of 2",
        "announced by n1 (layer2)",
    ]
    doc = result_.to_document()
    assert doc["cause"]["summary"].startswith("none:") and doc["steps"][0]["status"] == OK


@pytest.mark.parametrize(
    "setup, cause, fix",
    [
        (
            lambda f: f.objects["services"].append(service("new", type="NodePort")),
            "apps/new is of type NodePort; MetalLB only serves type LoadBalancer",
            'kubectl -n apps patch service new -p \'{"spec":{"type":"LoadBalancer"}}\'',
        ),
        (
            lambda f: f.objects["services"].append(service("new", loadBalancerClass="other.io/lb")),
            "MetalLB does not handle it: its loadBalancerClass other.io/lb belongs to another load balancer; MetalLB only "
            "handles Services without a class",
            "recreate the Service without spec.loadBalancerClass (the field cannot be changed)",
        ),
        (
            lambda f: (f.objects["services"].append(service("new")), f.objects.update(ipaddresspools=[])),
            "there is no IPAddressPool in metallb-system, so MetalLB assigns nothing (and records no event)",
            "kubectl metallb pools create NAME --addresses RANGE --l2",
        ),
        (
            lambda f: (
                f.objects["services"].append(service("new")),
                f.objects.update(ipaddresspools=[pool("reserved", autoAssign=False)]),
            ),
            "no IPAddressPool can serve it: reserved: autoAssign is false: it only serves Services that ask for it by name "
            "or address",
            "ask for the pool by name: kubectl -n apps annotate service new metallb.io/address-pool=reserved",
        ),
        (
            lambda f: f.objects["services"].append(service("new", ipFamilies=["IPv6"])),
            "no IPAddressPool can serve it: prod: it has no IPv6 addresses",
            "add addresses of the Service's IP family to a pool, or change spec.ipFamilies",
        ),
        (
            lambda f: (
                f.objects["services"].append(service("new")),
                f.objects.update(ipaddresspools=[pool(serviceAllocation={"namespaces": ["other"]})]),
            ),
            "no IPAddressPool can serve it: prod: serviceAllocation limits it to namespaces other, not apps",
            "change the pool's spec.serviceAllocation (namespaces / selectors) or the Service's labels",
        ),
        (
            lambda f: (
                f.objects["services"].append(service("new")),
                f.objects.update(ipaddresspools=[pool(addresses=["10.0.0.1/32"])]),
                f.objects["services"].append(service("taken", ip="10.0.0.1", pool="prod")),
            ),
            "no IPAddressPool can serve it: prod: no free IPv4 address left",
            "add addresses to a pool (kubectl metallb pools) or release unused LoadBalancer Services",
        ),
        (
            lambda f: (
                f.objects["services"].append(service("new")),
                f.objects["serviceEvents"].append(
                    event(
                        "Service",
                        "apps",
                        "new",
                        "AllocationFailed",
                        'sharing key "a" does not match existing sharing key "b"',
                        "Warning",
                    )
                ),
            ),
            'AllocationFailed: sharing key "a" does not match existing sharing key "b"',
            "Services sharing an address need the same metallb.io/allow-shared-ip value",
        ),
    ],
)
def test_explain_pending_causes(setup, cause, fix):
    facts = healthy()
    setup(facts)
    result_ = _explain(facts, "new")
    assert not result_.ok
    assert (result_.cause, result_.fix) == (cause, fix)


def test_explain_unannounced_causes():
    facts = healthy()
    facts.objects["servicel2statuses"] = []
    facts.objects["l2advertisements"] = [l2(ipAddressPools=["other"])]
    assert _explain(facts, "web").cause == (
        "pool prod is not announced: no L2Advertisement or BGPAdvertisement covers it (or selects this Service)"
    )
    facts.objects["l2advertisements"] = [l2()]
    facts.objects["nodes"] = [
        node("n1", labels={election.EXCLUDE_LABEL: ""}),
        node("n2", conditions=[{"type": "NetworkUnavailable", "status": "True"}]),
    ]
    result_ = _explain(facts, "web")
    assert result_.cause == (
        "no node may announce it: n1: labelled node.kubernetes.io/exclude-from-external-load-"
        "balancers (the speaker's --ignore-exclude-lb is off); n2: NetworkUnavailable"
    )
    assert result_.fix == (
        "remove the label from n1 (kubectl label node n1 node.kubernetes.io/exclude-from-external-load-balancers-), "
        "or run the speaker with --ignore-exclude-lb (Helm: speaker.ignoreExcludeLB=true); or repair the network of "
        "n2 (its NetworkUnavailable condition): kubectl describe node n2"
    )
    facts.objects["daemonsets"][0]["spec"]["template"]["spec"]["containers"][0]["args"] = ["--ignore-exclude-lb"]
    facts.objects["pods"] = [pod("speaker-a", "n2")]
    result_ = _explain(facts, "web")
    assert result_.cause == "no node may announce it: n1: no ready speaker; n2: NetworkUnavailable"
    assert result_.fix.startswith(
        "kubectl -n metallb-system get pods -o wide (why is the speaker not ready on n1?); or repair the network of n2"
    )
    facts.objects["pods"] = [pod("speaker-a", "n1")]
    assert _explain(facts, "web").cause == "nodes n1 may announce it, yet none does"


def test_explain_names_the_advertisement_that_selects_no_node_instead_of_a_label_that_would_not_help():
    """Both nodes are excluded by label AND the only L2Advertisement selects neither: removing the label would
    change nothing, so the explanation names the advertisement (the analyzer's MLB0302)."""
    facts = healthy()
    facts.objects["servicel2statuses"] = []
    facts.objects["nodes"] = [node("n1", labels={election.EXCLUDE_LABEL: ""}), node("n2")]
    facts.objects["l2advertisements"] = [l2("edge-only", nodeSelectors=[{"matchLabels": {"edge": "true"}}])]
    result_ = _explain(facts, "web")
    assert result_.cause == (
        "MLB0302 L2Advertisement edge-only: its nodeSelectors (edge=true) select none of the 2 nodes, so it announces "
        "nothing"
    )
    assert "remove the label" not in result_.fix and result_.fix.startswith("correct the nodeSelectors")
    last = result_.steps[-1]
    assert last.title == "configuration analysis: 1 finding about it (kubectl metallb analyze)"
    assert last.status == FAIL and last.lines[0].startswith("MLB0302 L2Advertisement edge-only")


def test_explain_when_every_node_has_several_blockers_names_all_a_node_needs():
    facts = healthy()
    facts.objects["servicel2statuses"] = []
    facts.objects["nodes"] = [
        node("n1", labels={election.EXCLUDE_LABEL: ""}, conditions=[{"type": "NetworkUnavailable", "status": "True"}])
    ]
    result_ = _explain(facts, "web")
    assert result_.fix.startswith("n1 needs all of: repair the network of n1")
    assert "; and remove the label from n1" in result_.fix


def test_explain_other_implementation_and_foreign_class_with_address():
    facts = healthy()
    facts.objects["services"] += [
        service("klipper", ip="172.18.0.2"),
        service("cilium", ip="172.18.0.3", loadBalancerClass="io.cilium/l2-announcer"),
    ]
    klipper = _explain(facts, "klipper")
    assert not klipper.ok and klipper.state == "other"
    assert klipper.cause.startswith("has an address MetalLB did not assign")
    cilium = _explain(facts, "cilium")
    assert cilium.ok and cilium.state == "ignored"
    assert cilium.fix == "nothing to do for MetalLB"


def test_explain_controller_down_only_blocks_new_services():
    facts = healthy()
    facts.objects["deployments"][0]["status"].update(readyReplicas=0, availableReplicas=0)
    web = _explain(facts, "web")
    assert web.ok and web.steps[2].status == WARN
    facts.objects["services"].append(service("new"))
    assert _explain(facts, "new").cause == "MetalLB's controller is not running, so no address is assigned"


# --------------------------------------------------------------------------------------------- building blocks


def test_event_times_and_lines():
    assert events.parse_time("2026-05-30T12:00:00Z") == NOW
    assert events.parse_time("2026-05-30T12:00:00.123456789Z") == NOW.replace(microsecond=123456)
    assert events.parse_time("garbage") is None and events.parse_time(None) is None
    newer = {"eventTime": "2026-05-30T12:00:01.000000Z", "reason": "B"}
    older = {"lastTimestamp": "2026-05-30T12:00:00Z", "reason": "A", "count": 3, "type": "Warning", "message": "x  y"}
    assert events.latest([newer, older]) is newer
    assert events.latest([newer, older], reasons=("A",)) is older
    assert events.describe(older) == "Warning A: x y (x3)"
    assert events.when({}) == events.EPOCH


def test_why_not_ready_variants():
    crash = pod("p", "n1", ready=False, waiting={"reason": "CrashLoopBackOff", "message": "back-off 5m0s"})
    assert workloads.why_not_ready(crash) == "container speaker: CrashLoopBackOff: back-off 5m0s"
    running = pod("p", "n1", ready=False)
    assert workloads.why_not_ready(
        running, [event("Pod", NS, "p", "Unhealthy", "Readiness probe failed: 503", "Warning")]
    ) == ("container speaker running but not ready (event Unhealthy: Readiness probe failed: 503)")
    creating = pod("p", "n1", ready=False, waiting={"reason": "ContainerCreating"})
    assert workloads.why_not_ready(creating) == "container speaker running but not ready"


def test_schedulable_nodes_honours_affinity_and_daemon_tolerations():
    ds = daemonset()
    ds["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n9"]}]},
                ]
            }
        }
    }
    nodes = [
        node("n1", labels={"zone": "a"}, taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
        node("n2", labels={"zone": "b"}),
        node("n9"),
        node("n3", labels={"zone": "a"}, taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]),
    ]
    assert [n["metadata"]["name"] for n in workloads.schedulable_nodes(ds, nodes)] == ["n1", "n9"]


def test_service_status_handles():
    facts = healthy()
    view = View(locate(facts))
    assert service_status.handles(view, service("a")) == (True, "")
    assert not service_status.handles(view, service("a", loadBalancerClass="x"))[0]
    copy_ = copy.deepcopy(view.services[0])
    copy_["status"]["loadBalancer"]["ingress"] = [{"hostname": "lb.example.com"}]
    assert objects.ingress_addresses(copy_) == ["lb.example.com"]


def test_wait_progress_line_counts_seconds_only_on_a_terminal():
    from metallb_plugin.status_text import progress_line as _progress_line

    facts = healthy()
    facts.objects["deployments"][0]["status"].update(readyReplicas=0, availableReplicas=0)
    report = evaluate(facts)
    line = _progress_line(report, "MetalLB to become healthy", waited_seconds=0, live=False)
    assert line == "waiting for MetalLB to become healthy: controller Deployment controller: 0/1 available"
    live = _progress_line(report, "MetalLB to become healthy", waited_seconds=0, live=True)
    assert live.startswith("waiting for MetalLB to become healthy (") and live.endswith(
        "s): controller Deployment controller: 0/1 available"
    )


def test_explain_waiting_for_the_controller_points_at_its_log():
    facts = healthy()
    facts.objects["services"].append(service("new"))
    result_ = _explain(facts, "new")
    assert result_.cause == "no MetalLB event yet: the controller has not processed it"
    assert result_.fix == "kubectl -n metallb-system logs deployment/controller (look for apps/new)"
