#!/usr/bin/env bash
# Side-by-side CRI benchmarks (make bench): the reference containerd (2.4.2,
# built with go install) and wincri on the same machine, through
# ../shared/harness/bench.sh (critest -benchmark), in BENCH_ROUNDS (default 3)
# interleaved rounds (containerd, wincri, containerd, wincri, ...) so that a
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
mkdir -p "$w/cni"
cat > "$w/cni/10-bench.conflist" <<JSON
{"cniVersion":"1.0.0","name":"wincri-bench","plugins":[
 {"type":"bridge","bridge":"wincri-b0","isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","dataDir":"$w/ipam","ranges":[[{"subnet":"10.93.0.0/16"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
JSON
cat > "$w/config.toml" <<TOML
root = "$w/root"
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
wsnaps=$w/root/images/snapshots/snapshots wmetrics=(-metrics 127.0.0.1:9198)
if [ "${BENCH_TARGET:-}" = plugin ]; then
  make -s containerd-wincri
  cat > "$w/containerd.toml" <<TOML
version = 3
root = "$w/root"
state = "/run/wincri-bench"
required_plugins = ["io.containerd.grpc.v1.wincri"]
[grpc]
  address = "/run/wincri-bench/wincri.sock"
[plugins.'io.containerd.grpc.v1.wincri'.registry]
  config_path = "$work/runtime-config/containerd-certs.d"
[plugins.'io.containerd.grpc.v1.wincri'.cni]
  conf_dir = "$w/cni"
TOML
  wcmd=(bin/containerd-wincri --config "$w/containerd.toml")
  wsnaps=$w/root/io.containerd.snapshotter.v1.overlayfs/snapshots wmetrics=()
fi
start_wincri() {
  setsid "${wcmd[@]}" >> "$w/wincri.log" 2>&1 < /dev/null &
  wpid=$!
  for _ in $(seq 100); do [ -S /run/wincri-bench/wincri.sock ] && break; sleep 0.1; done
}
stop_wincri() { kill -TERM "$wpid"; wait "$wpid" 2>/dev/null || true; }

echo "bench: containerd $("$ctrd" --version | awk '{print $3}'), wincri $(bin/wincri version)"
rounds=${BENCH_ROUNDS:-3}
files=() bfiles=()
blayers=${BIGPULL_LAYERS:-10}
bin/bigpull push -registry "${HARNESS_REGISTRY_ADDR:-127.0.0.1:5000}" -repo wincri-bench/big:1 -layers "$blayers" -layer-mb "${BIGPULL_LAYER_MB:-32}"
bigpull() { # endpoint snapshots-dir out [-metrics addr]: best of two runs
  local ep=$1 snaps=$2 out=$3; shift 3
  for _ in 1 2; do bin/bigpull pull -endpoint "$ep" -snapshots "$snaps" -layers "$blayers" "$@" >> "$out" 2>&1 || true; done
}
for r in $(seq "$rounds"); do
  echo "bench: round $r/$rounds: containerd"
  ep=$(CTRD_BIN=$ctrd RUNC_BINARY=$runc "$H/containerd-ref.sh" start)
  BENCH_PARAMS=$params "$H/bench.sh" "$ep" > "$out/containerd-$r.txt" 2>&1 || true
  bigpull "$ep" "$(dirname "${ep#unix://}")/root/io.containerd.snapshotter.v1.overlayfs/snapshots" "$out/bigpull-containerd-$r.txt" -daemon-pid "$(cat "$work/run/containerd.pid")"
  if [ "$r" = "$rounds" ]; then
    bin/density -endpoint "$ep" -serial "$serial" > "$out/containerd-serial.txt" 2>&1 || true
    bin/density -endpoint "$ep" -serial "$serial" -gap "$gap" > "$out/containerd-serial-gap.txt" 2>&1 || true
    ctrd_dir=$(dirname "${ep#unix://}")
    bin/density -endpoint "$ep" -pods "$pods" -containers "$ctrs" -daemon-pid "$(cat "$work/run/containerd.pid")" -shim-match "$ctrd_dir" > "$out/containerd-density.txt" 2>&1 || true
    bin/density -endpoint "$ep" -cleanup >/dev/null 2>&1 || true
  fi
  "$H/containerd-ref.sh" stop >/dev/null 2>&1 || true
  echo "bench: round $r/$rounds: wincri"
  start_wincri
  BENCH_PARAMS=$params "$H/bench.sh" "$wep" > "$out/wincri-$r.txt" 2>&1 || true
  bigpull "$wep" "$wsnaps" "$out/bigpull-wincri-$r.txt" -daemon-pid "$wpid" "${wmetrics[@]}"
  files+=("$out/containerd-$r.txt" "$out/wincri-$r.txt")
  bfiles+=("$out/bigpull-containerd-$r.txt" "$out/bigpull-wincri-$r.txt")
  [ "$r" = "$rounds" ] || stop_wincri
done
cp "$out/containerd-$rounds.txt" "$out/containerd.txt"; cp "$out/wincri-$rounds.txt" "$out/wincri.txt"
bin/density -endpoint "$wep" -serial "$serial" > "$out/wincri-serial.txt" 2>&1 || true
bin/density -endpoint "$wep" -serial "$serial" -gap "$gap" > "$out/wincri-serial-gap.txt" 2>&1 || true
bin/density -endpoint "$wep" -pods "$pods" -containers "$ctrs" -daemon-pid $wpid -shim-match /run/wincri-bench > "$out/wincri-density.txt" 2>&1 || true
# Reattach: kill -9 with every pod running, restart, time until all are listed ready.
kill -KILL $wpid; wait $wpid 2>/dev/null || true
start_wincri
bin/density -endpoint "$wep" -pods "$pods" -wait >> "$out/wincri-density.txt" 2>&1 || true
bin/density -endpoint "$wep" -cleanup >/dev/null 2>&1 || true
kill -TERM $wpid; wait $wpid 2>/dev/null || true
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
