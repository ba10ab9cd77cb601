"""status for users who may not read the whole cluster: each kind it may not read is skipped with the reason, and
a user whose rights end at MetalLB's namespace still gets a report of that namespace (-n)."""

import json

import yaml

from helpers import run_plugin

READER_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "metallb-reader"},
    "rules": [
        {"apiGroups": ["", "apps", "metallb.io", "discovery.k8s.io"], "verbs": ["get", "list", "watch"],
         "resources": ["pods", "events", "configmaps", "secrets", "deployments", "daemonsets", "endpointslices",
                       "ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers",
                       "configurationstates", "servicel2statuses", "servicebgpstatuses"]}],
}


def metallb_workloads(upstream_manifest, namespace):
    """MetalLB v0.16.1's controller Deployment and speaker DaemonSet, moved into namespace."""
    with open(upstream_manifest("v0.16.1")) as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d and d["kind"] in ("Deployment", "DaemonSet")]
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    return docs


def test_a_user_limited_to_metallbs_namespace_gets_its_report(controlplane, kubectl, namespace, metallb_crds,
                                                             upstream_manifest):
    try:
        for doc in metallb_workloads(upstream_manifest, namespace) + [dict(READER_ROLE, metadata={
                "name": "metallb-reader", "namespace": namespace})]:
            kubectl("apply", "-f", "-", input=json.dumps(doc))
        kubectl("-n", namespace, "create", "rolebinding", "nobody-reads", "--role=metallb-reader", "--user=nobody")
        env = {"KUBECONFIG": controlplane.kubeconfig("nobody")}
        result = run_plugin("status", "-n", namespace, env=env)
        assert result.returncode == 1, result.stderr  # a report (MetalLB is not running here), not "forbidden"
        assert f"MetalLB v0.16.1 in {namespace} (manifest" in result.stdout
        assert (f"warning: no permission to list DaemonSets, Deployments, bgpadvertisements.metallb.io, "
                f"bgppeers.metallb.io") in result.stderr
        assert f"in all namespaces: read namespace {namespace} only" in result.stderr
        doc = json.loads(run_plugin("status", "-n", namespace, "-o", "json", env=env).stdout)
        checks = {c["id"]: c for cat in doc["checks"]["categories"] for c in cat["checks"]}
        assert checks["install.found"]["result"] == "ok"
        assert checks["services.pending"]["result"] == "skip"
        assert checks["services.pending"]["message"] == "no permission to list Services in all namespaces"
    finally:  # no namespace controller here: the namespace's deletion would leave MetalLB's workloads behind, and
        # every later install on this server would find them
        kubectl("-n", namespace, "delete", "deployment,daemonset", "--all", "--wait=false")


def test_a_user_who_may_read_nothing_gets_an_unknown_verdict(controlplane):
    env = {"KUBECONFIG": controlplane.kubeconfig("nobody")}
    result = run_plugin("status", env=env)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("MetalLB: cannot tell whether it is installed (namespace metallb-system)")
    assert ("MetalLB's health is unknown: no permission to list Deployments in namespace metallb-system"
            in result.stdout)
    doc = json.loads(run_plugin("status", "-o", "json", env=env).stdout)
    assert doc["verdict"] == "unknown"
