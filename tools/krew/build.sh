#!/usr/bin/env bash
# Builds krew (as the kubectl plugin `kubectl-krew`) and validate-krew-manifest into $BIN (default: <repo>/bin),
# unless the pinned version is already there. Tests use them to prove krew-manifest.yaml and the release archive
# with the real tools.
# krew v0.4.3 pins github.com/modern-go/reflect2 v1.0.1, which crashes in map iteration on Go >= 1.18; this
# wrapper module requires reflect2 v1.0.2 and json-iterator v1.1.12 so that minimal version selection lifts them.
set -euo pipefail
cd "$(dirname "$0")"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
VERSION=$(go list -m -f "{{.Version}}" sigs.k8s.io/krew)
BIN="${BIN:-$(cd ../.. && pwd)/bin}"
mkdir -p "$BIN"
if [ -x "$BIN/kubectl-krew" ] && [ -x "$BIN/validate-krew-manifest" ] &&
  "$BIN/kubectl-krew" version 2>/dev/null | grep -q "GitTag *${VERSION}$"; then
  exit 0
fi
echo "building krew ${VERSION} and validate-krew-manifest" >&2
# stamped like upstream's release build, so `kubectl krew version` names the real tag
LDF="-s -w -X sigs.k8s.io/krew/internal/version.gitTag=${VERSION} -X sigs.k8s.io/krew/internal/version.gitCommit=${VERSION}"
go build -trimpath -ldflags "$LDF" -o "$BIN/kubectl-krew.tmp" sigs.k8s.io/krew/cmd/krew
go build -trimpath -ldflags "$LDF" -o "$BIN/validate-krew-manifest.tmp" sigs.k8s.io/krew/cmd/validate-krew-manifest
mv "$BIN/kubectl-krew.tmp" "$BIN/kubectl-krew"
mv "$BIN/validate-krew-manifest.tmp" "$BIN/validate-krew-manifest"
