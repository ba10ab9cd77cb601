#!/usr/bin/env bash
# Builds etcd into $BIN (default: <repo>/bin), unless the pinned version is already there.
# etcd's server module carries replace directives, so `go install` refuses it; this wrapper module builds it.
set -euo pipefail
cd "$(dirname "$0")"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
VERSION=$(go list -m -f "{{.Version}}" go.etcd.io/etcd/server/v3)
BIN="${BIN:-$(cd ../../.. && pwd)/bin}"
mkdir -p "$BIN"
# (the output is read whole first: grep -q stops reading early, and under pipefail the writer's SIGPIPE would fail)
if [ -x "$BIN/etcd" ] && grep -q "etcd Version: ${VERSION#v}$" <<<"$("$BIN/etcd" --version 2>/dev/null)"; then
  exit 0
fi
echo "building etcd ${VERSION}" >&2
go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${VERSION}" \
  -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
mv "$BIN/etcd.tmp" "$BIN/etcd"
