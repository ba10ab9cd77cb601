"""Manifest handling: digests, splitting with guards, validation, dependency order, image rewrite."""

import hashlib

import pytest
import yaml

from metallb_plugin.core import manifests, yamlsafe
from metallb_plugin.core.manifests import ManifestError

NS = "metallb-system"


def obj(kind, name, api="v1", ns=None, **extra):
    meta = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


def pod_workload(kind, name, containers, init=()):
    labels = {"app": "metallb", "component": name}
    return obj(
        kind,
        name,
        "apps/v1",
        NS,
        spec={
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "initContainers": [{"name": f"init{i}", "image": image} for i, image in enumerate(init)],
                    "containers": [
                        {"name": n, "image": image, **({"env": env} if env else {})} for n, image, env in containers
                    ],
                },
            },
        },
    ) | {"metadata": {"name": name, "namespace": NS, "labels": labels}}


def sample(tag="v0.16.1", speaker_env=None):
    """A small manifest shaped like MetalLB's, in the order upstream writes it except for two swaps."""
    return [
        obj(
            "ValidatingWebhookConfiguration",
            "metallb-webhook-configuration",
            "admissionregistration.k8s.io/v1",
            webhooks=[
                {
                    "name": "ipaddresspoolvalidationwebhook.metallb.io",
                    "clientConfig": {"service": {"name": "metallb-webhook-service", "namespace": NS}},
                }
            ],
        ),
        obj("Namespace", NS),
        obj(
            "CustomResourceDefinition",
            "ipaddresspools.metallb.io",
            "apiextensions.k8s.io/v1",
            spec={"group": "metallb.io"},
        ),
        obj("ServiceAccount", "controller", ns=NS),
        obj("ClusterRoleBinding", "metallb-system:controller", "rbac.authorization.k8s.io/v1"),
        obj("ClusterRole", "metallb-system:controller", "rbac.authorization.k8s.io/v1"),
        obj("Role", "controller", "rbac.authorization.k8s.io/v1", NS),
        obj("RoleBinding", "controller", "rbac.authorization.k8s.io/v1", NS),
        obj("ConfigMap", "metallb-excludel2", ns=NS),
        obj("Secret", "metallb-webhook-cert", ns=NS),
        obj("Service", "metallb-webhook-service", ns=NS),
        pod_workload("Deployment", "controller", [("controller", f"quay.io/metallb/controller:{tag}", None)]),
        pod_workload(
            "DaemonSet",
            "speaker",
            [
                ("speaker", f"quay.io/metallb/speaker:{tag}", speaker_env),
                ("frr", "quay.io/frrouting/frr:10.5.3", None),
                ("sidecar", "docker.io/library/busybox:1.36", None),
            ],
            init=["quay.io/frrouting/frr:10.5.3"],
        ),
    ]


@pytest.fixture(autouse=True, params=["libyaml", "pure-python"])
def yaml_parser(request, monkeypatch):
    """Every test runs with PyYAML's C parser (when built with it) and with its pure-Python fallback."""
    monkeypatch.setattr(yamlsafe, "USE_LIBYAML", request.param == "libyaml")
    return request.param


def text(objects):
    return yaml.safe_dump_all(objects).encode()


# ------------------------------------------------------------------------------------------- digests


def test_verify_sha256_ok_and_prefix_and_case():
    data = b"kind: Namespace\n"
    digest = hashlib.sha256(data).hexdigest()
    assert manifests.verify_sha256(data, digest) == digest
    assert manifests.verify_sha256(data, "sha256:" + digest.upper()) == digest


def test_verify_sha256_mismatch_names_both_digests():
    data = b"kind: Namespace\n"
    with pytest.raises(ManifestError) as caught:
        manifests.verify_sha256(data, "0" * 64, source="metallb-native.yaml")
    message = str(caught.value)
    assert message.startswith("checksum mismatch for metallb-native.yaml: expected sha256 " + "0" * 64)
    assert f"got {hashlib.sha256(data).hexdigest()}" in message
    assert message.endswith("nothing was applied")


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "0" * 63, "md5:" + "0" * 64])
def test_bad_digest_text(bad):
    with pytest.raises(ManifestError, match="is not a sha256 digest"):
        manifests.normalize_digest(bad)


# ------------------------------------------------------------------------------------------- parsing


