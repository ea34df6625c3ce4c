#!/usr/bin/env bash
# Builds the emulated computecore.dll, vmcompute.dll and computenetwork.dll
# (mingw-w64) into $1 (default: a cache directory) and prints that directory.
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
echo "$out"
