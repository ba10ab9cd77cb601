"""`kubectl metallb report` in process: what the archive holds, what it must never hold, and what it says about
what it could not collect (unit/inprocess.py's FakeCluster; tests/e2e has the real cluster)."""

import base64
import json
import os
import stat
import tarfile

import pytest
import yaml

from metallb_plugin import errors
from metallb_plugin.core.report import contents
from metallb_plugin.core.report.redact import REDACTED, Redactor, secret_summary
from unit.inprocess import FakeCluster, run_cli
from unit.test_status import NS, daemonset, deployment, node

BGP_PASSWORD = "bgp-pass-7Hq2"  # planted: must never appear in an archive
SECRET_VALUE = "secret-value-Zk9w"
NAME = "metallb-report-fake-20260102T030405Z"


def speaker_pod(name, node_name, restarts=0):
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "metallb", "component": "speaker"}},
        "spec": {"nodeName": node_name, "containers": [{"name": "speaker", "image": "quay.io/metallb/speaker:v0.16.1",
                                                         "args": ["--port=7472", "--log-level=info"]}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "speaker", "ready": True, "restartCount": restarts, "state": {"running": {}},
             **({"lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}} if restarts else {})}]},
    }  # fmt: skip


def cluster_objects():
    peer = {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {
            "name": "tor",
            "namespace": NS,
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                    {"kind": "BGPPeer", "spec": {"password": BGP_PASSWORD, "peerAddress": "198.51.100.2"}}
                )
            },
        },
        "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "198.51.100.2", "password": BGP_PASSWORD},
    }
    secret = {
        "kind": "Secret",
        "metadata": {"name": "bgp-auth", "namespace": NS, "annotations": {"note": "x"}},
        "type": "kubernetes.io/basic-auth",
        "data": {"password": base64.b64encode(SECRET_VALUE.encode()).decode()},
    }
    frr_config = {
        "kind": "ConfigMap",
        "metadata": {"name": "frr-startup", "namespace": NS},
        "data": {"frr.conf": f"router bgp 64512\n neighbor 198.51.100.2 password {SECRET_VALUE}\n"},
    }
    crd = {
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "bgppeers.metallb.io"},
        "spec": {"group": "metallb.io", "scope": "Namespaced", "names": {"plural": "bgppeers", "kind": "BGPPeer"},
                 "versions": [{"name": "v1beta2", "served": True, "storage": True, "schema": {"openAPIV3Schema": {}}}]},
    }  # fmt: skip
    web = {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.240"}]}},
    }
    return [deployment(), daemonset(), speaker_pod("speaker-a", "n1"), speaker_pod("speaker-b", "n2", restarts=2),
            node("n1"), node("n2"), peer, secret, frr_config, crd, web]  # fmt: skip


def fake_cluster():
    fake = FakeCluster(cluster_objects())
    fake.logs[(NS, "speaker-a", "speaker", False)] = f"started\nreloading with password {SECRET_VALUE}\n"
    fake.logs[(NS, "speaker-b", "speaker", False)] = "started again\n"
    fake.logs[(NS, "speaker-b", "speaker", True)] = f"panic: peer {BGP_PASSWORD}\n"
    return fake


def members(path):
    with tarfile.open(path) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}


def test_report_writes_one_private_archive_with_everything_listed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake = fake_cluster()
    result = run_cli("report", cluster=fake)
    assert result.code == 0, result.stderr
    path = tmp_path / f"{NAME}.tar.gz"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    found = members(path)
    names = {n.split("/", 1)[1] for n in found}
    assert all(n.startswith(f"{NAME}/") for n in found)
    for wanted in ("manifest.json", "manifest.txt", "cluster/version.json", "cluster/nodes.yaml", "cluster/crds.yaml",
                   "metallb/bgppeers.yaml", "namespaces/metallb-system/pods.yaml",
                   "namespaces/metallb-system/secrets.yaml", "namespaces/metallb-system/deployments.yaml",
                   "services/loadbalancers.yaml", "services/events.yaml", "services/endpointslices.yaml",
                   "kube-proxy/configmaps.yaml", "kube-proxy/strict-arp.json", "plugin/status.txt",
                   "plugin/status.json", "plugin/status-bgp.txt", "plugin/version.json",
                   "logs/metallb-system/speaker-a/speaker.log", "logs/metallb-system/speaker-b/speaker.log",
                   "logs/metallb-system/speaker-b/speaker.previous.log"):  # fmt: skip
        assert wanted in names, wanted
    manifest = json.loads(found[f"{NAME}/manifest.json"])
    assert {f["path"] for f in manifest["files"]} == names - {"manifest.json", "manifest.txt"}
    assert manifest["cluster"] == {"context": "fake", "server": "https://fake.invalid", "user": "admin"}
    assert {"path": "logs/metallb-system/speaker-a/speaker.previous.log",
            "reason": "no previous instance: the container has not restarted"} in manifest["notCollected"]  # fmt: skip
    status = json.loads(found[f"{NAME}/plugin/status.json"])
    assert status["installation"]["version"] == "v0.16.1"
    peers = yaml.safe_load(found[f"{NAME}/metallb/bgppeers.yaml"])
    assert peers["kind"] == "List" and peers["items"][0]["kind"] == "BGPPeer"
    assert peers["items"][0]["spec"]["peerAddress"] == "198.51.100.2"
    assert result.stdout.startswith(f"Wrote {NAME}.tar.gz (")
    assert "No previous log for 1 containers: they have not restarted." in result.stdout


