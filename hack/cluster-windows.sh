#!/usr/bin/env bash
# The Windows node in the cluster (#24): brings the cluster of
# hack/cluster.sh up unless it runs, then runs test/windows'
# TestWindowsNodeInCluster under Wine (hack/windows-e2e.sh): kubelet.exe on
# wincri.exe and the emulated Windows host joins that API server as node
# wincri-win, and kube-proxy.exe (winkernel) programs the emulated HCN's
# load balancers. A cluster this script brought up is taken down at the end.
# Extra arguments go to go test. Never run it beside hack/node-e2e.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dir=${CLUSTER_DIR:-/var/tmp/wincri-cluster/run}
ours=0
if ! [ -f "$dir/pids/kube-apiserver.pid" ] || ! kill -0 "$(cat "$dir/pids/kube-apiserver.pid")" 2>/dev/null ||
  ! [ -f "$dir/pki/kubelet-win.crt" ]; then
  hack/cluster.sh down >/dev/null 2>&1 || true
  hack/cluster.sh up
  ours=1
fi
trap '[ "$ours" = 1 ] && hack/cluster.sh down' EXIT
# kube-proxy.exe for the node's winkernel mode, built like kubelet.exe.
kube_proxy=$(KUBELET_GOOS=windows KUBELET_OVERLAY="$(../shared/wine/setup.sh --overlay)" hack/build-kubelet.sh kube-proxy)
WINCRI_KUBE_PROXY="Z:${kube_proxy//\//\\}" WINCRI_CLUSTER_DIR="Z:${dir//\//\\}" \
  hack/windows-e2e.sh -v -run 'TestWindowsNodeInCluster' "$@"
