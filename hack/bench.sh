#!/usr/bin/env bash
# Side-by-side CRI benchmarks (make bench): the reference containerd (2.4.2,
# built with go install) and wincri on the same machine, through
# ../shared/harness/bench.sh (critest -benchmark), in BENCH_ROUNDS (default 3)
# interleaved rounds (containerd then wincri, then wincri then containerd,
# ...) so that a
# noisy moment hits one round, not one runtime. Prints, per CRI call, the
# median of the per-round p50 ratios wincri/containerd with the best and
# worst round (hack/benchrounds.awk), then the last round's p50/p99 table
# and "container from scratch". BENCH_PARAMS picks the harness's params
# file (serial by default). BENCH_TARGET=plugin benchmarks wincri inside
# containerd (bin/containerd-wincri, sharing containerd's image store)
# instead of standalone wincri.
# critest's benchmark pods share one PID namespace (its zero-value config),
# which needs a pause process; hack/density then measures pods shaped as
# kubelet sends them by default (a PID namespace per container), one after
# the other (SERIAL_PODS), back to back and SERIAL_GAP (500ms) apart as pods
# arrive on a node, and DENSITY_PODS x DENSITY_CONTAINERS 4 at a time.
# Each round also times two concurrent pulls of one large image (hack/bigpull:
# BIGPULL_LAYERS layers of BIGPULL_LAYER_MB MiB, pushed to the harness
# registry), counting the snapshots each runtime creates for it; standalone
# wincri must unpack every layer exactly once (its metrics say so).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
H=$(cd "${HARNESS:-../shared/harness}" && pwd)
work=${HARNESS_WORK:-/var/tmp/cri-harness}
params=${BENCH_PARAMS:-$H/config/benchmark-params.yaml}
out=${BENCH_OUT:-$work/results/wincri-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

"$H/setup.sh" >/dev/null
hack/install-deps.sh
make -s build
go build -o bin/density ./hack/density
go build -o bin/bigpull ./hack/bigpull
pods=${DENSITY_PODS:-110} ctrs=${DENSITY_CONTAINERS:-2} serial=${SERIAL_PODS:-40} gap=${SERIAL_GAP:-500ms}

ctrd=${CTRD_BIN:-$work/ctrd-2.4.2/containerd}
if [ ! -x "$ctrd" ]; then
  echo "bench: building containerd v2.4.2 (go install)"
  GOBIN=$(dirname "$ctrd") CGO_ENABLED=0 go install github.com/containerd/containerd/v2/cmd/containerd@v2.4.2
fi
cp -f "$(command -v containerd-shim-runc-v2)" "$(dirname "$ctrd")/" 2>/dev/null || true
runc=$(command -v runc)

w=$out/wincri
# wincri's root is kept from one bench to the next, as containerd-ref.sh keeps
# containerd's: a new root each run sat elsewhere on the disk than
# containerd's, and where the filesystem puts a pull's files moved its kernel
# time by up to 1 s for either runtime (docs/performance.md, 2026-12-08).
wroot=${WINCRI_BENCH_ROOT:-$work/wincri-bench/root}
if [ "${BENCH_TARGET:-}" = plugin ]; then wroot=${WINCRI_BENCH_ROOT:-$work/wincri-bench/plugin-root}; fi
mkdir -p "$w/cni" "$wroot"
cat > "$w/cni/10-bench.conflist" <<JSON
{"cniVersion":"1.0.0","name":"wincri-bench","plugins":[
 {"type":"bridge","bridge":"wincri-b0","isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","dataDir":"$w/ipam","ranges":[[{"subnet":"10.93.0.0/16"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
JSON
# The harness serves pause 3.10, the sandbox image containerd-ref.sh gives
# the reference containerd (wincri's default, as containerd's, is 3.10.2).
cat > "$w/config.toml" <<TOML
root = "$wroot"
sandbox_image = "registry.k8s.io/pause:3.10"
state = "/run/wincri-bench"
listen = "unix:///run/wincri-bench/wincri.sock"
[registry]
config_path = "$work/runtime-config/containerd-certs.d"
[cni]
conf_dir = "$w/cni"
[metrics]
address = "127.0.0.1:9198"
TOML
wep=unix:///run/wincri-bench/wincri.sock
wcmd=(bin/wincri --config "$w/config.toml")
wsnaps=$wroot/images/snapshots/snapshots wmetrics=(-metrics 127.0.0.1:9198)
if [ "${BENCH_TARGET:-}" = plugin ]; then
  make -s containerd-wincri
  cat > "$w/containerd.toml" <<TOML
version = 3
root = "$wroot"
state = "/run/wincri-bench"
required_plugins = ["io.containerd.grpc.v1.wincri"]
[grpc]
  address = "/run/wincri-bench/wincri.sock"
[plugins.'io.containerd.grpc.v1.wincri']
  sandbox_image = "registry.k8s.io/pause:3.10"
[plugins.'io.containerd.grpc.v1.wincri'.registry]
  config_path = "$work/runtime-config/containerd-certs.d"
[plugins.'io.containerd.grpc.v1.wincri'.cni]
  conf_dir = "$w/cni"
TOML
  wcmd=(bin/containerd-wincri --config "$w/containerd.toml")
  wsnaps=$wroot/io.containerd.snapshotter.v1.overlayfs/snapshots wmetrics=()
fi
start_wincri() {
  setsid "${wcmd[@]}" >> "$w/wincri.log" 2>&1 < /dev/null &
  wpid=$!
  for _ in $(seq 100); do [ -S /run/wincri-bench/wincri.sock ] && return 0; kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
  failed+=("wincri did not start (see $w/wincri.log)")
  return 1
}
stop_wincri() {
  kill -TERM "$wpid"
  local rc=0; wait "$wpid" || rc=$?
  # 143: ended by the TERM sent here. Anything else is the daemon's own end.
  [ "$rc" = 0 ] || [ "$rc" = 143 ] || failed+=("wincri exited with status $rc before it was stopped (see $w/wincri.log)")
}
# run WHAT CMD...: a step whose failure fails make bench (after every table
# is printed): a runtime that fails a round cannot be measured by it.
failed=()
run() { local what=$1; shift; "$@" || failed+=("$what: exit $?"); }

echo "bench: containerd $("$ctrd" --version | awk '{print $3}'), wincri $(bin/wincri version)"
rounds=${BENCH_ROUNDS:-3}
files=() bfiles=()
blayers=${BIGPULL_LAYERS:-10}
bin/bigpull push -registry "${HARNESS_REGISTRY_ADDR:-127.0.0.1:5000}" -repo wincri-bench/big:1 -layers "$blayers" -layer-mb "${BIGPULL_LAYER_MB:-32}"
bigpull() { # who round endpoint snapshots-dir [-metrics addr]: best of two runs
  local who=$1 r=$2 ep=$3 snaps=$4; shift 4
  for i in 1 2; do run "$who round $r: bigpull run $i" bin/bigpull pull -endpoint "$ep" -snapshots "$snaps" -layers "$blayers" "$@" >> "$out/bigpull-$who-$r.txt" 2>&1; done
}
round_containerd() {
  local r=$1 ep
  echo "bench: round $r/$rounds: containerd"
  if ! ep=$(CTRD_BIN=$ctrd RUNC_BINARY=$runc "$H/containerd-ref.sh" start); then failed+=("containerd round $r: did not start"); return; fi
  run "containerd round $r: critest benchmark" env BENCH_PARAMS="$params" "$H/bench.sh" "$ep" > "$out/containerd-$r.txt" 2>&1
  bigpull containerd "$r" "$ep" "$(dirname "${ep#unix://}")/root/io.containerd.snapshotter.v1.overlayfs/snapshots" -daemon-pid "$(cat "$work/run/containerd.pid")"
  if [ "$r" = "$rounds" ]; then
    run "containerd: density serial" bin/density -endpoint "$ep" -serial "$serial" > "$out/containerd-serial.txt" 2>&1
    run "containerd: density serial gap" bin/density -endpoint "$ep" -serial "$serial" -gap "$gap" > "$out/containerd-serial-gap.txt" 2>&1
    ctrd_dir=$(dirname "${ep#unix://}")
    run "containerd: density" bin/density -endpoint "$ep" -pods "$pods" -containers "$ctrs" -daemon-pid "$(cat "$work/run/containerd.pid")" -shim-match "$ctrd_dir" > "$out/containerd-density.txt" 2>&1
    run "containerd: density cleanup" bin/density -endpoint "$ep" -cleanup >/dev/null 2>&1
  fi
  run "containerd round $r: stop" "$H/containerd-ref.sh" stop >/dev/null 2>&1
}
round_wincri() {
  local r=$1
  echo "bench: round $r/$rounds: wincri"
  start_wincri || return 0
  run "wincri round $r: critest benchmark" env BENCH_PARAMS="$params" "$H/bench.sh" "$wep" > "$out/wincri-$r.txt" 2>&1
  bigpull wincri "$r" "$wep" "$wsnaps" -daemon-pid "$wpid" "${wmetrics[@]}"
  stop_wincri
}
# Odd rounds run containerd first, even rounds wincri first: neither
# runtime always runs second (after the other warmed the page cache, or
# while its exited processes are still being reaped).
for f in containerd-serial containerd-serial-gap containerd-density wincri-serial wincri-serial-gap wincri-density; do : > "$out/$f.txt"; done
for r in $(seq "$rounds"); do
  for f in containerd-$r wincri-$r bigpull-containerd-$r bigpull-wincri-$r; do : > "$out/$f.txt"; done
  if [ $((r % 2)) = 1 ]; then round_containerd "$r"; round_wincri "$r"; else round_wincri "$r"; round_containerd "$r"; fi
  files+=("$out/containerd-$r.txt" "$out/wincri-$r.txt")
  bfiles+=("$out/bigpull-containerd-$r.txt" "$out/bigpull-wincri-$r.txt")
done
cp "$out/containerd-$rounds.txt" "$out/containerd.txt"; cp "$out/wincri-$rounds.txt" "$out/wincri.txt"
if start_wincri; then
  run "wincri: density serial" bin/density -endpoint "$wep" -serial "$serial" > "$out/wincri-serial.txt" 2>&1
  run "wincri: density serial gap" bin/density -endpoint "$wep" -serial "$serial" -gap "$gap" > "$out/wincri-serial-gap.txt" 2>&1
  run "wincri: density" bin/density -endpoint "$wep" -pods "$pods" -containers "$ctrs" -daemon-pid $wpid -shim-match /run/wincri-bench > "$out/wincri-density.txt" 2>&1
  # Reattach: kill -9 with every pod running, restart, time until all are listed ready.
  kill -KILL $wpid; wait $wpid 2>/dev/null || true
  if start_wincri; then
    run "wincri: restart to ready" bin/density -endpoint "$wep" -pods "$pods" -wait >> "$out/wincri-density.txt" 2>&1
    run "wincri: density cleanup" bin/density -endpoint "$wep" -cleanup >/dev/null 2>&1
    stop_wincri
  fi
fi
ip link delete wincri-b0 2>/dev/null || true

echo "bench: results in $out"
awk -f hack/benchrounds.awk "${files[@]}"
awk -f hack/bigpullrounds.awk "${bfiles[@]}"
echo "last round:"
awk -f hack/benchcompare.awk "$out/containerd.txt" "$out/wincri.txt"
awk -f hack/serialcompare.awk "$out/containerd-serial.txt" "$out/wincri-serial.txt"
awk -f hack/serialcompare.awk "$out/containerd-serial-gap.txt" "$out/wincri-serial-gap.txt"
echo "== containerd"; cat "$out/containerd-density.txt"
echo "== wincri"; cat "$out/wincri-density.txt"
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: FAILED: ${#failed[@]} step(s) failed; their figures are missing and count as missed targets:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
