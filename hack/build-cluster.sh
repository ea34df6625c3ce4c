#!/usr/bin/env bash
# Builds what a single-machine cluster needs, unmodified, from the Go module
# proxy, and prints the directory holding it:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
#   kubectl        k8s.io/kubernetes $KUBE_VERSION (the tree hack/k8s-source.sh
#                  prepares)
#   etcd           go.etcd.io/etcd/server/v3 $ETCD_VERSION (its etcdmain, the
#                  package etcd's own main calls)
#   metrics-server sigs.k8s.io/metrics-server $METRICS_SERVER_VERSION
#   consumer, consume-cpu  test/images/resource-consumer of the same tree
#                  (the image the upstream HPA e2e tests scale)
# Cached in $CLUSTER_CACHE (default /var/tmp/wincri-cluster); ~15 min cold on
# 2 cores with the kubelet's build cache warm.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.0}
METRICS_SERVER_VERSION=${METRICS_SERVER_VERSION:-v0.8.0}
CACHE=${CLUSTER_CACHE:-/var/tmp/wincri-cluster}
dir=$CACHE/$KUBE_VERSION
k8s_bins="kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl"
all="$k8s_bins etcd metrics-server consumer consume-cpu"
built() { for b in $all; do [ -x "$dir/$b" ] || return 1; done; }
if built; then echo "$dir"; exit 0; fi
mkdir -p "$dir"
exec 9>"$CACHE/.lock"; flock 9
if built; then echo "$dir"; exit 0; fi
tree=$("$(dirname "$0")/k8s-source.sh")
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
for b in $k8s_bins; do
  [ -x "$dir/$b" ] && continue
  echo "build-cluster: building $b $KUBE_VERSION" >&2
  (cd "$tree" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/$b.tmp" "./cmd/$b")
  mv "$dir/$b.tmp" "$dir/$b"
done
for p in consumer:test/images/resource-consumer consume-cpu:test/images/resource-consumer/consume-cpu; do
  b=${p%%:*}
  [ -x "$dir/$b" ] && continue
  (cd "$tree" && CGO_ENABLED=0 go build -trimpath -o "$dir/$b.tmp" "./${p#*:}")
  mv "$dir/$b.tmp" "$dir/$b"
done
# etcd and metrics-server: each a module of its own outside this repository
# that requires the release and builds its main.
mod() { # name module version main-package [main.go body]
  local m=$CACHE/src-$1-$3
  [ -x "$dir/$1" ] && return 0
  echo "build-cluster: building $1 $3" >&2
  rm -rf "$m" && mkdir -p "$m"
  (cd "$m" && go mod init "wincri.build/$1" >/dev/null 2>&1 &&
    if [ -n "${5:-}" ]; then
      printf '%s\n' "$5" >main.go && GOFLAGS=-mod=mod go get "$2@$3"
    else # a program of the module: a tool of this one (tidy keeps it)
      GOFLAGS=-mod=mod go get -tool "$4@$3"
    fi >/dev/null && GOFLAGS=-mod=mod go mod tidy >/dev/null &&
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$dir/$1.tmp" "$4")
  mv "$dir/$1.tmp" "$dir/$1"
}
mod etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" . \
  'package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }'
mod metrics-server sigs.k8s.io/metrics-server "$METRICS_SERVER_VERSION" sigs.k8s.io/metrics-server/cmd/metrics-server
echo "$dir"
