#!/usr/bin/env bash
# Builds version-stamped kube-apiserver, kube-controller-manager and kube-scheduler into $BIN (default:
# <repo>/bin), each only when missing or of another version. `build.sh kube-apiserver` builds just that one.
set -euo pipefail
cd "$(dirname "$0")"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
K8S=$(go list -m -f "{{.Version}}" k8s.io/kubernetes)
MINOR=$(echo "$K8S" | cut -d. -f2)
BIN="${BIN:-$(cd ../../.. && pwd)/bin}"
mkdir -p "$BIN"
[ $# -gt 0 ] || set -- kube-apiserver kube-controller-manager kube-scheduler
missing=()
for cmd in "$@"; do
  if ! { [ -x "$BIN/$cmd" ] && grep -qx "Kubernetes ${K8S}" <<<"$("$BIN/$cmd" --version 2>/dev/null)"; }; then
    missing+=("$cmd")
  fi
done
[ ${#missing[@]} -gt 0 ] || exit 0
# Stamp the release the way upstream's hack/lib/version.sh does, so /version reports the real version.
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LDF="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDF+=" -X ${p}.gitVersion=${K8S} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${MINOR}"
  LDF+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=${DATE}"
done
echo "building ${missing[*]} ${K8S} (a cold build takes several minutes)" >&2
tmp="$BIN/.k8s-build.tmp"
rm -rf "$tmp" && mkdir -p "$tmp"
go build -p 2 -trimpath -tags selinux,notest,grpcnotrace -ldflags "$LDF" \
  -o "$tmp/" "${missing[@]/#/k8s.io/kubernetes/cmd/}"
for cmd in "${missing[@]}"; do mv "$tmp/$cmd" "$BIN/$cmd"; done
rmdir "$tmp"
