#!/usr/bin/env bash
# A single-machine Kubernetes cluster whose node runs on wincri:
#
#   hack/cluster.sh up      etcd, kube-apiserver, kube-controller-manager,
#                           kube-scheduler, kube-proxy (iptables), metrics-server,
#                           wincri and the kubelet, each a background process
#   hack/cluster.sh down    stops them and removes what they made: pods,
#                           cgroups, mounts, iptables chains, the CNI bridge,
#                           the state directory
#   hack/cluster.sh env     prints the export that points kubectl at it
#   hack/cluster.sh bin     prints the directory of the cluster's binaries
#   hack/cluster.sh start-wincri   starts wincri again after it was killed
#   hack/cluster.sh restart-kubelet   restarts the kubelet with $CLUSTER_KUBELET_FLAGS
#
# Everything is built unmodified from the Go module proxy (hack/build-cluster.sh,
# hack/build-kubelet.sh) and cached outside the repository. Certificates are
# made at every start; RBAC and the Node authorizer are on; service-account
# tokens work; metrics-server is an aggregated API (metrics.k8s.io) the API
# server reaches at this host's address. Logs: $CLUSTER_DIR/logs/<name>.log.
#
#   CLUSTER_DIR            state, certificates, logs (default /var/tmp/wincri-cluster/run)
#   CLUSTER_KUBELET_FLAGS  more kubelet flags, e.g.
#                          --feature-gates=PodAndContainerStatsFromCRI=true
#   CLUSTER_HPA_SYNC       the HPA controller's sync period (default 5s) and
#   CLUSTER_HPA_DOWNSCALE  its downscale stabilization window (default 30s)
#   CLUSTER_NODE_IP        the node's address (default: this host's source
#                          address for its default route)
#
# Ports (beside the defaults, so that the node e2e suite's in-process servers
# and kubelet can run on the same machine): etcd 12379, API server 16443,
# kubelet 11250, metrics-server 14443.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
. hack/lib.sh
dir=${CLUSTER_DIR:-/var/tmp/wincri-cluster/run}
node=$(hostname | tr '[:upper:]' '[:lower:]')
state=/run/wincri-cluster
sock=$state/wincri.sock
bridge=wincri-c0
pod_cidr=10.98.0.0/16
svc_cidr=10.99.0.0/24
api=https://127.0.0.1:16443
cgroot=wincri-cluster
imgaddr=127.0.0.1:5002

kubectl() { "$bin/kubectl" --kubeconfig "$dir/admin.kubeconfig" "$@"; }