def test_parse_skips_empty_documents_and_keeps_order():
    data = (
        b"---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n\n---\n"
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: a}\n"
    )
    assert [o["metadata"]["name"] for o in manifests.parse(data)] == ["a", "b"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "contains no objects"),
        (b"- a\n- b\n", "document 1 of the manifest is not a Kubernetes object (a list)"),
        (b"kind: Namespace\nmetadata: {name: x}\n", "lacks apiVersion, kind or metadata.name"),
        (b"apiVersion: v1\nkind: List\nitems: []\n", "is a List"),
        (b"a: [1, 2\n", "is not valid YAML"),
        (b"a: !!python/object:os.system {}\n", "is not valid YAML"),
        ("\udcff".encode("utf-8", "surrogateescape"), "is not UTF-8 text"),
    ],
)
def test_parse_rejects(data, message):
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        manifests.parse(data)


def test_parse_rejects_huge_input():
    with pytest.raises(ManifestError, match="more than the 8388608 a MetalLB manifest can be"):
        manifests.parse(b" " * (manifests.MAX_BYTES + 1))


def test_parse_rejects_too_many_aliases():
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: x}", "data:", "  a: &a v"]
    lines += [f"  k{i}: *a" for i in range(manifests.MAX_ALIASES + 1)]
    with pytest.raises(ManifestError, match="more than 100 YAML aliases"):
        manifests.parse("\n".join(lines).encode())


def test_parse_rejects_alias_bomb_with_few_aliases():
    # 9 levels x 9 aliases = 81 aliases (under the alias limit) expanding to 9**9 values
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: x}", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    with pytest.raises(ManifestError, match="alias bomb"):
        manifests.parse("\n".join(lines).encode())


@pytest.mark.parametrize("depth", [300, 50000])
def test_parse_rejects_deep_nesting(depth):
    # before anything is built: libyaml's composer recursed without a limit and crashed Python 3.9
    with pytest.raises(ManifestError, match="nested more than 200 levels deep|exceeded maximum nesting depth"):
        manifests.parse(b"a: " + b"[" * depth + b"]" * depth)


# ------------------------------------------------------------------------------------------- validation


def test_validate_returns_the_namespace():
    assert manifests.validate(sample()) == NS


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda objs: objs.append(obj("Pod", "p", ns=NS)), "unexpected Pod p"),
        (
            lambda objs: objs.append(obj("ConfigMap", "c", ns="kube-system")),
            "ConfigMap c is in namespace kube-system; every namespaced object of the manifest must be in metallb-system",
        ),
        (lambda objs: objs.append(obj("Namespace", "other")), "exactly one Namespace; this one creates 2"),
        (
            lambda objs: objs.append(obj("ClusterRole", "x", "rbac.authorization.k8s.io/v1", "metallb-system")),
            "ClusterRole x is cluster-scoped but has a namespace",
        ),
        (
            lambda objs: objs.append(
                obj(
                    "CustomResourceDefinition",
                    "foos.example.com",
                    "apiextensions.k8s.io/v1",
                    spec={"group": "example.com"},
                )
            ),
            "is for group example.com",
        ),
        (lambda objs: objs.append(obj("Deployment", "x", "extensions/v1beta1", NS)), "unexpected apiVersion"),
        (lambda objs: objs.append(obj("Secret", "metallb-webhook-cert", ns=NS)), "appears twice"),
        (
            lambda objs: objs[0]["webhooks"][0]["clientConfig"]["service"].update(namespace="evil"),
            "calls a Service outside metallb-system",
        ),
    ],
)
def test_validate_rejects(mutate, message):
    objects = sample()
    mutate(objects)
    with pytest.raises(ManifestError) as caught:
        manifests.validate(objects)
    assert message in str(caught.value)


def test_objects_without_namespace_get_the_manifest_namespace():
    objects = sample()
    del objects[3]["metadata"]["namespace"]  # the ServiceAccount
    prepared = manifests.prepare(text(objects))
    sa = next(o for o in prepared.objects if o["kind"] == "ServiceAccount")
    assert sa["metadata"]["namespace"] == NS
    assert "namespace" not in next(o for o in prepared.objects if o["kind"] == "ClusterRole")["metadata"]


# ------------------------------------------------------------------------------------------- order


