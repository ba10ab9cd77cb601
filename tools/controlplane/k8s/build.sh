#!/usr/bin/env bash
# Builds a version-stamped kube-apiserver into $BIN (default: <repo>/bin), unless one is already there.
set -euo pipefail
cd "$(dirname "$0")"
K8S=$(GOFLAGS=-mod=mod go list -m -f "{{.Version}}" k8s.io/kubernetes)
MINOR=$(echo "$K8S" | cut -d. -f2)
BIN="${BIN:-$(cd ../../.. && pwd)/bin}"
mkdir -p "$BIN"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
if [ -x "$BIN/kube-apiserver" ] && "$BIN/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes ${K8S}"; then
  exit 0
fi
# Stamp the release the way upstream's hack/lib/version.sh does, so /version reports the real version.
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LDF="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDF+=" -X ${p}.gitVersion=${K8S} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${MINOR}"
  LDF+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=${DATE}"
done
echo "building kube-apiserver ${K8S} (a cold build takes several minutes)" >&2
go build -p 2 -trimpath -tags selinux,notest,grpcnotrace -ldflags "$LDF" \
  -o "$BIN/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
