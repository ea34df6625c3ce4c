#!/usr/bin/env bash
# Runs every Go fuzz target in the repo for FUZZTIME each (default 30s).
# A crash fails the run; its input is kept under the package's testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
t=${FUZZTIME:-30s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
    echo "fuzz: $pkg $fn ($t)"
    # On a failure show enough to see why (the failing input, or a worker
    # that died); else the last lines.
    if ! out=$(go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" "$pkg" 2>&1); then
      echo "$out" | tail -40
      exit 1
    fi
    echo "$out" | tail -3
  done
done
