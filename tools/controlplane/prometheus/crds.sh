#!/usr/bin/env bash
# The Prometheus operator's CRDs (monitoring.coreos.com) for the Prometheus tests. The operator's Go module ships
# them under example/prometheus-operator-crd/; this downloads the module into Go's module cache (only once) and
# prints the directory of the CRDs. The tests run it with GOPROXY=off: they read the cache and never the network.
# The version is the operator's in go.mod beside this script (the operator build.sh builds).
set -euo pipefail
VERSION=$(sed -n 's|^\tgithub.com/prometheus-operator/prometheus-operator \(v[^ ]*\)$|\1|p' "$(dirname "$0")/go.mod")
cd "$(mktemp -d)"   # outside any module
dir=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@${VERSION}" |
  sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
rmdir "$PWD"
[ -n "$dir" ] && [ -d "$dir/example/prometheus-operator-crd" ] || {
  echo "prometheus-operator ${VERSION} is not in Go's module cache (run make prometheus-crds)" >&2
  exit 1
}
echo "$dir/example/prometheus-operator-crd"
