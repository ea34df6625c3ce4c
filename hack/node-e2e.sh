#!/usr/bin/env bash
# Kubernetes' node e2e suite (test/e2e_node of k8s.io/kubernetes, unmodified)
# against wincri, or with NODE_E2E_RUNTIME=containerd against the reference
# containerd 2.4.2 as `make bench` starts it. The suite runs etcd and
# kube-apiserver in-process and starts the project's kubelet build itself.
#
#   NODE_E2E_RUNTIME  wincri (default) | containerd
#   NODE_E2E_FOCUS    ginkgo focus  (default '\[NodeConformance\]')
#   NODE_E2E_SKIP     ginkgo skip   (default '\[Flaky\]|\[Slow\]|\[Serial\]')
#   NODE_E2E_NODES    ginkgo parallel processes (default 4)
#   NODE_E2E_OUT      report directory (default under /var/tmp/wincri-node-e2e)
#   NODE_E2E_KUBELET_FLAGS  more kubelet flags (e.g. --feature-gates=...)
#   NODE_E2E_COMPARE  0: report this run alone (a subset), never against the
#                     other runtime's latest run (default 1)
#
# Prints "node-e2e <runtime>: N specs run, N passed, N failed, N skipped" and
# the failures; the JSON report (report.json) is what hack/node-e2e-compare.sh
# reads. This machine's quirks are handled here, never by editing the suite
# (docs/node-conformance.md):
#   - systemd-run exists but PID 1 is not systemd: the suite would start the
#     kubelet through it, so the suite's PATH is a directory of links to every
#     program on this PATH but systemd-run (a private mount namespace hiding
#     it would also hide the kubelet's volume mounts from the runtime);
#   - cgroup v1: the kubelet gets --fail-cgroupv1=false;
#   - helpers call sudo, which is not installed: a sudo that runs its
#     arguments (we are root) is first on PATH;
#   - the runtime runs in its own cgroup, named to the kubelet with
#     --runtime-cgroups (the summary API reports it);
#   - images: test/nodee2e/images serves what the specs pull, under their
#     names, on a loopback registry the runtime mirrors registry.k8s.io to.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
. hack/lib.sh
H=$(cd ../shared/harness && pwd)
runtime=${NODE_E2E_RUNTIME:-wincri}
focus=${NODE_E2E_FOCUS:-'\[NodeConformance\]'}
skip=${NODE_E2E_SKIP:-'\[Flaky\]|\[Slow\]|\[Serial\]'}
nodes=${NODE_E2E_NODES:-4}
cache=${NODE_E2E_CACHE:-/var/tmp/wincri-node-e2e}
out=${NODE_E2E_OUT:-$cache/results/$runtime-$(date +%Y%m%d-%H%M%S)}
imgaddr=127.0.0.1:5001
case $runtime in wincri | containerd) ;; *) echo "node-e2e: NODE_E2E_RUNTIME must be wincri or containerd" >&2; exit 2 ;; esac

"$H/setup.sh" >/dev/null
hack/install-deps.sh
kubelet=$(hack/build-kubelet.sh)
suite=$(hack/build-node-e2e.sh)
work=$cache/work-$runtime
# What a run killed before its cleanup left: the kubelet's pods' processes,
# wincri's shims, and mounts under the work directory.
leftovers() {
  for f in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/pids/$runtime-ne; do
    [ -d "$f" ] && find "$f" -name cgroup.procs -exec cat {} + | xargs -r kill -9 2>/dev/null
  done
  pkill -9 -f -- "-address /run/wincri-node-e2e/wincri.sock" || true
  sleep 0.5
  grep -o " $work/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}
leftovers
rm -rf "$work"
mkdir -p "$work"/{bin,sudo,certs.d/registry.k8s.io,certs.d/_default} "$out"
ln -s "$suite/e2e_node.test" "$work/bin/e2e_node.test"
# The suite looks for the kubelet beside its own binary.
ln -s "$kubelet" "$work/bin/kubelet"
printf '#!/bin/sh\nexec "$@"\n' >"$work/sudo/sudo"
mkdir "$work/path"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  for f in "$d"/*; do
    n=${f##*/}
    [ -x "$f" ] && [ ! -d "$f" ] && [ "$n" != systemd-run ] && [ ! -e "$work/path/$n" ] && ln -s "$f" "$work/path/$n"
  done
