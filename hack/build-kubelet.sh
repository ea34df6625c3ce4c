#!/usr/bin/env bash
# Builds an unmodified kubelet from the Go module proxy (the source tree
# hack/k8s-source.sh prepares) and prints its path. The binary is cached in
# $KUBELET_CACHE (default /var/tmp/wincri-kubelet), so later runs skip the build
# (~7 min cold on 2 cores). KUBELET_GOOS=windows builds kubelet.exe for the
# Windows node (cached as kubelet-VERSION-windows.exe); KUBELET_OVERLAY is a
# go -overlay file (shared/wine's os.RemoveAll fix for runs under Wine), and
# such a build is cached under its own name, as hack/runhcs/build.sh does.
# An argument names another node component to build the same way
# (kube-proxy: kube-proxy.exe for the Windows node's winkernel mode).
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
CACHE=${KUBELET_CACHE:-/var/tmp/wincri-kubelet}
goos=${KUBELET_GOOS:-linux}
comp=${1:-kubelet}
case $comp in kubelet | kube-proxy) ;; *) echo "build-kubelet: no component $comp" >&2; exit 2 ;; esac
bin=$CACHE/$comp-$KUBE_VERSION
overlay=${KUBELET_OVERLAY:-}
[ -n "$overlay" ] && bin=$bin-wine-$(sha1sum "$overlay" | cut -c1-8)
[ "$goos" = linux ] || bin=$bin-$goos.exe
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"; flock 9
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
tree=$("$(dirname "$0")/k8s-source.sh")
echo "build-kubelet: building $comp $KUBE_VERSION for $goos (cold: several minutes)" >&2
(cd "$tree" && GOOS=$goos CGO_ENABLED=0 go build -trimpath ${overlay:+-overlay="$overlay"} -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION" -o "$bin.tmp" "./cmd/$comp")
mv "$bin.tmp" "$bin"
echo "$bin"
