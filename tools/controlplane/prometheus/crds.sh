#!/usr/bin/env bash
# The Prometheus operator's CRDs (monitoring.coreos.com) for the Prometheus tests. The operator's Go module ships
# them under example/prometheus-operator-crd/; this downloads the module into Go's module cache (only once) and
# prints the directory of the CRDs. The tests run it with GOPROXY=off: they read the cache and never the network.
set -euo pipefail
VERSION=v0.85.0
cd "$(mktemp -d)"   # outside any module
dir=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@${VERSION}" |
  sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
rmdir "$PWD"
[ -n "$dir" ] && [ -d "$dir/example/prometheus-operator-crd" ] || {
  echo "prometheus-operator ${VERSION} is not in Go's module cache (run make prometheus-crds)" >&2
  exit 1
}
echo "$dir/example/prometheus-operator-crd"
