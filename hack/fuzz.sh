#!/usr/bin/env bash
# Runs every Go fuzz target in the repo for FUZZTIME each (default 30s).
# A crash fails the run; its input is kept under the package's testdata/fuzz.
#
# Go before 1.27 can end a duration-bounded fuzz run with a bare
# "context deadline exceeded" when a busy machine keeps a worker from
# acknowledging the stop in time (golang/go#75804): no input is written and
# nothing failed. Such a run is repeated once; if it fails the same way again,
# the target's corpus is replayed and must pass. Anything else (a written
# failing input, a panic, a worker that died) fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
t=${FUZZTIME:-30s}

# deadline_only OUTPUT: true when the only failure reported is the
# coordinator's stop deadline.
deadline_only() {
  grep -q 'context deadline exceeded' <<<"$1" &&
    ! grep -qE 'Failing input written|panic:|fuzzing process hung|terminated unexpectedly|_test\.go:[0-9]+:' <<<"$1"
}

fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "$t" "$1" 2>&1; }

grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
    echo "fuzz: $pkg $fn ($t)"
    ok=
    for try in 1 2; do
      if out=$(fuzz "$pkg" "$fn"); then ok=1; break; fi
      deadline_only "$out" || break
      echo "fuzz: $fn: stop deadline missed with nothing found (golang/go#75804), try $try"
    done
    if [ -z "$ok" ] && deadline_only "$out" &&
      replay=$(go test -count=1 -run "^$fn\$" "$pkg" 2>&1); then
      echo "fuzz: $fn: corpus replay passed"; ok=1; out=$replay
    fi
    if [ -z "$ok" ]; then
      # Show enough to see why (the failing input, or a worker that died).
      echo "$out" | tail -40
      exit 1
    fi
    echo "$out" | tail -3
  done
done
