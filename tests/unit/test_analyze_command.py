"""`kubectl metallb analyze` in process: offline on the fixture directories (tests/fixtures/analyze), against an
in-memory cluster, and both overlaid; output formats, thresholds, exit codes and bad input."""

import json
import os

import yaml

from metallb_plugin.core import analyze
from unit.inprocess import FakeCluster, run_cli

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "analyze")
SOUND, BROKEN, GITOPS = (os.path.join(FIXTURES, d) for d in ("sound", "broken", "gitops"))
NS = "metallb-system"


def doc(*argv, cluster=None, stdin=""):
    result = run_cli("analyze", *argv, "-o", "json", cluster=cluster, stdin=stdin)
    return result, json.loads(result.stdout)


def found(document):
    return [f["code"] for f in document["findings"]]


def test_a_sound_repository_passes_without_a_cluster():
    result = run_cli("analyze", "-f", SOUND, "--backend", "frr-k8s")
    assert result.code == 0, result.stdout + result.stderr
    assert (
        "no findings" in result.stdout and "√ 0 errors, 0 warnings, 0 info (failure threshold: error)" in result.stdout
    )
    _, document = doc("-f", SOUND, "--backend", "frr-k8s")
    assert document["success"] and document["skipped"] == [] and document["metallb"] is None


def test_the_broken_repository_every_finding_with_objects_fields_and_links():
    result, document = doc("-f", BROKEN, "-R", "--backend", "native")
    assert result.code == 1
    assert found(document) == [
        "MLB0101", "MLB0103", "MLB0104", "MLB0201", "MLB0302", "MLB0401", "MLB0402", "MLB0404", "MLB0501",
        "MLB0601", "MLB0602", "MLB0405", "MLB0405", "MLB0604", "MLB0605",
    ]  # fmt: skip
    first = document["findings"][0]
    assert first == {
        "code": "MLB0101",
        "level": "error",
        "message": 'L2Advertisement lan announces pool "lam", which does not exist in metallb-system',
        "fix": "correct the name (pools in metallb-system: lan, lan-extra) or create IPAddressPool lam in metallb-system",
        "objects": [{"kind": "L2Advertisement", "namespace": NS, "name": "lan", "field": "spec.ipAddressPools[2]"}],
        "documentation": analyze.doc_url("MLB0101"),
    }
    assert document["counts"] == {"error": 11, "warning": 4, "info": 0}
    assert [s["code"] for s in document["skipped"]] == ["MLB0105", "MLB0406"]


def test_directories_are_read_recursively_only_with_r():
    _, flat = doc("-f", BROKEN, "--backend", "native")
    assert "MLB0501" not in found(flat) and "MLB0103" not in found(flat)  # they are in bgp/


def test_failure_threshold_sets_the_exit_code():
    gitops_warning = ["-f", SOUND, "-f", os.path.join(BROKEN, "services.json"), "--backend", "frr"]
    assert run_cli("analyze", *gitops_warning).code == 1  # MLB0601/MLB0602 are errors
    only_warnings = ["-f", SOUND, "--backend", "frr", "-f", "-"]
    legacy = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "old", "namespace": "shop"},
         "spec": {"type": "LoadBalancer", "loadBalancerIP": "198.51.100.244", "ports": [{"port": 80}]}}
    )  # fmt: skip
    assert run_cli("analyze", *only_warnings, stdin=legacy).code == 0
    assert run_cli("analyze", *only_warnings, "--failure-threshold", "warning", stdin=legacy).code == 1
    result = run_cli("analyze", *only_warnings, "--failure-threshold", "info", stdin=legacy)
    assert result.code == 1 and "‼ MLB0605 Service shop/old sets spec.loadBalancerIP (198.51.100.244)" in result.stdout


def test_objects_without_a_namespace_and_other_kinds():
    result = run_cli("analyze", "-f", GITOPS, "-R", "-v")
    assert result.code == 0
    assert result.stderr == "not analyzed (kinds the analyzer does not read): Ingress shop\n"
    _, document = doc("-f", GITOPS, "-R", "-n", "lb")
    assert found(document) == []  # pool and advertisement both land in lb, MetalLB's namespace here
    assert document["namespace"] == "lb"


def test_yaml_output():
    result = run_cli("analyze", "-f", BROKEN, "--backend", "native", "-o", "yaml")
    document = yaml.safe_load(result.stdout)
    assert document["threshold"] == "error" and document["findings"][0]["code"] == "MLB0101"


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    result = run_cli("analyze", "-f", str(bad))
    assert result.code == 2 and result.stderr.startswith(f"error: -f: {bad} is not valid YAML")
    assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli("analyze", "-f", str(tmp_path / "nope.yaml"))
    assert missing.code == 2 and missing.stderr == f"error: -f {tmp_path / 'nope.yaml'}: no such file\n"
    no_name = tmp_path / "noname.yaml"
    no_name.write_text("apiVersion: v1\nkind: Service\nmetadata: {}\n")
    assert "lacks apiVersion, kind or metadata.name" in run_cli("analyze", "-f", str(no_name)).stderr
    unknown = run_cli("analyze", "-f", SOUND, "--skip-check", "MLB9999")
    assert unknown.code == 2 and "--skip-check MLB9999: no such code" in unknown.stderr
    overlay = run_cli("analyze", "--overlay")
    assert overlay.code == 2 and "--overlay needs the files" in overlay.stderr


def test_skip_check():
    _, document = doc("-f", BROKEN, "--backend", "native", "--skip-check", "mlb0101")
    assert "MLB0101" not in found(document)
    assert {"code": "MLB0101", "title": "advertisements name pools that exist", "reason": "skipped (--skip-check)"} in (
        document["skipped"]
    )


# --------------------------------------------------------------------------------------------- live and overlay


def metallb_objects():
    """The sound configuration as a cluster holds it (LISTed objects carry no kind; the store keeps them)."""
    objects = []
    for name in sorted(os.listdir(SOUND)):
        with open(os.path.join(SOUND, name)) as handle:
            for item in yaml.safe_load_all(handle):
                objects += item["items"] if item.get("kind") == "List" else [item]
    return [o for o in objects if o["kind"] in ("IPAddressPool", "L2Advertisement", "BGPAdvertisement", "BGPPeer",
                                               "Node", "Service", "Secret")]  # fmt: skip


def test_live_cluster():
    fake = FakeCluster(metallb_objects())
    result, document = doc("--backend", "frr", cluster=fake)
    # the Community and the BFD profile are not in the fake cluster's kinds: the references to them dangle
    assert found(document) == ["MLB0103", "MLB0104"] and result.code == 1
    listed = {path for method, path in fake.calls if method == "LIST"}
    assert "/api/v1/namespaces/metallb-system/secrets" in listed and "/api/v1/nodes" in listed


def test_overlay_checks_a_change_before_it_is_applied(tmp_path):
    lan = [o for o in metallb_objects() if o["kind"] in ("L2Advertisement", "Node", "Service")]
    fake = FakeCluster(lan + [o for o in metallb_objects() if o["metadata"]["name"] == "lan"])
    change = tmp_path / "pool.yaml"
    change.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "metallb.io/v1beta1",
                "kind": "IPAddressPool",
                "metadata": {"name": "more", "namespace": NS},
                "spec": {"addresses": ["198.51.100.250-198.51.100.252"]},
            }
        )
    )
    result, document = doc("-f", str(change), "--overlay", "--backend", "frr", cluster=fake)
    assert found(document) == ["MLB0402", "MLB0301"] and result.code == 1
    assert fake.writes() == []
    clean, _ = doc("--backend", "frr", cluster=fake)
    assert clean.code == 0
