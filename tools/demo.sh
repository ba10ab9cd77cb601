#!/usr/bin/env bash
# The plugin's main job on the local real control plane: from a bare cluster to MetalLB handing out an address.
# The control plane runs no controllers and no kubelets, so where MetalLB's controller, the kubelets or the
# Deployment/DaemonSet controllers would act, this script writes what they would have written, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.controlplane}
python3 tools/controlplane/controlplane.py down "$dir"
rm -rf "$dir"  # a fresh cluster every time
eval "$(python3 tools/controlplane/controlplane.py up "$dir")"
export PATH="$PWD/.venv/bin:$PATH"  # kubectl (matching the server) and the kubectl-metallb plugin

run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@" || printf '(exit code %s)\n' "$?"; }
note() { printf '\n# %s\n' "$*"; }
status() {  # write an object's .status as its controller or kubelet would
  kubectl patch "$1" ${2:+-n "$2"} --subresource=status --type=merge -p "$3" >/dev/null
}

note "a bare-metal-like cluster: two nodes, kube-proxy in IPVS mode, a LoadBalancer Service waiting"
kubectl apply -f tools/demo/cluster.yaml >/dev/null
status node/demo-cp "" '{"status":{"addresses":[{"type":"InternalIP","address":"192.168.10.10"}]}}'
status node/demo-worker "" '{"status":{"addresses":[{"type":"InternalIP","address":"192.168.10.11"}]}}'

run kubectl metallb version
run kubectl metallb preflight --addresses 192.168.10.240-192.168.10.250
run kubectl metallb strict-arp --enable --yes

# The release manifest comes from GitHub; offline, the copy kept beside the repository as test data is used.
manifest=../shared/data/metallb-manifests/v0.16.1/metallb-native.yaml
source_args=()
[ -f "$manifest" ] && source_args=(--manifest "$manifest" --sha256 bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b)
run kubectl metallb install "${source_args[@]}" --no-wait

note "what the controllers and kubelets would report once MetalLB's pods run (simulated: none run here)"
gen=$(kubectl get deploy controller -n metallb-system -o jsonpath='{.metadata.generation}')
status deploy/controller metallb-system "{\"status\":{\"observedGeneration\":$gen,\"replicas\":1,\"updatedReplicas\":1,\"readyReplicas\":1,\"availableReplicas\":1,\"conditions\":[{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"MinimumReplicasAvailable\"}]}}"
gen=$(kubectl get ds speaker -n metallb-system -o jsonpath='{.metadata.generation}')
status ds/speaker metallb-system "{\"status\":{\"observedGeneration\":$gen,\"currentNumberScheduled\":2,\"desiredNumberScheduled\":2,\"numberMisscheduled\":0,\"numberReady\":2,\"updatedNumberScheduled\":2,\"numberAvailable\":2}}"
kubectl create secret generic memberlist -n metallb-system --from-literal=secretkey="$(openssl rand -base64 32)" >/dev/null
kubectl patch secret metallb-webhook-cert -n metallb-system --type=merge \
  -p "{\"data\":{\"ca.crt\":\"$(printf 'demo CA' | base64)\"}}" >/dev/null
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: metallb-webhook-service-demo
  namespace: metallb-system
  labels: {kubernetes.io/service-name: metallb-webhook-service}
addressType: IPv4
ports: [{port: 9443, protocol: TCP}]
endpoints: [{addresses: [10.244.0.5], conditions: {ready: true}, nodeName: demo-cp}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-demo
  namespace: demo
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints: [{addresses: [10.244.1.7], conditions: {ready: true}, nodeName: demo-worker}]
YAML
# No MetalLB controller serves the admission webhook here, so the demo removes its registration.
kubectl delete validatingwebhookconfiguration metallb-webhook-configuration >/dev/null

run kubectl metallb pools create demo --addresses 192.168.10.240-192.168.10.250 --l2

note "MetalLB's controller assigns an address to demo/web, a speaker announces it (simulated)"
kubectl annotate service web -n demo metallb.io/ip-allocated-from-pool=demo >/dev/null
status service/web demo '{"status":{"loadBalancer":{"ingress":[{"ip":"192.168.10.240","ipMode":"VIP"}]}}}'
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: metallb.io/v1beta1
kind: ServiceL2Status
metadata:
  name: l2-web-demo
  namespace: metallb-system
YAML
status servicel2status/l2-web-demo metallb-system \
  '{"status":{"node":"demo-worker","serviceName":"web","serviceNamespace":"demo","interfaces":[{"name":"eth0"}]}}'

run kubectl metallb pools
run kubectl metallb status
run kubectl metallb status --service demo/web

printf '\nThe control plane keeps running: export KUBECONFIG=%s\nStop it with: make demo-down\n' "$KUBECONFIG"
