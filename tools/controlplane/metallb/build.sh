#!/usr/bin/env bash
# Builds MetalLB's controller and speaker for each release tag given (default: the releases the tests use) into
# $BIN/metallb/<tag>/ (default BIN: <repo>/bin). A tag whose binaries are already there is not rebuilt.
# The commands live at the module root (go.universe.tf/metallb/{controller,speaker}), so `go install` builds them
# straight from the Go module proxy, stamped with the release's commit as upstream's Dockerfiles do.
set -euo pipefail
BIN="${BIN:-$(cd "$(dirname "$0")/../../.." && pwd)/bin}"
[ $# -gt 0 ] || set -- v0.16.1 v0.14.9
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
work=$(mktemp -d)   # outside any module: `go install pkg@version` ignores the current module anyway
trap 'rm -rf "$work"' EXIT
cd "$work"
built() {  # built TAG BINARY: the binary exists and comes from that release
  # (the output is read whole first: grep -q stops early, and under pipefail the writer's SIGPIPE would fail)
  [ -x "$2" ] && grep -qP "^\tmod\tgo.universe.tf/metallb\t$1\t" <<<"$(go version -m "$2" 2>/dev/null)"
}
for tag in "$@"; do
  case "$tag" in v[0-9]*.[0-9]*.[0-9]*) ;; *) echo "error: '$tag' is not a MetalLB release tag like v0.16.1" >&2; exit 2;; esac
  out="$BIN/metallb/$tag"
  if built "$tag" "$out/controller" && built "$tag" "$out/speaker"; then
    continue
  fi
  echo "building MetalLB ${tag} controller and speaker" >&2
  commit=$(go mod download -json "go.universe.tf/metallb@${tag}" |
           python3 -c 'import json,sys; print(json.load(sys.stdin).get("Origin", {}).get("Hash", ""))')
  pkg=go.universe.tf/metallb/internal/version
  mkdir -p "$out.tmp"
  GOBIN="$out.tmp" go install -trimpath \
    -ldflags "-s -w -X ${pkg}.gitCommit=${commit} -X ${pkg}.gitBranch=${tag}" \
    "go.universe.tf/metallb/controller@${tag}" "go.universe.tf/metallb/speaker@${tag}"
  rm -rf "$out" && mv "$out.tmp" "$out"
done