def test_dependency_order():
    ordered = [o["kind"] for o in manifests.order(sample())]
    assert ordered == [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "Role",
        "ClusterRoleBinding",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "Service",
        "Deployment",
        "DaemonSet",
        "ValidatingWebhookConfiguration",
    ]


def test_order_is_stable_within_a_step():
    objects = [obj("ConfigMap", n, ns=NS) for n in "zyx"] + [obj("Namespace", NS)]
    assert [o["metadata"]["name"] for o in manifests.order(objects)] == [NS, "z", "y", "x"]


def test_every_kind_has_a_step_and_webhooks_come_last():
    steps = {kind: spec[3] for kind, spec in manifests.KINDS.items()}
    assert steps["ValidatingWebhookConfiguration"] == max(steps.values())
    assert steps["Namespace"] == 0 and steps["CustomResourceDefinition"] == 1
    assert all(0 <= s < len(manifests.STEPS) for s in steps.values())


# ------------------------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    "image, rewritten",
    [
        ("quay.io/metallb/controller:v0.16.1", "mirror.local:5000/mlb/controller:v0.16.1"),
        ("quay.io/metallb/frr-k8s:v0.0.25", "mirror.local:5000/mlb/frr-k8s:v0.0.25"),
        ("quay.io/frrouting/frr:10.5.3", "mirror.local:5000/mlb/frr:10.5.3"),
        ("quay.io/metallb/speaker@sha256:" + "a" * 64, "mirror.local:5000/mlb/speaker@sha256:" + "a" * 64),
        ("docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36"),
        ("quay.io/other/thing:1", "quay.io/other/thing:1"),
        ("gcr.io/kubebuilder/kube-rbac-proxy:v0.12.0", "mirror.local:5000/mlb/kube-rbac-proxy:v0.12.0"),
    ],
)
def test_rewrite_image(image, rewritten):
    assert manifests.rewrite_image(image, "mirror.local:5000/mlb/") == rewritten


