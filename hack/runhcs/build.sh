#!/usr/bin/env bash
# Builds the real containerd-shim-runhcs-v1.exe (hcsshim, the version
# wincri's go.mod pins) for Windows and prints its path. The module proxy
# refuses one of its dependencies, github.com/Microsoft/cosesign1go, used only
# by the confidential-container policy code: cosesign1go/ beside this script
# is a compile-only stand-in put in its place with a replace, in a scratch
# module. The binary is cached in $WINDOWS_CACHE (default /var/tmp/wincri-windows).
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/Microsoft/hcsshim)
cache=${WINDOWS_CACHE:-/var/tmp/wincri-windows}
# RUNHCS_OVERLAY: a go -overlay file (shared/wine's os.RemoveAll fix for
# runs under Wine); such a build is cached under its own name.
overlay=${RUNHCS_OVERLAY:-}
suffix=""
[ -n "$overlay" ] && suffix="-wine-$(sha1sum "$overlay" | cut -c1-8)"
bin=$cache/containerd-shim-runhcs-v1-$version$suffix.exe
if [ -f "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r "$here/cosesign1go" "$work/"
cat > "$work/go.mod" <<MOD
module wincri.local/runhcs

go 1.26

require github.com/Microsoft/hcsshim $version

replace github.com/Microsoft/cosesign1go => ./cosesign1go
MOD
printf 'package main\n\nimport _ "github.com/Microsoft/hcsshim"\n\nfunc main() {}\n' > "$work/main.go"
(cd "$work" && GOFLAGS=-mod=mod GONOSUMDB=github.com/Microsoft/cosesign1go GOOS=windows CGO_ENABLED=0 \
  go build -trimpath ${overlay:+-overlay="$overlay"} -o "$bin.tmp" github.com/Microsoft/hcsshim/cmd/containerd-shim-runhcs-v1)
mv "$bin.tmp" "$bin"
echo "$bin"
