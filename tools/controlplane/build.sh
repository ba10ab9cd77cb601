#!/usr/bin/env bash
# Builds the test clusters from the Go module proxy into <repo>/bin: etcd and kube-apiserver (tier A), plus
# kube-controller-manager, kube-scheduler, kwok, MetalLB's controller and speaker and frr-k8s (the full cluster).
# Each binary is rebuilt only when missing or of another version; Go's module and build caches are reused.
#   build.sh            everything
#   build.sh --tier-a   etcd and kube-apiserver only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/etcd/build.sh"
if [ "${1:-}" = --tier-a ]; then
  "$here/k8s/build.sh" kube-apiserver
  exit 0
fi
"$here/k8s/build.sh"
"$here/kwok/build.sh"
"$here/metallb/build.sh"
"$here/frrk8s/build.sh"
