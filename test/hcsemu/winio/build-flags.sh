#!/usr/bin/env bash
# Prints the go build flags for Windows test builds of this module under
# Wine: shared/wine's os.RemoveAll fix (-overlay) and a -modfile whose
# go-winio is a patched copy in which BackupFileWriter falls back to
# wine_backup.go.in when BackupWrite is not implemented (Wine 8). The copy
# is generated into a cache from the module cache; it is not kept in this
# repository, and nothing changes for real Windows builds.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
overlay=$("$repo/../shared/wine/setup.sh" --overlay)
winio=$(cd "$repo" && go list -m -f '{{.Dir}}' github.com/Microsoft/go-winio)
version=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/Microsoft/go-winio)
key=$(cat "$here/wine_backup.go.in" "$repo/go.mod" "$repo/go.sum" | sha1sum | cut -c1-12)
out=${WINDOWS_CACHE:-/var/tmp/wincri-windows}/winio-$version-$key
if [ ! -f "$out/go.mod" ]; then
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  cp -r "$winio" "$out.tmp/go-winio" && chmod -R u+w "$out.tmp/go-winio"
  sed -i 's/err := backupWrite(windows.Handle(w.f.Fd()), b, &bytesWritten, false, w.includeSecurity, &w.ctx)/err := wineBackupWrite(windows.Handle(w.f.Fd()), b, \&bytesWritten, false, w.includeSecurity, \&w.ctx)/; s/_ = backupWrite(windows.Handle(w.f.Fd()), nil, nil, true, false, &w.ctx)/_ = wineBackupWrite(windows.Handle(w.f.Fd()), nil, nil, true, false, \&w.ctx)/' \
    "$out.tmp/go-winio/backup.go"
  [ "$(grep -c wineBackupWrite "$out.tmp/go-winio/backup.go")" = 2 ] || { echo "build-flags.sh: go-winio $version backup.go changed; update the patterns" >&2; exit 1; }
  cp "$here/wine_backup.go.in" "$out.tmp/go-winio/wine_backup.go"
  cp "$repo/go.mod" "$out.tmp/go.mod"; cp "$repo/go.sum" "$out.tmp/go.sum"
  echo "replace github.com/Microsoft/go-winio => $out/go-winio" >> "$out.tmp/go.mod"
  rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "-overlay=$overlay -modfile=$out/go.mod"
