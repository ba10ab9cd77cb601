"""pools create, delete and migrate --apply through the one plan -> confirm -> apply path, on the real API server
with MetalLB's real CRDs (schemas and CEL rules; no webhook runs here).

The problems this reproduces, which failed before: a second `pools migrate --apply` whose generated names collide
(`l2advertisement1`) silently rewrote the first migration's objects; another stopped halfway on a conflict, half
applied, with a raw error; `pools create` and `migrate --apply` wrote without asking and migrate had neither
--dry-run nor --yes. Every test works in namespaces of its own.
"""

import json
import uuid

import pytest
import yaml

from helpers import interrupt_at_prompt, run_plugin, run_plugin_on_terminal

OFFICE = """\
address-pools:
- name: office
  protocol: layer2
  addresses: [198.51.100.0/28]
"""
LAB = """\
peers:
- peer-address: 192.0.2.1
  peer-asn: 64501
  my-asn: 64500
address-pools:
- name: lab
  protocol: layer2
  addresses: [203.0.113.0/28]
"""


@pytest.fixture
def ns(metallb_crds, kubectl):
    name = f"safe-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def legacy(kubectl, ns, name, config):
    kubectl("create", "configmap", name, "-n", ns, f"--from-literal=config={config}")


def objects(kubectl, ns):
    """{(kind, name): resourceVersion} of every MetalLB object in the namespace."""
    items = json.loads(kubectl("get", "ipaddresspools,l2advertisements,bgppeers", "-n", ns, "-o", "json"))["items"]
    return {(i["kind"], i["metadata"]["name"]): i["metadata"]["resourceVersion"] for i in items}


def test_a_second_migration_whose_names_collide_applies_nothing(ns, kubectl, admin):
    legacy(kubectl, ns, "config", OFFICE)
    legacy(kubectl, ns, "config-lab", LAB)
    first = run_plugin("pools", "migrate", "-n", ns, "--apply", "--yes", env=admin)
    assert first.returncode == 0, first.stderr
    assert "l2advertisement.metallb.io/l2advertisement1 created" in first.stdout
    before = objects(kubectl, ns)

    second = run_plugin("pools", "migrate", "-n", ns, "--from-configmap", f"{ns}/config-lab", "--apply", "--yes",
                        env=admin)
    assert second.returncode == 1
    assert (f"error: l2advertisement.metallb.io/l2advertisement1 in {ns}: kubectl metallb created it for another "
            f"purpose (pools migrate from ConfigMap {ns}/config). Nothing was changed; --overwrite") in second.stderr
    assert objects(kubectl, ns) == before  # neither the first migration's objects nor the second's pool or peer
    advertisement = json.loads(kubectl("get", "l2advertisement", "l2advertisement1", "-n", ns, "-o", "json"))
    assert advertisement["spec"]["ipAddressPools"] == ["office"]  # the office pool is still announced

    again = run_plugin("pools", "migrate", "-n", ns, "--apply", "--yes", env=admin)  # the first one, once more
    assert again.returncode == 0, again.stderr
    assert set(again.stdout.split()[1::2]) == {"unchanged"} and objects(kubectl, ns) == before


def test_a_migration_that_meets_an_object_of_someone_else_applies_nothing(ns, kubectl, admin):
    # the user's own BGPPeer, written with kubectl, has the name the conversion gives the legacy peer
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "peer1", "namespace": ns},
        "spec": {"myASN": 64500, "peerASN": 64999, "peerAddress": "192.0.2.99"}}))
    legacy(kubectl, ns, "config", LAB)
    before = objects(kubectl, ns)
    result = run_plugin("pools", "migrate", "-n", ns, "--apply", "--yes", env=admin)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: bgppeer.metallb.io/peer1 in {ns}: it exists and was not created by kubectl metallb. Nothing was "
        "changed; --overwrite changes objects kubectl metallb does not own and takes over fields others set")
    assert objects(kubectl, ns) == before  # not half applied: the pool and advertisement were not created either
    forced = run_plugin("pools", "migrate", "-n", ns, "--apply", "--yes", "--overwrite", env=admin)
    assert forced.returncode == 0, forced.stderr
    peer = json.loads(kubectl("get", "bgppeer", "peer1", "-n", ns, "-o", "json"))
    assert peer["spec"]["peerASN"] == 64501


def test_migrate_has_dry_run_and_asks(ns, kubectl, admin):
    legacy(kubectl, ns, "config", OFFICE)
    unasked = run_plugin("pools", "migrate", "-n", ns, "--apply", env=admin)
    assert unasked.returncode == 2
    assert (f"Apply 2 object(s) converted from ConfigMap {ns}/config to namespace {ns}? Pass --yes to go ahead"
            in unasked.stderr)
    dry = run_plugin("pools", "migrate", "-n", ns, "--dry-run", "-o", "yaml", env=admin)
    assert dry.returncode == 0, dry.stderr
    plan = yaml.safe_load(dry.stdout)
    assert plan["dryRun"] is True and [(o["kind"], o["result"]) for o in plan["objects"]] == [
        ("IPAddressPool", "created"), ("L2Advertisement", "created")]
    code, out, err, asked = interrupt_at_prompt("pools", "migrate", "-n", ns, "--apply", env=admin)
    assert asked and code == 130, err
    assert objects(kubectl, ns) == {}
    code, out, err = run_plugin_on_terminal("pools", "migrate", "-n", ns, "--apply", answer="y\n", env=admin)
    assert code == 0, err
    assert set(objects(kubectl, ns)) == {("IPAddressPool", "office"), ("L2Advertisement", "l2advertisement1")}


def test_pools_create_asks_and_ctrl_c_at_its_question_writes_nothing(ns, kubectl, admin):
    create = ("pools", "create", "asked", "-n", ns, "--addresses", "198.51.100.16/28", "--l2")
    unasked = run_plugin(*create, env=admin)
    assert unasked.returncode == 2 and "Pass --yes to go ahead" in unasked.stderr
    code, out, err, asked = interrupt_at_prompt(*create, env=admin)
    assert asked and code == 130 and err.rstrip().endswith("interrupted")
    assert objects(kubectl, ns) == {}
    code, out, err = run_plugin_on_terminal(*create, answer="y\n", env=admin)
    assert code == 0, err
    assert out == "ipaddresspool.metallb.io/asked created\nl2advertisement.metallb.io/asked created\n"


def test_ctrl_c_at_the_pools_delete_question_deletes_nothing(ns, kubectl, admin):
    # a pool name no other module annotates its Services with: pools delete counts them wherever they are
    made = run_plugin("pools", "create", "kept", "-n", ns, "--addresses", "198.51.100.32/28", "--l2", "--yes",
                      env=admin)
    assert made.returncode == 0, made.stderr
    before = objects(kubectl, ns)
    code, out, err, asked = interrupt_at_prompt("pools", "delete", "kept", "-n", ns, env=admin)
    assert asked and code == 130, err
    assert objects(kubectl, ns) == before
