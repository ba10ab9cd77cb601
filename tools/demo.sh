#!/usr/bin/env bash
# Starts the local control plane in DIR (default .controlplane) and runs the plugin against it through kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.controlplane}
python3 tools/controlplane/controlplane.py down "$dir"
eval "$(python3 tools/controlplane/controlplane.py up "$dir")"
export PATH="$PWD/.venv/bin:$PATH"  # kubectl and the kubectl-metallb plugin
run() { printf '\n$ %s\n' "$*"; "$@"; }
run kubectl metallb version
printf '\nThe control plane keeps running: export KUBECONFIG=%s\nStop it with: make demo-down\n' "$KUBECONFIG"