def test_one_reading_serves_the_files_and_every_command_run_in_process(tmp_path):
    # status (four times), analyze (twice), version and strict-arp run inside the report: each collection is listed
    # once, and the plugin's own views describe the objects the report's files hold
    fake = fake_cluster()
    lists = []
    listing = fake.list

    def recorded(path, label_selector=None, field_selector=None, each=None):
        lists.append((path, label_selector, field_selector))
        return listing(path, label_selector, field_selector, each)

    fake.list = recorded
    path = tmp_path / "r.tar.gz"
    assert run_cli("report", "--file", str(path), cluster=fake).code == 0
    assert ("/api/v1/services", None, None) in lists and ("/api/v1/nodes", None, None) in lists
    assert len(set(lists)) == len(lists), [q for q in set(lists) if lists.count(q) > 1]
    status = json.loads(members(path)["r/plugin/status.json"])
    assert [s["name"] for s in status["services"]] == ["web"]
    assert status["services"][0]["ips"] == ["198.51.100.240"]


def test_no_planted_password_or_secret_value_anywhere(tmp_path):
    path = tmp_path / "r.tar.gz"
    assert run_cli("report", "--file", str(path), cluster=fake_cluster()).code == 0
    found = members(path)
    encoded = base64.b64encode(SECRET_VALUE.encode())
    for member, data in found.items():
        assert BGP_PASSWORD.encode() not in data, member
        assert SECRET_VALUE.encode() not in data and encoded not in data, member
    secrets = yaml.safe_load(found["r/namespaces/metallb-system/secrets.yaml"])["items"]
    assert secrets == [{"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "bgp-auth", "namespace": NS, "uid": secrets[0]["metadata"]["uid"]},
                        "type": "kubernetes.io/basic-auth", "keys": ["password"], "annotationKeys": ["note"]}]  # fmt: skip
    peer = yaml.safe_load(found["r/metallb/bgppeers.yaml"])["items"][0]
    assert peer["spec"]["password"] == REDACTED
    assert (
        json.loads(peer["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])["spec"][
            "password"
        ]
        == REDACTED
    )
    assert f"neighbor 198.51.100.2 password {REDACTED}" in found["r/namespaces/metallb-system/configmaps.yaml"].decode()
    assert found["r/logs/metallb-system/speaker-b/speaker.previous.log"] == f"panic: peer {REDACTED}\n".encode()


def test_no_redact_keeps_passwords_but_never_secret_values(tmp_path):
    path = tmp_path / "r.tar.gz"
    result = run_cli("report", "--file", str(path), "--no-redact", cluster=fake_cluster())
    assert result.code == 0
    assert "warning: --no-redact: the report holds BGP passwords, tokens and keys in clear text" in result.stderr
    found = members(path)
    assert BGP_PASSWORD in yaml.safe_load(found["r/metallb/bgppeers.yaml"])["items"][0]["spec"]["password"]
    secrets = found["r/namespaces/metallb-system/secrets.yaml"]
    assert b"\n  data:" not in secrets and base64.b64encode(SECRET_VALUE.encode()) not in secrets
    assert json.loads(found["r/manifest.json"])["redacted"] is False


def test_what_cannot_be_read_is_listed_with_the_reason(tmp_path):
    fake = fake_cluster()
    secrets = f"/api/v1/namespaces/{NS}/secrets"
    fake.fail("LIST", secrets, errors.Forbidden(403, "Forbidden", "secrets is forbidden", "GET", secrets))
    fake.logs[(NS, "speaker-a", "speaker", False)] = errors.APIError(
        500, "InternalError", 'Get "https://198.51.100.11:10250/containerLogs/metallb-system/speaker-a/speaker": '
        "dial tcp 198.51.100.11:10250: connect: connection refused", "GET", "/log")  # fmt: skip
    fake.logs[(NS, "speaker-b", "speaker", True)] = errors.APIError(
        400, "BadRequest", 'previous terminated container "speaker" in pod "speaker-b" not found', "GET", "/log"
    )
    path = tmp_path / "r.tar.gz"
    result = run_cli("report", "--file", str(path), cluster=fake)
    assert result.code == 0
    missing = {m["path"]: m["reason"] for m in json.loads(members(path)["r/manifest.json"])["notCollected"]}
    assert (
        missing["namespaces/metallb-system/secrets.yaml"] == "no permission to list Secrets in namespace metallb-system"
    )
    assert missing["logs/metallb-system/speaker-a/speaker.log"].endswith("connect: connection refused")
    assert missing["logs/metallb-system/speaker-b/speaker.previous.log"] == (
        'previous terminated container "speaker" in pod "speaker-b" not found'
    )
    assert "namespaces/metallb-system/secrets.yaml: no permission to list Secrets" in result.stdout


def test_size_cap_leaves_out_what_does_not_fit_and_says_so(tmp_path):
    fake = fake_cluster()
    fake.logs[(NS, "speaker-b", "speaker", False)] = "x" * 200_000
    path = tmp_path / "r.tar.gz"
    result = run_cli("report", "--file", str(path), "--max-size", "100k", cluster=fake)
    assert result.code == 0
    assert "warning: the report reached --max-size (100000 bytes before compression): 1 entries were left out" in (
        result.stderr
    )
    manifest = json.loads(members(path)["r/manifest.json"])
    assert {"path": "logs/metallb-system/speaker-b/speaker.log",
            "reason": "left out: the report reached --max-size (100000 bytes)"} in manifest["notCollected"]  # fmt: skip
    assert manifest["bytes"] <= 100_000


def test_tail_and_no_logs(tmp_path):
    fake = fake_cluster()
    fake.logs[(NS, "speaker-b", "speaker", False)] = "".join(f"line {i}\n" for i in range(50))
    assert run_cli("report", "--file", str(tmp_path / "a.tgz"), "--tail", "3", cluster=fake).code == 0
    assert members(tmp_path / "a.tgz")["a/logs/metallb-system/speaker-b/speaker.log"] == b"line 47\nline 48\nline 49\n"
    assert run_cli("report", "--file", str(tmp_path / "b.tgz"), "--no-logs", cluster=fake).code == 0
    assert not [n for n in members(tmp_path / "b.tgz") if "/logs/" in n]


def test_output_path_problems_exit_2_and_touch_nothing(tmp_path, capsys):
    fake = fake_cluster()
    missing_dir = run_cli("report", "--file", str(tmp_path / "no" / "such" / "r.tar.gz"), cluster=fake)
    assert missing_dir.code == 2
    assert missing_dir.stderr == (
        f"error: cannot write the report to {tmp_path}/no/such/r.tar.gz: No such file or directory; choose another "
        "path with --file\n"
    )
    existing = tmp_path / "r.tar.gz"
    existing.write_text("mine")
    again = run_cli("report", "--file", str(existing), cluster=fake)
    assert again.code == 2 and again.stderr == f"error: {existing} exists: choose another file name with --file\n"
    assert existing.read_text() == "mine" and fake.calls == []
    with pytest.raises(SystemExit) as bad:
        run_cli("report", "--max-size", "lots", cluster=fake)
    assert bad.value.code == 2 and "'lots' is not a size" in capsys.readouterr().err


def test_a_cluster_that_goes_away_leaves_no_partial_file(tmp_path):
    fake = fake_cluster()
    fake.fail("GET", "/version", errors.ClusterError("cannot reach the API server at https://fake.invalid"))
    path = tmp_path / "r.tar.gz"
    result = run_cli("report", "--file", str(path), cluster=fake)
    assert result.code == 3 and "cannot reach the API server" in result.stderr
    assert not path.exists()


def test_json_output_is_the_manifest(tmp_path):
    result = run_cli("report", "--file", str(tmp_path / "r.tar.gz"), "-o", "json", cluster=fake_cluster())
    doc = json.loads(result.stdout)
    assert doc["file"] == str(tmp_path / "r.tar.gz") and doc["bytes"] == os.path.getsize(tmp_path / "r.tar.gz")
    assert doc["manifest"]["kind"] == "MetalLBReport" and doc["manifest"]["namespace"] == NS


# --------------------------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" neighbor 198.51.100.2 password hunter2\n", f" neighbor 198.51.100.2 password {REDACTED}\n"),
        (
            "    token: abc.def\n    client-key-data: LS0t\n",
            f"    token: {REDACTED}\n    client-key-data: {REDACTED}\n",
        ),
        ("client-certificate-data: LS0t\n", "client-certificate-data: LS0t\n"),  # a certificate is public
        ('{"password":"a\\"b","x":1}', f'{{"password":"{REDACTED}","x":1}}'),
        ("API_TOKEN=abc\nSECRET_KEY_PATH=/etc/x\n", f"API_TOKEN={REDACTED}\nSECRET_KEY_PATH=/etc/x\n"),
        ("nothing to hide here", "nothing to hide here"),
    ],
)
def test_text_redaction(text, expected):
    assert Redactor().text(text) == expected


