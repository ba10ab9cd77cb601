"""Hand-written objects for the Prometheus tests: what MetalLB's Prometheus variants add to a release manifest, and
the Prometheus operator's objects of the two layouts users have (kube-prometheus, the kube-prometheus-stack chart).

The variant's objects are written from what every release v0.13.5-v0.16.1 ships (README, "Prometheus"): a Role
that lets list Services, Endpoints and Pods in MetalLB's namespace, its RoleBinding to ServiceAccount
monitoring/prometheus-k8s, the two headless monitor Services on port metricshttps (9120) and their ServiceMonitors
(HTTPS, the scraper's own token from its bearer token file). No upstream file is copied: the tests that need a
whole manifest add these to the unmodified upstream native manifest kept as test data.
"""

import os
import subprocess

from helpers import REPO

NS = "metallb-system"
CRDS_SCRIPT = os.path.join(REPO, "tools", "controlplane", "prometheus", "crds.sh")


def role(namespace=NS):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "prometheus-k8s", "namespace": namespace},
        "rules": [
            {"apiGroups": [""], "resources": ["services", "endpoints", "pods"], "verbs": ["get", "list", "watch"]}
        ],
    }


def role_binding(namespace=NS):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "prometheus-k8s", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "prometheus-k8s"},
        "subjects": [{"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"}],
    }


def monitor_service(component, namespace=NS):
    name = f"{component}-monitor-service"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": {"name": name}},
        "spec": {
            "clusterIP": "None",
            "selector": {"component": component},
            "ports": [{"name": "metricshttps", "port": 9120, "targetPort": 9120}],
        },
    }


def service_monitor(component, namespace=NS):
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": f"{component}-monitor", "namespace": namespace, "labels": {"component": component}},
        "spec": {
            "jobLabel": "component",
            "namespaceSelector": {"matchNames": [namespace]},
            "selector": {"matchLabels": {"name": f"{component}-monitor-service"}},
            "endpoints": [
                {
                    "port": "metricshttps",
                    "scheme": "https",
                    "interval": "30s",
                    "honorLabels": True,
                    "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                    "tlsConfig": {"insecureSkipVerify": True},
                }
            ],
        },
    }


def variant(namespace=NS):
    """The objects a Prometheus variant adds to the native manifest."""
    return [
        role(namespace),
        role_binding(namespace),
        *(monitor_service(c, namespace) for c in ("controller", "speaker")),
        *(service_monitor(c, namespace) for c in ("controller", "speaker")),
    ]


# The variant also lets the controller and the speaker check their scrapers: their metrics endpoints (HTTPS since
# v0.16; kube-rbac-proxy before) send the scraper's token to a TokenReview and a SubjectAccessReview.
REVIEW_RULES = [
    {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
]


def variant_manifest(native, namespace=NS):
    """A Prometheus variant made from the documents of a native release manifest: the objects the variant adds,
    and the review rules in the controller's and the speaker's ClusterRoles."""
    docs = []
    for doc in native:
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] in (f"{namespace}:controller",
                                                                        f"{namespace}:speaker"):
            doc = {**doc, "rules": REVIEW_RULES + doc.get("rules", [])}
        docs.append(doc)
    return docs + variant(namespace)


# --------------------------------------------------------------------------------------------- Prometheus's side


def prometheus(name="k8s", ns="monitoring", account="prometheus-k8s", selector=None, ns_selector=None, **spec):
    """A Prometheus object; selector/ns_selector default to {} (everything, as kube-prometheus has them), pass
    False for a null selector."""
    body = dict(spec)
    if account:
        body["serviceAccountName"] = account
    if selector is not False:
        body["serviceMonitorSelector"] = {} if selector is None else selector
    if ns_selector is not False:
        body["serviceMonitorNamespaceSelector"] = {} if ns_selector is None else ns_selector
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": name, "namespace": ns},
        "spec": body,
    }


def helm_prometheus(**spec):
    """What the kube-prometheus-stack chart creates (release "kps"): its own namespace and ServiceAccount, and it
    selects only ServiceMonitors labelled with its release."""
    return prometheus("kps-prometheus", "observability", "kps-prometheus", {"matchLabels": {"release": "kps"}}, {},
                      **spec)  # fmt: skip


def runs_as(found):
    """The Namespace and ServiceAccount a Prometheus object runs as, and the grant both layouts give it to GET
    /metrics (MetalLB's metrics endpoints check exactly that)."""
    ns, account = found["metadata"]["namespace"], found["spec"]["serviceAccountName"]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": ns}},
        *metrics_grant(found),
    ]


def metrics_grant(found):
    """A ClusterRole that lets GET /metrics, bound to the ServiceAccount a Prometheus object runs as."""
    ns, account = found["metadata"]["namespace"], found["spec"]["serviceAccountName"]
    name = f"{ns}-{account}-metrics"
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
        },
    ]


def operator_crds():
    """(directory of the Prometheus operator's CRDs in Go's module cache, their names), or (None, why not).
    Never the network: GOPROXY=off (make prometheus-crds downloads the module)."""
    found = subprocess.run([CRDS_SCRIPT], capture_output=True, text=True, env={**os.environ, "GOPROXY": "off"})
    if found.returncode != 0:
        return None, f"the Prometheus operator's CRDs are not available: {found.stderr.strip()}"
    directory = found.stdout.strip()
    prefix = "monitoring.coreos.com_"
    names = [f"{n[len(prefix) : -len('.yaml')]}.monitoring.coreos.com" for n in sorted(os.listdir(directory))]
    return directory, names