done
chmod +x "$work/sudo/sudo"

pids=()
cleanup() {
  set +e
  # The pods the suite left (it stops the kubelet before every namespace is
  # gone), removed through CRI before the runtime stops.
  [ -n "${ep:-}" ] && CRI_CONFIG_FILE=${HARNESS_WORK:-/var/tmp/cri-harness}/crictl.yaml timeout 120 "${HARNESS_WORK:-/var/tmp/cri-harness}/bin/crictl" --runtime-endpoint "$ep" rmp -fa >/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ "$runtime" = containerd ]; then CTRD_DIR=$work/containerd "$H/containerd-ref.sh" stop >/dev/null 2>&1; fi
  # What the kubelet leaves: its pod cgroups and the runtime's.
  for c in /sys/fs/cgroup/*/; do
    [ -L "${c%/}" ] && continue
    for d in "$c"kubepods "$c"kubelet "$c"system "$c$runtime-ne"; do
      [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  done
}
trap cleanup EXIT

# Images: the harness's layout plus agnhost built from source.
go build -o "$work/images" ./test/nodee2e/images
CGO_ENABLED=0 go build -o "$work/nmeter" ./test/nodee2e/nmeter
# agnhost's nc is netcat-openbsd (UDP specs use nc -u; busybox's has no -u):
# Debian's package, downloaded and unpacked, never installed.
nc=$cache/debs/nc.openbsd
if [ ! -x "$nc" ]; then
  rm -rf "$cache/debs" && mkdir -p "$cache/debs"
  (cd "$cache/debs" && apt-get download netcat-openbsd >/dev/null 2>&1 && dpkg-deb -x netcat-openbsd_*.deb root && cp root/bin/nc.openbsd "$nc")
fi
"$work/images" -layout "${HARNESS_IMAGES:-/var/tmp/cri-harness/images}" -agnhost "$suite/agnhost" -nmeter "$work/nmeter" \
  -hostbin "/usr/bin/curl,/bin/bash,$nc=/usr/bin/nc" -addr $imgaddr >"$work/images.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do grep -q '^ready' "$work/images.log" && break; sleep 0.5; done
grep -q '^ready' "$work/images.log" || { cat "$work/images.log" >&2; exit 1; }

# The runtime, in its own cgroup in every v1 hierarchy.
runtime_cgroup() {
  for c in /sys/fs/cgroup/*/; do
    [ -L "${c%/}" ] || [ ! -e "${c}cgroup.procs" ] && continue
    case $c in */unified/ | */systemd/) continue ;; esac
    mkdir -p "$c$runtime-ne"
    # A new cpuset cgroup has no CPUs or memory nodes: give it its parent's.
    for f in cpuset.cpus cpuset.mems; do
      [ -e "$c$f" ] && cat "$c$f" >"$c$runtime-ne/$f"
    done
    echo "$1" >"$c$runtime-ne/cgroup.procs"
  done
}
if [ "$runtime" = wincri ]; then
  make -s build
  w=$work/wincri
  mkdir -p "$w/cni"
  bridge_conflist wincri-node-e2e wincri-n0 10.97.0.0/16 "$w/ipam" false >"$w/cni/10-node-e2e.conflist"
  certs=$work/certs.d
  cat >"$w/config.toml" <<TOML
root = "$w/root"
state = "/run/wincri-node-e2e"
listen = "unix:///run/wincri-node-e2e/wincri.sock"
[registry]
config_path = "$certs"
[cni]
conf_dir = "$w/cni"
# The RuntimeClass handler the suite's RuntimeClass and PodOverhead specs use.
[runtimes.runc]
shim = "containerd-shim-runc-v2"
platform = "linux"
[runtimes.test-handler]
shim = "containerd-shim-runc-v2"
platform = "linux"
TOML
  bin/wincri --config "$w/config.toml" >"$out/wincri.log" 2>&1 &
  rpid=$!
  pids+=($rpid)
  echo $rpid >"$work/runtime.pid"
  ep=unix:///run/wincri-node-e2e/wincri.sock
  for _ in $(seq 100); do [ -S /run/wincri-node-e2e/wincri.sock ] && break; sleep 0.2; done
  pname=wincri
