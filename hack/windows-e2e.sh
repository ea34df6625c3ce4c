#!/usr/bin/env bash
# Runs the Windows end-to-end test (test/windows) under Wine: builds the
# emulated HCS/HCN DLLs (test/hcsemu/dll) into a Wine prefix of its own,
# wincri.exe, the real containerd-shim-runhcs-v1.exe, the real win-bridge
# and host-local CNI plugins, an unmodified kubelet.exe, crictl.exe and
# critest.exe, and the test's winproc.exe and wincmd.exe, then runs the
# GOOS=windows test binary with wine.
# Extra arguments go to go test (e.g. -run TestWindowsPod). The network
# package's tests run here too, TestRealHCN against the emulated HCN.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export WINEPREFIX=${WINCRI_WINE_PREFIX:-/var/tmp/wincri-winemu-prefix}
export WINEDLLOVERRIDES="computecore,vmcompute,computenetwork=n"
cache=${WINDOWS_CACHE:-/var/tmp/wincri-windows}
# The emulator changes the host for what it emulates: it bind-mounts mapped
# directories into container roots in the prefix and puts HCN endpoint
# addresses on lo (label lo:hcsemu) with iptables rules counting their
# traffic, and undoes all of it. A run that was killed
# leaves them: undo before and after, so nothing removes a root through a
# mount and no stale address answers for a pod.
# A test binary that crashed also leaves the Windows processes it started
# running (wincri.exe, kubelet.exe, shims, containers: one burns a CPU):
# they are ended with the prefix's wineserver, before the mounts go.
host_leftovers() {
  { pgrep -af 'wincri-windows.e2e.|hcsemu-root' || true; } | while read -r pid cmd; do
    echo "windows-e2e: ending a leftover Windows process: $pid ${cmd:0:120}" >&2
  done
  if pgrep -f 'wincri-windows.e2e.|hcsemu-root' >/dev/null; then
    "$(command -v wineserver || echo /usr/lib/wine/wineserver)" -k || true
    sleep 1
  fi
  # and the layer directories its emulator held immutable (chattr +i), so
  # that its temporary directories can go
  tmp=$WINEPREFIX/drive_c/users/root/Temp
  { find "$tmp" -mindepth 7 -maxdepth 7 -type d -path '*/snapshots/snapshots/*' -print0 2>/dev/null | xargs -0r lsattr -d 2>/dev/null || true; } |
    awk '$1 ~ /i/ {print $2}' | while read -r d; do
    if chattr -i "$d"; then echo "windows-e2e: released a leftover held layer directory: $d" >&2
    else echo "windows-e2e: could not release a leftover held layer directory: $d" >&2; fi
  done
  awk -v p="$WINEPREFIX/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$(printf '%b' "$m")" && echo "windows-e2e: unmounted a leftover mapped directory: $m" >&2
  done
  ip -o -4 addr show dev lo label lo:hcsemu | awk '{print $4}' | while read -r a; do
    ip addr del "$a" dev lo && echo "windows-e2e: removed a leftover endpoint address: $a" >&2
  done
  iptables -w -S INPUT | awk '/--comment hcsemu-/ {sub(/^-A /, ""); print}' | while read -r r; do
    # shellcheck disable=SC2086
    iptables -w -D $r && echo "windows-e2e: removed a leftover endpoint counting rule: $r" >&2
  done
  # last, once nothing is mounted in the prefix: the crashed test's
  # temporary directories (a finished test removes its own)
  if ! awk -v p="$WINEPREFIX/" 'index($2, p) == 1 {found=1} END {exit !found}' /proc/mounts; then
    for d in "$tmp"/Test*; do
      [ -d "$d" ] || continue
      if rm -rf "$d"; then echo "windows-e2e: removed a leftover test directory: $d" >&2
      else echo "windows-e2e: could not remove a leftover test directory: $d" >&2; fi
    done
  fi
  return 0
}
host_leftovers
trap host_leftovers EXIT
../shared/wine/setup.sh >&2
# The node is Windows Server 2022 (10.0.20348, server product type): the
# shim gates features on the build (e.g. CPU updates need 20H2+).
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
reg() {
  local out
  out=$("$wine" reg add "$1" /v "$2" /t "$3" /d "$4" /f 2>&1) || { echo "windows-e2e: reg add $1 /v $2 failed: $out" >&2; return 1; }
}
nt='HKLM\Software\Microsoft\Windows NT\CurrentVersion'
reg "$nt" CurrentBuildNumber REG_SZ 20348
reg 'HKLM\System\CurrentControlSet\Control\ProductOptions' ProductType REG_SZ ServerNT
# What the kubelet reads of the node (pkg/kubelet/winstats): its version and
# product, a hardware configuration id (the node's system UUID) and a boot id.
reg "$nt" CurrentMajorVersionNumber REG_DWORD 10
reg "$nt" CurrentMinorVersionNumber REG_DWORD 0
reg "$nt" UBR REG_DWORD 2849
reg "$nt" ProductName REG_SZ 'Windows Server 2022 Datacenter'
reg 'HKLM\SYSTEM\HardwareConfig' LastConfig REG_SZ '{6f1c1b1e-3c55-4f0e-9c3a-77c0e0b1a001}'
reg 'HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management\PrefetchParameters' BootId REG_DWORD 1
dlls=$(test/hcsemu/dll/build.sh)
cp "$dlls"/*.dll "$WINEPREFIX/drive_c/windows/system32/"
# The kubelet's performance counters and AF_UNIX sockets (test/hcsemu/dll
# pdh.c, afunix.c): in system32, loaded for kubelet.exe only; every other
# program keeps Wine's own.
cp "$dlls"/kubelet/*.dll "$WINEPREFIX/drive_c/windows/system32/"
for d in pdh ws2_32; do reg 'HKCU\Software\Wine\AppDefaults\kubelet.exe\DllOverrides' $d REG_SZ native,builtin; done
wine_overlay=$(../shared/wine/setup.sh --overlay)
flags=$(test/hcsemu/winio/build-flags.sh)
out=$cache/e2e
mkdir -p "$out/cni"
# shellcheck disable=SC2086
{
  GOOS=windows go build $flags -o "$out/wincri.exe" ./cmd/wincri
  GOOS=windows go build $flags -o "$out/winproc.exe" ./test/windows/winproc
  GOOS=windows go build $flags -o "$out/wincmd.exe" ./test/windows/wincmd
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
kubelet=$(KUBELET_GOOS=windows KUBELET_OVERLAY="$wine_overlay" hack/build-kubelet.sh)
cp "$kubelet" "$out/kubelet.exe"
# crictl.exe and critest.exe (a ginkgo test binary: go test -c) at the
# version hack/install-deps.sh installs on Linux, built in a scratch module.
crictl_version=$(sed -n 's/^CRICTL_VERSION=\${CRICTL_VERSION:-\(v[0-9.]*\)}$/\1/p' hack/install-deps.sh)
critools() { # NAME GO-COMMAND...
  local bin=$cache/$1-$crictl_version.exe work
  if [ ! -f "$bin" ]; then
    work=$(mktemp -d)
    printf 'module wincri.local/critools\n\ngo 1.26\n\nrequire sigs.k8s.io/cri-tools %s\n' "$crictl_version" > "$work/go.mod"
    printf 'package main\n\nimport _ "sigs.k8s.io/cri-tools/pkg/version"\n\nfunc main() {}\n' > "$work/main.go"
    (cd "$work" && GOFLAGS=-mod=mod GOOS=windows go "${@:2}" -trimpath -overlay="$wine_overlay" \
      -ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=${crictl_version#v}" -o "$bin.tmp" "sigs.k8s.io/cri-tools/cmd/$1")
    rm -rf "$work" && mv "$bin.tmp" "$bin"
  fi
  cp "$bin" "$out/$1.exe"
}
critools crictl build
critools critest test -c
export WINCRI_WINDOWS_E2E="Z:${out//\//\\}"
# shellcheck disable=SC2086
WINCRI_HCSEMU=1 GOOS=windows go test $flags -exec "$repo/../shared/wine/wine-exec.sh" -count=1 -p 1 -timeout 25m ./network/ ./test/hcsemu/ ./test/windows/ "$@"
