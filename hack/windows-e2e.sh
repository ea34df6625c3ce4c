#!/usr/bin/env bash
# Runs the Windows end-to-end test (test/windows) under Wine: builds the
# emulated HCS/HCN DLLs (test/hcsemu/dll) into a Wine prefix of its own,
# wincri.exe, the real containerd-shim-runhcs-v1.exe, the real win-bridge
# and host-local CNI plugins and the test's winproc.exe, then runs the
# GOOS=windows test binary with wine. Extra arguments go to go test
# (e.g. -run TestWindowsPod).
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export WINEPREFIX=${WINCRI_WINE_PREFIX:-/var/tmp/wincri-winemu-prefix}
export WINEDLLOVERRIDES="computecore,vmcompute,computenetwork=n"
cache=${WINDOWS_CACHE:-/var/tmp/wincri-windows}
../shared/wine/setup.sh >&2
# The node is Windows Server 2022 (10.0.20348, server product type): the
# shim gates features on the build (e.g. CPU updates need 20H2+).
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
"$wine" reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion' /v CurrentBuildNumber /d 20348 /f >/dev/null 2>&1
"$wine" reg add 'HKLM\System\CurrentControlSet\Control\ProductOptions' /v ProductType /d ServerNT /f >/dev/null 2>&1
dlls=$(test/hcsemu/dll/build.sh)
cp "$dlls"/*.dll "$WINEPREFIX/drive_c/windows/system32/"
wine_overlay=$(../shared/wine/setup.sh --overlay)
flags=$(test/hcsemu/winio/build-flags.sh)
out=$cache/e2e
mkdir -p "$out/cni"
# shellcheck disable=SC2086
{
  GOOS=windows go build $flags -o "$out/wincri.exe" ./cmd/wincri
  GOOS=windows go build $flags -o "$out/winproc.exe" ./test/windows/winproc
}
# The CNI plugins at the version go.mod pins, built in a scratch module
# (win-bridge needs modules wincri does not), cached by version.
cni_version=$(go list -m -f '{{.Version}}' github.com/containernetworking/plugins)
cni=$cache/cni-plugins-$cni_version
if [ ! -f "$cni/host-local.exe" ]; then
  work=$(mktemp -d)
  printf 'module wincri.local/cni\n\ngo 1.26\n\nrequire github.com/containernetworking/plugins %s\n' "$cni_version" > "$work/go.mod"
  printf 'package main\n\nimport _ "github.com/containernetworking/plugins/pkg/hns"\n\nfunc main() {}\n' > "$work/main.go"
  mkdir -p "$cni.tmp"
  (cd "$work" && GOFLAGS=-mod=mod GOOS=windows go build -trimpath -overlay="$wine_overlay" -o "$cni.tmp/" \
    github.com/containernetworking/plugins/plugins/main/windows/win-bridge github.com/containernetworking/plugins/plugins/ipam/host-local)
  rm -rf "$work" "$cni" && mv "$cni.tmp" "$cni"
fi
cp "$cni"/*.exe "$out/cni/"
shim=$(RUNHCS_OVERLAY="$wine_overlay" hack/runhcs/build.sh)
cp "$shim" "$out/containerd-shim-runhcs-v1.exe"
export WINCRI_WINDOWS_E2E="Z:${out//\//\\}"
# shellcheck disable=SC2086
GOOS=windows go test $flags -exec "$repo/../shared/wine/wine-exec.sh" -count=1 -p 1 -timeout 15m ./test/hcsemu/ ./test/windows/ "$@"