# --- down -------------------------------------------------------------------
stop() { # name: SIGTERM, then SIGKILL after 10 s
  local f=$dir/pids/$1.pid p
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  kill "$p" 2>/dev/null || { rm -f "$f"; return 0; }
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$p" 2>/dev/null || true
  rm -f "$f"
}
down() {
  set +e
  bin=${CLUSTER_CACHE:-/var/tmp/wincri-cluster}/${KUBE_VERSION:-v1.37.2}
  stop kubelet
  # The node's pods, removed through CRI while wincri still runs.
  if [ -S "$sock" ]; then timeout 120 crictl --runtime-endpoint "unix://$sock" rmp -fa >/dev/null 2>&1; fi
  for c in metrics-server kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd wincri images; do stop $c; done
  # What a killed run can leave: processes in the pods' cgroups, shims.
  for f in /sys/fs/cgroup/pids/$cgroot /sys/fs/cgroup/pids/$cgroot-runtime; do
    [ -d "$f" ] && find "$f" -name cgroup.procs -exec cat {} + | xargs -r kill -9 2>/dev/null
  done
  pkill -9 -f -- "-address $sock" 2>/dev/null
  sleep 0.5
  grep -o " $dir/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  grep -o " $state/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  for c in /sys/fs/cgroup/*/; do
    [ -L "${c%/}" ] && continue
    for d in "$c$cgroot" "$c$cgroot-runtime"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
  done
  "$bin/kube-proxy" --cleanup >/dev/null 2>&1
  ip link delete $bridge 2>/dev/null
  # The sysctls the kubelet and kube-proxy set, as they were before up.
  if [ -f "$dir/sysctl.saved" ]; then
    while read -r k v; do echo "$v" >"/proc/sys/$k"; done <"$dir/sysctl.saved"
  fi
  [ -f "$dir/made-var-lib-kubelet" ] && rm -rf /var/lib/kubelet
  rm -rf "$dir" "$state"
  set -e
}

# --- certificates -------------------------------------------------------------
pki=$dir/pki
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$1.key" 2>/dev/null; }
ca() { key "$1" && openssl req -x509 -new -key "$pki/$1.key" -out "$pki/$1.crt" -days 7 -subj "/CN=$2" 2>/dev/null; }
cert() { # name ca CN O usage [subjectAltName]
  key "$1"
  openssl req -new -key "$pki/$1.key" -out "$pki/$1.csr" -subj "/CN=$3${4:+/O=$4}" 2>/dev/null
  {
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$5"
    [ -z "${6:-}" ] || echo "subjectAltName=$6"
  } >"$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.crt" -CAkey "$pki/$2.key" -CAcreateserial -days 7 \
    -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}
kubeconfig() { # name client-cert
  cat >"$dir/$1.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: wincri, cluster: {server: "$api", certificate-authority: "$pki/ca.crt"}}]
users: [{name: $2, user: {client-certificate: "$pki/$2.crt", client-key: "$pki/$2.key"}}]
contexts: [{name: wincri, context: {cluster: wincri, user: $2}}]
current-context: wincri
YAML
}

start() { # name command...: a background process with its log and pid
  local n=$1
  shift
  setsid "$@" >"$dir/logs/$n.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$n.pid"
}
wait_for() { # what seconds command...
  local what=$1 t=$2
  shift 2
  for _ in $(seq $((t * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "cluster: $what not ready after ${t}s; logs in $dir/logs" >&2
  return 1
}

# wincri, in its own cgroup in every v1 hierarchy (the kubelet's
# --runtime-cgroups), beside the cgroup root of the node's pods.
run_wincri() {
  start wincri bin/wincri --config "$dir/wincri/config.toml"
  wait_for "wincri" 30 test -S "$sock"
  for c in /sys/fs/cgroup/*/; do
    [ -L "${c%/}" ] || [ ! -e "${c}cgroup.procs" ] && continue
    # The kubelet wants its cgroup root in every hierarchy, named ones too.
    mkdir -p "$c$cgroot"
    case $c in */unified/ | */systemd/) continue ;; esac
    mkdir -p "$c$cgroot-runtime"
    for f in cpuset.cpus cpuset.mems; do
      [ -e "$c$f" ] && cat "$c$f" >"$c$cgroot-runtime/$f" && cat "$c$f" >"$c$cgroot/$f"
    done
    cat "$dir/pids/wincri.pid" >"$c$cgroot-runtime/cgroup.procs"
  done
}

# The kubelet, with $CLUSTER_KUBELET_FLAGS; its node Ready.
run_kubelet() {
  local kubelet
  kubelet=$(hack/build-kubelet.sh)
  # shellcheck disable=SC2086
  start kubelet "$kubelet" --config "$dir/kubelet.yaml" --kubeconfig "$dir/kubelet.kubeconfig" \
    --root-dir "$dir/kubelet" --cert-dir "$dir/kubelet-pki" --hostname-override "$node" --node-ip "$(cat "$dir/node-ip")" \
    --runtime-cgroups "/$cgroot-runtime" --v 2 ${CLUSTER_KUBELET_FLAGS:-}
  wait_for "node $node Ready" 120 kubectl wait --for=condition=Ready "node/$node" --timeout=1s
}