def test_object_redaction_keeps_references_and_selectors():
    obj = {
        "spec": {
            "password": "p",
            "passwordSecret": {"name": "bgp-auth", "namespace": NS},
            "nodeSelectors": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}],
            "template": {"spec": {"containers": [{
                "args": ["--password=x", "--token", "y", "--ml-secret-key-path=/etc/ml", "--log-level=info"],
                "env": [{"name": "DB_PASSWORD", "value": "v"}, {"name": "METALLB_ML_SECRET_NAME", "value": "memberlist"},
                        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}],
            }], "affinity": {"podAntiAffinity": {"topologyKey": "kubernetes.io/hostname"}}}},
        }
    }  # fmt: skip
    given = json.loads(json.dumps(obj))
    out = Redactor(known=["memberlist"]).object(obj)
    assert obj == given  # a redacted copy: what was read stays as it was
    spec = out["spec"]
    assert spec["password"] == REDACTED and spec["passwordSecret"] == {"name": "bgp-auth", "namespace": NS}
    assert spec["nodeSelectors"] == obj["spec"]["nodeSelectors"]
    container = spec["template"]["spec"]["containers"][0]
    assert container["args"] == [f"--password={REDACTED}", "--token", REDACTED, "--ml-secret-key-path=/etc/ml",
                                 "--log-level=info"]  # fmt: skip
    assert container["env"][0]["value"] == REDACTED
    assert container["env"][1]["value"] == REDACTED  # a known Secret value, wherever it appears
    assert container["env"][2]["valueFrom"] == {"secretKeyRef": {"name": "s", "key": "token"}}
    assert spec["template"]["spec"]["affinity"]["podAntiAffinity"]["topologyKey"] == "kubernetes.io/hostname"
    assert obj["spec"]["password"] == "p"  # a copy: the caller's object is unchanged
    assert Redactor(enabled=False).object(obj) is obj


