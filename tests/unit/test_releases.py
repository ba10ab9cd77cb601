"""The releases table: integrity of every entry, lookups and their errors."""

import re

import pytest

from metallb_plugin.core import releases


def test_every_release_from_v0_13_0_to_the_newest():
    assert releases.TAGS[0] == "v0.13.0"
    assert releases.DEFAULT_TAG == releases.TAGS[-1] == "v0.16.1"
    versions = [releases.parse_version(t) for t in releases.TAGS]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert [t for t in releases.TAGS if t.startswith("v0.13.")] == [f"v0.13.{n}" for n in range(13)]
    assert [t for t in releases.TAGS if t.startswith("v0.14.")] == [f"v0.14.{n}" for n in range(10)]
    assert [t for t in releases.TAGS if t.startswith("v0.15.")] == [f"v0.15.{n}" for n in range(4)]
    assert [t for t in releases.TAGS if t.startswith("v0.16.")] == ["v0.16.0", "v0.16.1"]


def test_every_entry_has_a_64_hex_digest_and_a_size():
    seen = set()
    for tag, files in releases.RELEASES.items():
        assert "metallb-native.yaml" in files and "metallb-frr.yaml" in files, tag
        for name, (size, digest) in files.items():
            assert re.fullmatch(r"[0-9a-f]{64}", digest), (tag, name)
            assert size > 10000, (tag, name)
            assert re.fullmatch(r"metallb-(native|frr|frr-k8s)(-prometheus)?\.yaml", name), name
            assert digest not in seen, (tag, name)
            seen.add(digest)


def test_frr_k8s_exists_from_v0_14_0_and_prometheus_from_v0_13_5():
    for tag, files in releases.RELEASES.items():
        version = releases.parse_version(tag)
        assert ("metallb-frr-k8s.yaml" in files) == (version >= (0, 14, 0)), tag
        assert ("metallb-native-prometheus.yaml" in files) == (version >= (0, 13, 5)), tag


def test_known_pinned_digests():
    assert releases.artifact("v0.16.1").sha256 == "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b"
    assert releases.artifact("0.14.9").sha256 == "951065e85692aa106f1bb5d5a487d9306154923a794ab1d82122881cbaf588e4"
    assert releases.artifact("v0.16.1", "frr-k8s").sha256 == (
        "19313e5031714cc1489b3b0ed0ae6e58be0e92538b4a5ed9c529c847ef2bac62"
    )


def test_artifact_default_and_url():
    art = releases.artifact()
    assert art.tag == "v0.16.1" and art.file == "metallb-native.yaml"
    assert art.url == "https://raw.githubusercontent.com/metallb/metallb/v0.16.1/config/manifests/metallb-native.yaml"
    prom = releases.artifact("v0.15.3", "frr", prometheus=True)
    assert prom.file == "metallb-frr-prometheus.yaml" and prom.size == 93010


@pytest.mark.parametrize(
    "tag, mode, prometheus, message",
    [
        (
            "v0.13.12",
            "frr-k8s",
            False,
            "MetalLB v0.13.12 has no manifest for frr-k8s mode (metallb-frr-k8s.yaml): it exists from v0.14.0",
        ),
        (
            "v0.13.3",
            "native",
            True,
            "MetalLB v0.13.3 has no manifest for native mode with --prometheus "
            "(metallb-native-prometheus.yaml): it exists from v0.13.5",
        ),
        ("v0.12.1", "native", False, "unknown MetalLB release v0.12.1: known releases are v0.13.0 .. v0.16.1"),
        ("v9.9.9", "native", False, "unknown MetalLB release v9.9.9"),
        ("latest", "native", False, "'latest' is not a MetalLB version like v0.16.1"),
        ("v0.16.1", "bgp", False, "unknown mode 'bgp': use one of native, frr, frr-k8s"),
    ],
)
def test_artifact_errors(tag, mode, prometheus, message):
    with pytest.raises(releases.ReleaseError) as caught:
        releases.artifact(tag, mode, prometheus)
    assert message in str(caught.value)


def test_known_digest():
    assert releases.known_digest("951065E85692AA106F1BB5D5A487D9306154923A794AB1D82122881CBAF588E4") == (
        "v0.14.9",
        "metallb-native.yaml",
    )
    assert releases.known_digest("0" * 64) is None
    assert releases.known_digest(None) is None


def test_min_kubernetes_and_webhook_names():
    assert releases.min_kubernetes("v0.16.1") == (1, 21)
    assert releases.min_kubernetes("v0.14.2") == (1, 21)
    assert releases.min_kubernetes("v0.14.1") is None
    assert releases.webhook_names("v0.14.3") == ("webhook-service", "webhook-server-cert")
    assert releases.webhook_names("v0.14.4") == ("metallb-webhook-service", "metallb-webhook-cert")
    assert releases.webhook_names("main") == ("metallb-webhook-service", "metallb-webhook-cert")


@pytest.mark.parametrize("text, version", [("v0.14.9", (0, 14, 9)), ("0.16.1", (0, 16, 1)), (" v1.2.3 ", (1, 2, 3))])
def test_parse_version(text, version):
    assert releases.parse_version(text) == version


@pytest.mark.parametrize("text", ["", None, "main", "v0.16", "v0.16.1-rc1", "vv0.1.2"])
def test_parse_version_rejects(text):
    with pytest.raises(ValueError):
        releases.parse_version(text)
