#!/usr/bin/env bash
# Builds frr-k8s (the FRR-K8s BGP backend of MetalLB) for each tag given (default: the one MetalLB v0.16.1 pins)
# into $BIN/frr-k8s/<tag>/, laid out as its container image: /frr-k8s, /statuscleaner, /frr-metrics, /frr-status
# and /frr-reloader.sh (the reloader script ships in the module). A tag already built is not rebuilt.
# The Go module proxy serves v0.0.25 although its version list stops at v0.0.21.
set -euo pipefail
BIN="${BIN:-$(cd "$(dirname "$0")/../../.." && pwd)/bin}"
[ $# -gt 0 ] || set -- v0.0.25
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
module=github.com/metallb/frr-k8s
for tag in "$@"; do
  out="$BIN/frr-k8s/$tag"
  if [ -x "$out/frr-k8s" ] && go version -m "$out/frr-k8s" 2>/dev/null | grep -qP "^\tmod\t$module\t$tag\t"; then
    continue
  fi
  echo "building frr-k8s ${tag}" >&2
  mkdir -p "$out.tmp/gobin"
  GOBIN="$out.tmp/gobin" go install -trimpath -ldflags "-s -w" "$module/cmd/frr-k8s-controller@$tag" \
    "$module/cmd/statuscleaner@$tag" "$module/cmd/metrics@$tag" "$module/cmd/status@$tag"
  mv "$out.tmp/gobin/frr-k8s-controller" "$out.tmp/frr-k8s"
  mv "$out.tmp/gobin/statuscleaner" "$out.tmp/statuscleaner"
  mv "$out.tmp/gobin/metrics" "$out.tmp/frr-metrics"
  mv "$out.tmp/gobin/status" "$out.tmp/frr-status"
  rmdir "$out.tmp/gobin"
  source=$(go mod download -json "$module@$tag" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  install -m 0755 "$source/cmd/reloader/frr-reloader.sh" "$out.tmp/frr-reloader.sh"
  rm -rf "$out" && mv "$out.tmp" "$out"
done