def test_secret_summary_has_no_value():
    secret = {"metadata": {"name": "s", "namespace": NS, "annotations": {LAST: "{...}"}}, "type": "Opaque",
              "data": {"a": "eA=="}, "stringData": {"b": "y"}}  # fmt: skip
    summary = secret_summary(secret)
    assert summary["keys"] == ["a", "b"] and summary["annotationKeys"] == [LAST]
    assert "eA==" not in json.dumps(summary) and '"y"' not in json.dumps(summary)


LAST = "kubectl.kubernetes.io/last-applied-configuration"


def test_log_targets_previous_only_after_a_restart():
    targets, absent = contents.log_targets([speaker_pod("a", "n1"), speaker_pod("b", "n2", restarts=1)])
    assert targets == [(NS, "a", "speaker", False), (NS, "b", "speaker", False), (NS, "b", "speaker", True)]
    assert absent == [("logs/metallb-system/a/speaker.previous.log", contents.NO_PREVIOUS)]


def test_default_name_is_safe_for_any_context():
    from datetime import datetime, timezone

    from metallb_plugin.commands.report import default_name

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert default_name("arn:aws:eks:eu/prod", when) == "metallb-report-arn_aws_eks_eu_prod-20260102T030405Z.tar.gz"
    assert default_name("", when) == "metallb-report-cluster-20260102T030405Z.tar.gz"