up() {
  [ ! -d "$dir/pids" ] || { echo "cluster: already up in $dir (hack/cluster.sh down first)" >&2; exit 1; }
  trap 'echo "cluster: up failed; logs in $dir/logs; hack/cluster.sh down removes what started" >&2' ERR
  hack/install-deps.sh
  bin=$(hack/build-cluster.sh)
  hack/build-kubelet.sh >/dev/null
  e2e=$(hack/build-node-e2e.sh)
  # The harness's image layout (the bases of the test images); its setup
  # also restarts its registry, so only when there is no layout yet.
  [ -f "${HARNESS_IMAGES:-/var/tmp/cri-harness/images}/index.json" ] || "$(cd ../shared/harness && pwd)/setup.sh" >/dev/null
  make -s build
  ip=${CLUSTER_NODE_IP:-$(ip -4 route get 8.8.8.8 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')}
  [ -n "$ip" ] || { echo "cluster: no default route; set CLUSTER_NODE_IP" >&2; exit 1; }
  mkdir -p "$dir"/{pids,logs,pki,bin} "$state"
  # The kubelet's device-plugin directory is fixed, whatever --root-dir
  # says: down removes it if up made it.
  [ -e /var/lib/kubelet ] || touch "$dir/made-var-lib-kubelet"
  for k in vm/overcommit_memory kernel/panic kernel/panic_on_oops net/bridge/bridge-nf-call-iptables net/ipv4/conf/all/route_localnet; do
    [ -f "/proc/sys/$k" ] && echo "$k $(cat "/proc/sys/$k")" >>"$dir/sysctl.saved"
  done
  echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables

  ca ca wincri-ca
  ca front-proxy-ca wincri-front-proxy-ca
  cert apiserver ca kube-apiserver "" serverAuth "IP:127.0.0.1,IP:$ip,IP:${svc_cidr%.*}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert apiserver-kubelet-client ca kube-apiserver-kubelet-client system:masters clientAuth
  cert front-proxy-client front-proxy-ca front-proxy-client "" clientAuth
  cert admin ca kubernetes-admin system:masters clientAuth
  cert controller-manager ca system:kube-controller-manager "" clientAuth
  cert scheduler ca system:kube-scheduler "" clientAuth
  cert kube-proxy ca system:kube-proxy "" clientAuth
  cert kubelet ca "system:node:$node" system:nodes clientAuth
  # The Windows node's kubelet (test/windows TestWindowsNodeInCluster, under Wine).
  cert kubelet-win ca "system:node:wincri-win" system:nodes clientAuth
  cert metrics-server ca metrics-server "" serverAuth "IP:$ip,IP:127.0.0.1,DNS:metrics-server.kube-system.svc"
  key sa && openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  for c in admin controller-manager scheduler kube-proxy kubelet; do kubeconfig "$c" "$c"; done

  start etcd "$bin/etcd" --name wincri --data-dir "$dir/etcd" --listen-client-urls http://127.0.0.1:12379 \
    --advertise-client-urls http://127.0.0.1:12379 --listen-peer-urls http://127.0.0.1:12380 \
    --initial-advertise-peer-urls http://127.0.0.1:12380 --initial-cluster wincri=http://127.0.0.1:12380
  start kube-apiserver "$bin/kube-apiserver" --etcd-servers http://127.0.0.1:12379 --secure-port 16443 \
    --advertise-address "$ip" --service-cluster-ip-range $svc_cidr --authorization-mode Node,RBAC --allow-privileged \
    --client-ca-file "$pki/ca.crt" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" \
    --requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
    --enable-aggregator-routing --kubelet-preferred-address-types InternalIP,Hostname
  wait_for "kube-apiserver" 90 kubectl get --raw /readyz
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/controller-manager.kubeconfig" --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
    --secure-port 20257 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --horizontal-pod-autoscaler-sync-period "${CLUSTER_HPA_SYNC:-5s}" \
    --horizontal-pod-autoscaler-downscale-stabilization "${CLUSTER_HPA_DOWNSCALE:-30s}"
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/scheduler.kubeconfig" --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
    --secure-port 20259 --leader-elect=false
  start kube-proxy "$bin/kube-proxy" --kubeconfig "$dir/kube-proxy.kubeconfig" --proxy-mode iptables \
    --hostname-override "$node" --cluster-cidr $pod_cidr --conntrack-max-per-core 0 \
    --metrics-bind-address 127.0.0.1:20249 --healthz-bind-address 127.0.0.1:20256

  # Images: the suite's image server (test/nodee2e/images) with the HPA
  # workload, reached through wincri's mirror for registry.k8s.io.
  go build -o "$dir/bin/images" ./test/nodee2e/images
  CGO_ENABLED=0 go build -o "$dir/bin/nmeter" ./test/nodee2e/nmeter
  start images "$dir/bin/images" -layout "${HARNESS_IMAGES:-/var/tmp/cri-harness/images}" -agnhost "$e2e/agnhost" \
    -nmeter "$dir/bin/nmeter" -consumer "$bin" -addr $imgaddr
  wait_for "the image server" 120 grep -q '^ready' "$dir/logs/images.log"

  w=$dir/wincri
  mkdir -p "$w/cni" "$w/certs.d/registry.k8s.io" "$w/certs.d/_default"
  hosts_toml $imgaddr >"$w/certs.d/registry.k8s.io/hosts.toml"
  hosts_toml "${HARNESS_REGISTRY_ADDR:-127.0.0.1:5000}" >"$w/certs.d/_default/hosts.toml"
  bridge_conflist wincri-cluster $bridge $pod_cidr "$w/ipam" true >"$w/cni/10-cluster.conflist"
  cat >"$w/config.toml" <<TOML
root = "$w/root"
state = "$state"
listen = "unix://$sock"
[registry]
config_path = "$w/certs.d"
[cni]
conf_dir = "$w/cni"
TOML
  run_wincri

  cat >"$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
port: 11250
healthzPort: 11248
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$pki/ca.crt"}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: /$cgroot
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$sock
podLogsDir: $dir/pod-logs
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
serializeImagePulls: false
YAML
  echo "$ip" >"$dir/node-ip"
  run_kubelet

  # metrics-server, as an aggregated API served from this host.
  start metrics-server "$bin/metrics-server" --kubeconfig "$dir/admin.kubeconfig" \
    --authentication-kubeconfig "$dir/admin.kubeconfig" --authorization-kubeconfig "$dir/admin.kubeconfig" \
    --secure-port 14443 --tls-cert-file "$pki/metrics-server.crt" --tls-private-key-file "$pki/metrics-server.key" \
    --kubelet-insecure-tls --kubelet-preferred-address-types InternalIP --kubelet-use-node-status-port \
    --metric-resolution 15s
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec: {ports: [{name: https, port: 443, targetPort: 14443}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: metrics-server-host, namespace: kube-system, labels: {kubernetes.io/service-name: metrics-server}}
addressType: IPv4
endpoints: [{addresses: ["$ip"], conditions: {ready: true}}]
ports: [{name: https, port: 14443, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {name: metrics-server, namespace: kube-system, port: 443}
  caBundle: $(base64 -w0 "$pki/ca.crt")
  groupPriorityMinimum: 100
  versionPriority: 100
YAML
  wait_for "metrics.k8s.io" 120 kubectl get --raw /apis/metrics.k8s.io/v1beta1/nodes
  echo "cluster: up; node $node ($ip) on wincri; logs in $dir/logs"
  echo "export KUBECONFIG=$dir/admin.kubeconfig PATH=$bin:\$PATH"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  bin) hack/build-cluster.sh ;;
  restart-kubelet) # with this $CLUSTER_KUBELET_FLAGS; the pods keep running
    bin=$(hack/build-cluster.sh)
    stop kubelet
    run_kubelet ;;
  start-wincri) # after a crash or kill -9: the same wincri, same config
    if [ -f "$dir/pids/wincri.pid" ] && kill -0 "$(cat "$dir/pids/wincri.pid")" 2>/dev/null; then
      echo "cluster: wincri is running" >&2; exit 1
    fi
    rm -f "$sock"
    run_wincri ;;
  env) echo "export KUBECONFIG=$dir/admin.kubeconfig PATH=$(hack/build-cluster.sh):\$PATH" ;;
  *) echo "usage: hack/cluster.sh up|down|env|bin|start-wincri|restart-kubelet" >&2; exit 2 ;;
esac
