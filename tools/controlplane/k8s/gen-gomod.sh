#!/usr/bin/env bash
# Regenerates go.mod/go.sum: a wrapper module that builds kube-apiserver, kube-controller-manager and
# kube-scheduler from k8s.io/kubernetes.
# k8s.io/kubernetes requires its staging modules at v0.0.0 and resolves them with local replaces
# that only work inside its own repository, so each one is replaced here by its published v0.Y.Z.
set -euo pipefail
K8S="${K8S:-v1.37.2}"
STAGING="v0.${K8S#v1.}"
cd "$(dirname "$0")"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
rm -f go.mod go.sum
go mod init kubectl-metallb/controlplane/k8s >/dev/null 2>&1
modfile=$(go mod download -json "k8s.io/kubernetes@${K8S}" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
sed -n 's|^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/k8s\.io/.*|\1|p' "$modfile" |
  while read -r m; do go mod edit -replace="${m}=${m}@${STAGING}"; done
# upstream builds with these GODEBUG defaults; in a dependency they are ignored, so restate them
grep -E '^godebug [a-z]' "$modfile" | awk '{print $2}' | while read -r kv; do go mod edit -godebug="$kv"; done
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  go get -tool "k8s.io/kubernetes/cmd/${cmd}@${K8S}"
done
go mod tidy
