#!/usr/bin/env bash
# Builds a real Prometheus and the Prometheus operator with its config reloader into $BIN/prometheus/ (default:
# <repo>/bin), for the full cluster's Prometheus tests; each only when missing or of another version.
# - Prometheus from its Go module, with only its Kubernetes service discovery (build tags remove_all_sd and
#   enable_kubernetes_sd): the other discovery plugins bring cloud SDKs the tests never use.
# - The operator's module replaces its own pkg/apis/monitoring and pkg/client with local directories, which
#   `go install pkg@version` refuses; the wrapper module here (go.mod) requires the published ones instead. Its
#   version is the one crds.sh loads the CRDs of.
set -euo pipefail
cd "$(dirname "$0")"
PROMETHEUS=v0.316.0 RELEASE=3.16.0  # its Go module numbers release 3.x.y as v0.3xx.y
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
OPERATOR=$(go list -m -f "{{.Version}}" github.com/prometheus-operator/prometheus-operator)
BIN="${BIN:-$(cd ../../.. && pwd)/bin}/prometheus"
mkdir -p "$BIN"

# (outputs are read whole first: grep -q stops reading early, and under pipefail the writer's SIGPIPE would fail)
built() {  # built BINARY MODULE VERSION: the binary is there and was built from that module version
  [ -x "$BIN/$1" ] && grep -qP "^\t(mod|dep)\t$2\t$3(\t|$)" <<<"$(go version -m "$BIN/$1" 2>/dev/null)"
}

# the release number is stamped in as Prometheus's own release builds do (prometheus --version, the operator's
# spec.version); a plain `go install` leaves it empty
if ! built prometheus github.com/prometheus/prometheus "$PROMETHEUS" ||
   ! grep -q "version $RELEASE " <<<"$("$BIN/prometheus" --version 2>/dev/null)"; then
  echo "building Prometheus ${PROMETHEUS} (a cold build takes several minutes)" >&2
  (cd "$(mktemp -d)" && GOBIN="$BIN" go install -p 2 -trimpath \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$RELEASE" \
    -tags remove_all_sd,enable_kubernetes_sd "github.com/prometheus/prometheus/cmd/prometheus@${PROMETHEUS}" &&
    rmdir "$PWD")
fi
if ! built operator github.com/prometheus-operator/prometheus-operator "$OPERATOR" ||
   ! built prometheus-config-reloader github.com/prometheus-operator/prometheus-operator "$OPERATOR"; then
  echo "building the Prometheus operator ${OPERATOR} and its config reloader" >&2
  go build -p 2 -trimpath -ldflags "-s -w" -o "$BIN/" \
    github.com/prometheus-operator/prometheus-operator/cmd/operator \
    github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader
fi
