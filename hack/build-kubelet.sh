#!/usr/bin/env bash
# Builds an unmodified kubelet from the Go module proxy and prints its path.
# k8s.io/kubernetes' module zip has no staging/: each k8s.io/* module it replaces
# with ./staging/src/k8s.io/NAME is fetched at the matching v0.MINOR.PATCH and put
# there. The binary is cached in $KUBELET_CACHE (default /var/tmp/wincri-kubelet), so
# later runs skip the build (~7 min cold on 2 cores).
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local GOFLAGS=-mod=mod
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
CACHE=${KUBELET_CACHE:-/var/tmp/wincri-kubelet}
bin=$CACHE/kubelet-$KUBE_VERSION
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"; flock 9
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

staging_version=v0.${KUBE_VERSION#v1.}
src=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "build-kubelet: cannot download k8s.io/kubernetes@$KUBE_VERSION" >&2; exit 1; }
work=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
for mod in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$work/go.mod"); do
  dir=$(go mod download -json "$mod@$staging_version" 2>/dev/null | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' || true)
  dst=$work/staging/src/$mod
  mkdir -p "$dst"
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    cp -r "$dir/." "$dst/"
  else
    # not published (sample-* modules): a go.mod is all the build list needs of it
    echo "build-kubelet: $mod@$staging_version not served; empty module in its place" >&2
    printf 'module %s\n\ngo 1.24\n' "$mod" > "$dst/go.mod"
  fi
done
chmod -R u+w "$work/staging"
echo "build-kubelet: building kubelet $KUBE_VERSION (cold: several minutes)" >&2
(cd "$work" && GOFLAGS= CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION" -o "$bin.tmp" ./cmd/kubelet)
mv "$bin.tmp" "$bin"
echo "$bin"
