"""The API server calls webhooks at their Service's endpoints (--enable-aggregator-routing), never through DNS.

Without that flag a registered webhook makes kube-apiserver resolve NAME.NAMESPACE.svc with the machine's resolver
and dial whatever answers, outside loopback. With it, a webhook whose Service has no endpoints fails right there.
"""

import json
import os
import subprocess
import sys
import time
import uuid


def test_a_webhook_without_endpoints_is_refused_without_leaving_the_machine(controlplane, kubectl):
    suffix = uuid.uuid4().hex[:8]
    namespace, hook = f"t-hook-{suffix}", f"no-endpoints-{suffix}.example.com"
    kubectl("create", "namespace", namespace)
    kubectl("label", "namespace", namespace, f"webhook-test={suffix}")
    kubectl("create", "service", "clusterip", "nohook", "--tcp=443:9443", "-n", namespace)  # selects no Pod
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": hook},
        "webhooks": [{"name": hook, "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail",
                      "clientConfig": {"service": {"namespace": namespace, "name": "nohook", "path": "/validate"}},
                      "namespaceSelector": {"matchLabels": {"webhook-test": suffix}},
                      "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                 "resources": ["configmaps"]}]}]}))
    try:
        deadline = time.monotonic() + 30
        error = ""
        while time.monotonic() < deadline:  # the API server loads webhook configurations asynchronously
            done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "kubectl"), "--kubeconfig",
                                   controlplane.kubeconfig("admin"), "create", "configmap",
                                   f"probe-{uuid.uuid4().hex[:5]}", "-n", namespace],
                                  capture_output=True, text=True, timeout=60)
            error = done.stderr
            if done.returncode != 0:
                break
            time.sleep(0.5)
        assert f'failed calling webhook "{hook}"' in error, error
        assert 'no endpoints available for service "nohook"' in error, error
        assert "lookup" not in error  # no name was resolved
    finally:
        kubectl("delete", "validatingwebhookconfiguration", hook, "--ignore-not-found")
        kubectl("delete", "namespace", namespace, "--wait=false")
