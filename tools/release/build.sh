#!/usr/bin/env bash
# Builds the release tools into $BIN (default: <repo>/bin): krew-template (this folder; renders .krew.yaml) and
# actionlint (the pinned version in actionlint/go.mod, skipped when that version is already there).
set -euo pipefail
cd "$(dirname "$0")"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
BIN="${BIN:-$(cd ../.. && pwd)/bin}"
mkdir -p "$BIN"
go build -trimpath -o "$BIN/krew-template" ./krew-template
cd actionlint
VERSION=$(go list -m -f "{{.Version}}" github.com/rhysd/actionlint)
if [ -x "$BIN/actionlint" ] && [ "$("$BIN/actionlint" -version 2>/dev/null | head -n1)" = "$VERSION" ]; then
  exit 0
fi
echo "building actionlint ${VERSION}" >&2
go build -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=${VERSION}" \
  -o "$BIN/actionlint.tmp" github.com/rhysd/actionlint/cmd/actionlint
mv "$BIN/actionlint.tmp" "$BIN/actionlint"
