"""The plugin's constants in one place: names, API versions, timeouts, limits."""

# who we are on the cluster
FIELD_MANAGER = "kubectl-metallb"  # server-side apply and every write
USER_AGENT = "kubectl-metallb"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubectl-metallb"}  # label on the objects the plugin creates
PURPOSE = "kubectl-metallb/purpose"  # annotation: what the plugin created an object for (e.g. which migration)

# namespaces and names
NAMESPACE = "metallb-system"  # MetalLB's namespace unless -n says otherwise
KUBE_SYSTEM = "kube-system"
INVENTORY = "kubectl-metallb-install"  # ConfigMap in MetalLB's namespace: what install applied (read by uninstall)

# MetalLB's API
METALLB_GROUP = "metallb.io"
V1BETA1 = "metallb.io/v1beta1"
V1BETA2 = "metallb.io/v1beta2"  # BGPPeer since v0.13.0
FRRK8S = "frrk8s.metallb.io/v1beta1"  # frr-k8s' BGPSessionState, FRRNodeState, FRRConfiguration
DOCS = "https://metallb.io"

# the plugin's own home (the GitHub repository .krew.yaml names; a test keeps the two equal)
HOMEPAGE = "https://github.com/kubectl-metallb/kubectl-metallb"

# timeouts and polling, in seconds
CONNECT_TIMEOUT = 30.0  # the TCP/TLS connect limit, also when --request-timeout is longer
DOWNLOAD_TIMEOUT = 60.0  # a release manifest, without --request-timeout
POLL_SECONDS = 2.0  # between two reads while waiting
INSTALL_TIMEOUT = 300.0  # install --timeout
STATUS_TIMEOUT = 300.0  # status --wait --timeout
ROLLOUT_TIMEOUT = 300.0  # strict-arp --wait --timeout
UNINSTALL_TIMEOUT = 60.0  # uninstall --timeout (CRDs gone)
POOLS_TIMEOUT = 120.0  # pools create --timeout (the webhook answers)
CRD_TIMEOUT = 60.0  # install: CRDs Established, at least this long

# reading
LIST_PAGE_SIZE = 500  # objects per LIST page, as kubectl
READ_WORKERS = 8  # parallel LISTs of a snapshot
BGP_LOG_LINES = 5000  # status --bgp: the last lines of each speaker's log searched for session events
