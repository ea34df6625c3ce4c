#!/usr/bin/env bash
# Regenerates runtime/testdata/windows-golden-{server,podsandbox}.json: the Windows OCI
# specs containerd's own CRI code builds for runtime/testdata/windows-fixtures.json.
# It copies containerd (at the version wincri's go.mod pins) from the module
# cache into a scratch dir, drops in the small test files beside this script
# (they call the unexported functions containerd's own Windows tests call, in
# the order of its handlers), builds them for GOOS=windows and runs them under
# Wine (../shared/wine). Nothing of containerd is kept in the repo.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
wine=${WINE_DIR:-$repo/../shared/wine}
version=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/containerd/containerd/v2)
scratch=${GOLDEN_SCRATCH:-/var/tmp/wincri-golden}/containerd-$version
fixtures=$repo/runtime/testdata/windows-fixtures.json
out_dir=$repo/runtime/testdata

src=$(GOFLAGS=-mod=mod go mod download -json "github.com/containerd/containerd/v2@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "gen: cannot download containerd $version" >&2; exit 1; }
if [ ! -f "$scratch/go.mod" ]; then
  rm -rf "$scratch"; mkdir -p "$scratch"
  cp -r "$src/." "$scratch/"; chmod -R u+w "$scratch"
fi
for pkg in server:internal/cri/server podsandbox:internal/cri/server/podsandbox; do
  name=${pkg%%:*} dir=$scratch/${pkg#*:}
  sed "s/^package PACKAGE$/package $name/" "$here/common.go.in" > "$dir/zz_wincri_common_windows_test.go"
  cp "$here/$name.go.in" "$dir/zz_wincri_golden_windows_test.go"
done
overlay=$("$wine/setup.sh" --overlay)
for pkg in server podsandbox; do
  dir=internal/cri/server; [ "$pkg" = server ] || dir=$dir/$pkg
  echo "gen: containerd $version ./$dir (GOOS=windows, under Wine)" >&2
  (cd "$scratch" && WINCRI_FIXTURES="$fixtures" WINCRI_GOLDEN_OUT="$out_dir/windows-golden-$pkg.json" \
    GOFLAGS=-mod=mod GOOS=windows go test -count=1 -overlay="$overlay" -exec "$wine/wine-exec.sh" -run '^TestWincriGolden$' "./$dir") >&2
done
echo "gen: wrote $out_dir/windows-golden-server.json and windows-golden-podsandbox.json" >&2
