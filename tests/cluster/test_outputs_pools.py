"""-o json and -o yaml of every pools command, parsed as a script would, on the shared API server with MetalLB's
real CRDs (a namespace of the test's own; no webhook runs, so writes are checked by the CRDs' schemas only)."""

import json

import yaml

from helpers import run_plugin

LEGACY = """\
address-pools:
- name: office
  protocol: layer2
  addresses: [198.51.100.0/28]
"""


def parsed(*argv, env, fmt="json"):
    result = run_plugin(*argv, "-o", fmt, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if fmt == "json" else list(yaml.safe_load_all(result.stdout))


def test_every_pools_command(metallb_crds, namespace, admin, tmp_path):
    ns = ["-n", namespace]
    assert parsed("pools", *ns, env=admin) == {"namespace": namespace, "pools": [], "warnings": []}
    dry = parsed("pools", "create", "web", *ns, "--addresses", "2001:db8::/64", "--l2", "--dry-run", env=admin)
    assert (dry["operation"], dry["dryRun"]) == ("pools create", True)
    assert [(o["kind"], o["result"]) for o in dry["objects"]] == [("IPAddressPool", "created"),
                                                                 ("L2Advertisement", "created")]
    created = parsed("pools", "create", "web", *ns, "--addresses", "2001:db8::/64", "--l2", "--yes", env=admin,
                     fmt="yaml")
    assert [o["kind"] for o in created[0]["objects"]] == ["IPAddressPool", "L2Advertisement"]
    listed = parsed("pools", *ns, env=admin)["pools"][0]
    assert listed["size"] == str(2**64)  # beyond what a JSON double holds exactly: a decimal string
    assert listed["used"] == 0
    deleted = parsed("pools", "delete", "web", *ns, "--yes", env=admin)
    assert (deleted["operation"], deleted["dryRun"]) == ("pools delete", False)
    assert [(o["kind"], o["name"], o["result"]) for o in deleted["objects"]] == [
        ("IPAddressPool", "web", "deleted"), ("L2Advertisement", "web", "deleted")]
    legacy = tmp_path / "legacy.yaml"
    legacy.write_text(LEGACY)
    converted = parsed("pools", "migrate", "-f", str(legacy), *ns, env=admin)
    assert {o["kind"] for o in converted["items"]} == {"IPAddressPool", "L2Advertisement"}
