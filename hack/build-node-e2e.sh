#!/usr/bin/env bash
# Builds Kubernetes' node e2e suite (test/e2e_node as e2e_node.test), the
# ginkgo CLI at the version its go.mod pins and agnhost (test/images/agnhost,
# for the suite's images), from the source tree
# hack/k8s-source.sh prepares, and prints the directory holding both. Cached in
# $NODE_E2E_CACHE (default /var/tmp/wincri-node-e2e): ~20 min cold on 2 cores.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
CACHE=${NODE_E2E_CACHE:-/var/tmp/wincri-node-e2e}
dir=$CACHE/$KUBE_VERSION
built() { [ -x "$dir/e2e_node.test" ] && [ -x "$dir/ginkgo" ] && [ -x "$dir/agnhost" ] && [ -s "$dir/localhost.key" ]; }
if built; then echo "$dir"; exit 0; fi
mkdir -p "$dir"
exec 9>"$CACHE/.lock"; flock 9
if built; then echo "$dir"; exit 0; fi
tree=$("$(dirname "$0")/k8s-source.sh")
echo "build-node-e2e: building e2e_node.test $KUBE_VERSION, ginkgo and agnhost (cold: ~20 min)" >&2
[ -x "$dir/e2e_node.test" ] || {
  (cd "$tree" && CGO_ENABLED=0 go test -c -trimpath -ldflags "-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION" -o "$dir/e2e_node.test.tmp" ./test/e2e_node)
  mv "$dir/e2e_node.test.tmp" "$dir/e2e_node.test"
}
[ -x "$dir/ginkgo" ] || (cd "$tree" && CGO_ENABLED=0 go build -o "$dir/ginkgo" github.com/onsi/ginkgo/v2/ginkgo)
[ -x "$dir/agnhost" ] || {
  (cd "$tree" && CGO_ENABLED=0 go build -trimpath -o "$dir/agnhost.tmp" ./test/images/agnhost)
  mv "$dir/agnhost.tmp" "$dir/agnhost"
}
# agnhost's image holds its porter's TLS pair (the suite's https probes and hooks).
cp "$tree/test/images/agnhost/porter/localhost.crt" "$tree/test/images/agnhost/porter/localhost.key" "$dir/"
echo "$dir"