def rbac_proxied(image="gcr.io/kubebuilder/kube-rbac-proxy:v0.13.1"):
    """A Deployment with the kube-rbac-proxy sidecar the Prometheus variants v0.13.5-v0.15.3 add."""
    containers = [
        {"name": "kube-rbac-proxy", "image": image},
        {"name": "controller", "image": "quay.io/metallb/controller:v0.15.3"},
    ]
    return {
        "kind": "Deployment",
        "metadata": {"name": "controller"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }


def test_images_of_a_registry_that_stopped_serving_are_moved():
    assert manifests.move_image("gcr.io/kubebuilder/kube-rbac-proxy:v0.12.0") == (
        "registry.k8s.io/kubebuilder/kube-rbac-proxy:v0.12.0"
    )
    assert manifests.move_image("quay.io/metallb/speaker:v0.15.3") == "quay.io/metallb/speaker:v0.15.3"
    objects, moved = manifests.move_images([rbac_proxied()])
    assert [c["image"] for c in objects[0]["spec"]["template"]["spec"]["containers"]] == [
        "registry.k8s.io/kubebuilder/kube-rbac-proxy:v0.13.1",
        "quay.io/metallb/controller:v0.15.3",
    ]
    assert moved == {
        "gcr.io/kubebuilder/kube-rbac-proxy:v0.13.1": "registry.k8s.io/kubebuilder/kube-rbac-proxy:v0.13.1"
    }


def test_rewrite_images_covers_init_containers_and_reports_changes():
    objects, changed = manifests.rewrite_images(sample(), "registry.example.com")
    speaker = next(o for o in objects if o["kind"] == "DaemonSet")
    spec = speaker["spec"]["template"]["spec"]
    assert [c["image"] for c in spec["initContainers"]] == ["registry.example.com/frr:10.5.3"]
    assert [c["image"] for c in spec["containers"]] == [
        "registry.example.com/speaker:v0.16.1",
        "registry.example.com/frr:10.5.3",
        "docker.io/library/busybox:1.36",
    ]
    assert changed == {
        "quay.io/metallb/controller:v0.16.1": "registry.example.com/controller:v0.16.1",
        "quay.io/metallb/speaker:v0.16.1": "registry.example.com/speaker:v0.16.1",
        "quay.io/frrouting/frr:10.5.3": "registry.example.com/frr:10.5.3",
    }
    # the input is left alone
    assert sample()[12]["spec"]["template"]["spec"]["containers"][0]["image"].startswith("quay.io/")


@pytest.mark.parametrize(
    "registry", ["https://r.example.com", "r.example.com/x:tag", "", "r.example.com/UPPER", "r.example.com/x@sha256:ab"]
)
def test_bad_registry(registry):
    with pytest.raises(ManifestError, match="--image-registry"):
        manifests.validate_registry(registry)


def test_good_registry():
    assert manifests.validate_registry("registry.local:5000/mirror/metallb/") == "registry.local:5000/mirror/metallb"


# ------------------------------------------------------------------------------------------- prepare / render


def test_prepare_describes_what_it_installs():
    prepared = manifests.prepare(
        text(sample(tag="v0.15.3", speaker_env=[{"name": "METALLB_BGP_TYPE", "value": "frr"}])), registry="r.local/m"
    )
    assert (prepared.namespace, prepared.version, prepared.mode) == (NS, "v0.15.3", "frr")
    assert prepared.objects[0]["kind"] == "Namespace"
    assert prepared.images["quay.io/metallb/controller:v0.15.3"] == "r.local/m/controller:v0.15.3"


def test_render_round_trips():
    prepared = manifests.prepare(text(sample()))
    again = manifests.parse(manifests.render(prepared.objects).encode())
    assert again == prepared.objects
    assert manifests.render(prepared.objects).startswith("---\n")


def test_describe_and_key():
    deployment = pod_workload("Deployment", "controller", [])
    assert manifests.describe(deployment) == "deployment.apps/controller"
    assert manifests.describe(obj("Namespace", NS)) == "namespace/metallb-system"
    assert manifests.key(deployment) == ("apps", "Deployment", NS, "controller")


def test_drop_ca_bundles():
    crd = obj(
        "CustomResourceDefinition",
        "bgppeers.metallb.io",
        "apiextensions.k8s.io/v1",
        spec={
            "group": "metallb.io",
            "conversion": {
                "strategy": "Webhook",
                "webhook": {
                    "clientConfig": {
                        "caBundle": "cGxhY2Vob2xkZXI=",
                        "service": {"name": "metallb-webhook-service", "namespace": NS},
                    }
                },
            },
        },
    )
    vwc = sample()[0]
    vwc["webhooks"][0]["clientConfig"]["caBundle"] = "cGxhY2Vob2xkZXI="
    plain = obj("ConfigMap", "c", ns=NS, data={"caBundle": "kept"})
    out = manifests.drop_ca_bundles([crd, vwc, plain])
    assert out[0]["spec"]["conversion"]["webhook"]["clientConfig"] == {
        "service": {"name": "metallb-webhook-service", "namespace": NS}
    }
    assert "caBundle" not in out[1]["webhooks"][0]["clientConfig"]
    assert out[2]["data"] == {"caBundle": "kept"}
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"]  # the input is left alone


def test_typed_secrets():
    empty = obj("Secret", "metallb-webhook-cert", ns=NS)
    typed = obj("Secret", "tls", ns=NS, type="kubernetes.io/tls")
    with_data = obj("Secret", "d", ns=NS, data={"k": "dg=="})
    out = manifests.typed_secrets([empty, typed, with_data, obj("ConfigMap", "c", ns=NS)])
    assert out[0]["type"] == "Opaque" and "type" not in empty
    assert out[1]["type"] == "kubernetes.io/tls"
    assert "type" not in out[2] and "type" not in out[3]


def test_prepare_moves_images_unless_a_registry_is_given():
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "metallb-system"}}
    deployment = {
        **rbac_proxied(),
        "apiVersion": "apps/v1",
        "metadata": {"name": "controller", "namespace": "metallb-system"},
    }
    text = yaml.safe_dump_all([namespace, deployment])
    moved = manifests.prepare(text)
    assert moved.images == {
        "gcr.io/kubebuilder/kube-rbac-proxy:v0.13.1": "registry.k8s.io/kubebuilder/kube-rbac-proxy:v0.13.1"
    }
    mirrored = manifests.prepare(text, registry="mirror.local/mlb")
    assert set(mirrored.images.values()) == {
        "mirror.local/mlb/kube-rbac-proxy:v0.13.1",
        "mirror.local/mlb/controller:v0.15.3",
    }
