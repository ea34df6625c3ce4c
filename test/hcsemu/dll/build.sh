#!/usr/bin/env bash
# Builds the emulated computecore.dll, vmcompute.dll and computenetwork.dll
# (mingw-w64) into $1 (default: a cache directory) and prints that directory;
# in its kubelet/ the pdh.dll and ws2_32.dll installed for the Windows
# kubelet only (hack/windows-kubelet.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${WINDOWS_CACHE:-/var/tmp/wincri-windows}/hcsemu-dll}
mkdir -p "$out"
cc=x86_64-w64-mingw32-gcc
command -v $cc >/dev/null || apt-get install -y -q gcc-mingw-w64-x86-64 >/dev/null
for dll in computecore vmcompute computenetwork; do
  $cc -O2 -Wall -Wextra -Werror -shared -o "$out/$dll.dll.tmp" "$here/$dll.c" "$here/common.c" \
    -lws2_32 -lole32 -Wl,--kill-at -static-libgcc
  mv "$out/$dll.dll.tmp" "$out/$dll.dll"
done
# pdh.dll (pdh.c): the counters the Windows kubelet reads.
mkdir -p "$out/kubelet"
$cc -O2 -Wall -Wextra -Werror -shared -o "$out/kubelet/pdh.dll.tmp" "$here/pdh.c" -liphlpapi -lpsapi -Wl,--kill-at -static-libgcc
mv "$out/kubelet/pdh.dll.tmp" "$out/kubelet/pdh.dll"
# ws2_32.dll with AF_UNIX (afunix.c): the exports of Wine's own builtin
# ws2_32, read from that DLL, each a jump to it but for afunix.c's.
wine_dlls=""
for d in /usr/lib/x86_64-linux-gnu/wine/x86_64-windows /usr/lib/wine/x86_64-windows /usr/lib64/wine/x86_64-windows; do
  [ -f "$d/ws2_32.dll" ] && { wine_dlls=$d; break; }
done
[ -n "$wine_dlls" ] || { echo "hcsemu/dll/build.sh: Wine's builtin ws2_32.dll not found" >&2; exit 1; }
gen=$(mktemp -d); trap 'rm -rf "$gen"' EXIT
x86_64-w64-mingw32-objdump -p "$wine_dlls/ws2_32.dll" |
  sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/s/^\s*\[\s*\([0-9]*\)\] \([A-Za-z_][A-Za-z0-9_]*\)$/\1 \2/p' > "$gen/exports"
[ "$(wc -l < "$gen/exports")" -gt 100 ] || { echo "hcsemu/dll/build.sh: cannot read ws2_32's exports" >&2; exit 1; }
own=" $(sed -n 's/^[A-Za-z ]*WINAPI afu_\([A-Za-z]*\)(.*/\1/p' "$here/afunix.c" | tr '\n' ' ') "
{ echo 'static const char *real_names[] = {'; awk '{printf "\t\"%s\",\n", $2}' "$gen/exports"; echo '};'; } > "$gen/afunix_names.h"
awk -v own="$own" 'BEGIN{print ".text"} { if (index(own, " " $2 " ") == 0) printf ".globl thunk_%s\nthunk_%s: jmp *real_fn+%d(%%rip)\n", $2, $2, 8*(NR-1) }' "$gen/exports" > "$gen/thunks.S"
awk -v own="$own" 'BEGIN{print "LIBRARY ws2_32.dll\nEXPORTS"} { printf "  %s=%s_%s @%s\n", $2, (index(own, " " $2 " ") ? "afu" : "thunk"), $2, $1 }' "$gen/exports" > "$gen/ws2_32.def"
winpath="Z:$(echo "$wine_dlls/ws2_32.dll" | tr / '\\\\' | sed 's/\\/\\\\/g')"
$cc -O2 -Wall -Wextra -Werror -shared -I"$gen" -DAFU_REAL_WS2_32="L\"$winpath\"" -o "$out/kubelet/ws2_32.dll.tmp" \
  "$here/afunix.c" "$gen/thunks.S" "$gen/ws2_32.def" -static-libgcc
mv "$out/kubelet/ws2_32.dll.tmp" "$out/kubelet/ws2_32.dll"
echo "$out"
