#!/usr/bin/env bash
# Prepares k8s.io/kubernetes' source at $KUBE_VERSION from the Go module proxy
# and prints its directory. The module zip has no staging/: each k8s.io/*
# module it replaces with ./staging/src/k8s.io/NAME is fetched at the matching
# v0.MINOR.PATCH and put there. The tree is kept in $K8S_SRC_CACHE (default
# /var/tmp/wincri-k8s) for the builds that use it (hack/build-kubelet.sh,
# hack/build-node-e2e.sh); nothing of it enters this repository.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local GOFLAGS=-mod=mod
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
CACHE=${K8S_SRC_CACHE:-/var/tmp/wincri-k8s}
tree=$CACHE/src-$KUBE_VERSION
if [ -f "$tree/.complete" ]; then echo "$tree"; exit 0; fi
mkdir -p "$CACHE"
exec 8>"$CACHE/.lock"; flock 8
if [ -f "$tree/.complete" ]; then echo "$tree"; exit 0; fi

staging_version=v0.${KUBE_VERSION#v1.}
src=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "k8s-source: cannot download k8s.io/kubernetes@$KUBE_VERSION" >&2; exit 1; }
rm -rf "$tree"
work=$(mktemp -d "$CACHE/prep.XXXXXX")
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
    echo "k8s-source: $mod@$staging_version not served; empty module in its place" >&2
    printf 'module %s\n\ngo 1.24\n' "$mod" > "$dst/go.mod"
  fi
done
chmod -R u+w "$work/staging"
touch "$work/.complete"
mv "$work" "$tree"
trap - EXIT
echo "$tree"
