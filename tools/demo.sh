#!/usr/bin/env bash
# The plugin's main job, on a real cluster: from bare nodes to a Service whose address MetalLB answers for on the
# LAN. Everything that reports here is the real thing: kube-controller-manager and kube-scheduler, kwok's
# kubelets, and MetalLB's own controller and speaker binaries run by the kubelet stand-in (tools/controlplane).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.controlplane}
cluster=tools/controlplane/controlplane.py
python3 "$cluster" down "$dir"
rm -rf "$dir"  # a fresh cluster every time
trap 'python3 "$cluster" down "$dir"; exit 130' INT TERM
eval "$(python3 "$cluster" up --full "$dir")"
export PATH="$PWD/.venv/bin:$PATH"  # kubectl (matching the server) and the kubectl-metallb plugin

run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@" || printf '(exit code %s)\n' "$?"; }
note() { printf '\n# %s\n' "$*"; }

note "a fresh cluster: two nodes on a LAN (198.51.100.0/24), kube-proxy in IPVS mode, an app waiting for an address"
kubectl apply -f tools/demo/cluster.yaml >/dev/null
run kubectl get nodes -o wide
run kubectl metallb version
run kubectl metallb preflight --addresses 198.51.100.240-198.51.100.250
run kubectl metallb strict-arp --enable --yes --wait

# The release manifest comes from GitHub; offline, the copy kept beside the repository as test data is used.
manifest=../shared/data/metallb-manifests/v0.16.1/metallb-native.yaml
source_args=()
[ -f "$manifest" ] && source_args=(--manifest "$manifest" --sha256 bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b)
run kubectl metallb install "${source_args[@]}" --yes
run kubectl get pods -n metallb-system -o wide
run kubectl metallb pools create demo --addresses 198.51.100.240-198.51.100.250 --l2 --yes

note "MetalLB's controller assigns demo/web an address; a speaker answers ARP for it on the LAN"
kubectl wait service/web -n demo --for=jsonpath='{.status.loadBalancer.ingress[0].ip}' --timeout=60s >/dev/null
run kubectl get service web -n demo
address=$(kubectl get service web -n demo -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
run python3 tools/controlplane/arp.py --cluster "$dir" "$address" --count 3

run kubectl metallb pools
run kubectl metallb status
run kubectl metallb status --service demo/web

trap - INT TERM
printf '\nThe cluster keeps running: export KUBECONFIG=%s\nStop it with: make demo-down\n' "$KUBECONFIG"
