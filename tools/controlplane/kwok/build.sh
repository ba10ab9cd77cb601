#!/usr/bin/env bash
# Builds kwok (fake kubelets for the full cluster) into $BIN (default: <repo>/bin), unless that version is there.
# kwok's module has no replace directives, so `go install` builds it straight from the Go module proxy.
set -euo pipefail
VERSION=v0.8.0
BIN="${BIN:-$(cd "$(dirname "$0")/../../.." && pwd)/bin}"
mkdir -p "$BIN"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# (the output is read whole first: grep -q stops reading early, and under pipefail the writer's SIGPIPE would fail)
if [ -x "$BIN/kwok" ] && grep -qP "^\tmod\tsigs.k8s.io/kwok\t${VERSION}\t" <<<"$(go version -m "$BIN/kwok" 2>/dev/null)"; then
  exit 0
fi
echo "building kwok ${VERSION}" >&2
cd "$(mktemp -d)"   # outside any module: `go install pkg@version` ignores the current module anyway
GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${VERSION}"
rmdir "$PWD"