else
  ctrd=${CTRD_BIN:-/var/tmp/cri-harness/ctrd-2.4.2/containerd}
  if [ ! -x "$ctrd" ]; then
    GOBIN=$(dirname "$ctrd") CGO_ENABLED=0 go install github.com/containerd/containerd/v2/cmd/containerd@v2.4.2
  fi
  cp -f "$(command -v containerd-shim-runc-v2)" "$(dirname "$ctrd")/"
  # containerd as containerd-ref.sh configures it, plus the RuntimeClass
  # handler test-handler (as upstream's containerd node e2e config has it):
  # the harness has no hook for it, so a wrapper adds it to the config.
  mkdir -p "$work/wrapper"
  cat >"$work/wrapper/containerd" <<SH
#!/bin/sh
if [ "\$1" = --config ]; then
  conf=\$2.node-e2e
  { cat "\$2"; printf '%s\\n' '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.test-handler]' \\
    '  runtime_type = "io.containerd.runc.v2"' '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.test-handler.options]' \\
    '  Root = "$work/containerd/runc"' '  BinaryName = "$(command -v runc)"'; } >"\$conf"
  shift 2
  exec "$ctrd" --config "\$conf" "\$@"
fi
exec "$ctrd" "\$@"
SH
  chmod +x "$work/wrapper/containerd"
  # On containerd's default socket: the kubelet's cAdvisor finds containerd
  # only there (its --containerd flag is not a kubelet flag), as on a real node.
  ep=$(CTRD_DIR=$work/containerd CTRD_SOCK=/run/containerd/containerd.sock CTRD_BIN=$work/wrapper/containerd CTRD_SHIM_DIR=$(dirname "$ctrd") RUNC_BINARY=$(command -v runc) "$H/containerd-ref.sh" start)
  certs=$work/containerd/certs.d
  mkdir -p "$certs/registry.k8s.io"
  cp "${HARNESS_WORK:-/var/tmp/cri-harness}/run/containerd.pid" "$work/runtime.pid"
  rpid=$(cat "$work/runtime.pid")
  pname=containerd
fi
hosts_toml $imgaddr >"$certs/registry.k8s.io/hosts.toml"
[ -s "$certs/_default/hosts.toml" ] || hosts_toml "${HARNESS_REGISTRY_ADDR:-127.0.0.1:5000}" >"$certs/_default/hosts.toml"
runtime_cgroup "$rpid"

echo "node-e2e $runtime: $(date -u +%FT%TZ), focus $focus, skip $skip, $nodes processes, report in $out"
start=$(date +%s)
set +e
PATH=$work/sudo:$work/path "$suite/ginkgo" --nodes="$nodes" --focus="$focus" --skip="$skip" --timeout=4h --no-color \
  --json-report=report.json --output-dir="$out" \
  "$work/bin/e2e_node.test" -- \
  --container-runtime-endpoint="$ep" --container-runtime-process-name=$pname \
  --container-runtime-pid-file="$work/runtime.pid" --prepull-images=false \
  --report-dir="$out" \
  --kubelet-flags="--fail-cgroupv1=false --runtime-cgroups=/$runtime-ne ${NODE_E2E_KUBELET_FLAGS:-}" >"$out/ginkgo.log" 2>&1
rc=$?
set -e
echo "node-e2e $runtime: ginkgo exited $rc after $(($(date +%s) - start)) s"
go build -o "$work/report" ./test/nodee2e/report
# The other runtime's latest run (its directory is named by its start), if
# any: wincri's report first, the reference's second, and the specs on which
# they differ.
other=$([ "$runtime" = wincri ] && echo containerd || echo wincri)
prev=
[ "${NODE_E2E_COMPARE:-1}" = 0 ] || prev=$(ls -d "$cache/results/$other"-*/report.json 2>/dev/null | tail -1 || true)
if [ -z "$prev" ]; then
  "$work/report" "$out/report.json"
elif [ "$runtime" = wincri ]; then
  "$work/report" "$out/report.json" "$prev"
else
  "$work/report" "$prev" "$out/report.json"
fi
