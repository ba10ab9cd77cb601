#!/usr/bin/env bash
# Builds the test control plane (etcd + kube-apiserver) from the Go module proxy into <repo>/bin.
# Each binary is rebuilt only when missing or of another version; Go's module and build caches are reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/etcd/build.sh"
"$here/k8s/build.sh"
