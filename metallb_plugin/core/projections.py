"""What the read commands (status, analyze, preflight, pools) keep of the kinds a large cluster has many of:
Services, Nodes, and the ServiceL2Status/ServiceBGPStatus objects there are one or more of per Service (an
EndpointSlice is reduced further, to core/endpoints.Slice).

Applied to each object as its LIST page is decoded (Source.fields, Client.list(each=...)): every field some check
reads stays, the rest (server bookkeeping, the Node's image list, session affinity, ...) is dropped before the next
page arrives. tests/unit/test_projections.py fails when code starts reading a field dropped here: add it then.
Commands that print whole objects (report) read their kinds unprojected.
"""

from metallb_plugin.core.snapshot import Fields

METADATA: Fields = {
    "name": True,
    "namespace": True,
    "labels": True,
    "annotations": True,
    "ownerReferences": True,
    "finalizers": True,
    "creationTimestamp": True,
    "deletionTimestamp": True,
}

SERVICE: Fields = {
    "apiVersion": True,
    "kind": True,
    "metadata": METADATA,
    "spec": {
        "type": True,
        "ports": True,
        "selector": True,
        "clusterIP": True,
        "clusterIPs": True,
        "externalIPs": True,
        "externalTrafficPolicy": True,
        "ipFamilies": True,
        "ipFamilyPolicy": True,
        "loadBalancerClass": True,
        "loadBalancerIP": True,
        "loadBalancerSourceRanges": True,
    },
    "status": True,
}

NODE: Fields = {
    "apiVersion": True,
    "kind": True,
    "metadata": METADATA,
    "spec": True,
    "status": {"conditions": True, "addresses": True, "nodeInfo": True, "phase": True, "daemonEndpoints": True},
}

SERVICE_STATUS: Fields = {  # ServiceL2Status and ServiceBGPStatus: which node announces which Service
    "apiVersion": True,
    "kind": True,
    # read for the Service and node they name (the labels, until the speaker has written the status)
    "metadata": {"name": True, "namespace": True, "labels": True},
    "spec": True,
    "status": True,
}
