#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root) to a running wincri:
# installs the dependencies, builds, installs /usr/local/bin/wincri, writes a
# CNI network if /etc/cni/net.d has none, and starts the daemon with the
# default configuration (unix:///run/wincri/wincri.sock).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
hack/install-deps.sh
make build
install -m 0755 bin/wincri /usr/local/bin/wincri

if ! ls /etc/cni/net.d/*.conf* >/dev/null 2>&1; then
  mkdir -p /etc/cni/net.d
  cat > /etc/cni/net.d/10-wincri.conflist <<'JSON'
{
  "cniVersion": "1.0.0",
  "name": "wincri",
  "plugins": [
    {"type": "bridge", "bridge": "wincri0", "isGateway": true, "ipMasq": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.89.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
fi
[ -f /etc/crictl.yaml ] || printf 'runtime-endpoint: unix:///run/wincri/wincri.sock\nimage-endpoint: unix:///run/wincri/wincri.sock\n' > /etc/crictl.yaml

if [ -S /run/wincri/wincri.sock ] && crictl --runtime-endpoint unix:///run/wincri/wincri.sock version >/dev/null 2>&1; then
  echo "setup: wincri already running; restarting it with the new build"
  pkill -TERM -x wincri || true
  sleep 2
fi
mkdir -p /var/log
setsid /usr/local/bin/wincri >>/var/log/wincri.log 2>&1 < /dev/null &
for _ in $(seq 100); do
  crictl --runtime-endpoint unix:///run/wincri/wincri.sock version >/dev/null 2>&1 && break
  sleep 0.1
done
crictl --runtime-endpoint unix:///run/wincri/wincri.sock version
echo "setup: wincri is running (log: /var/log/wincri.log, pid $(pgrep -x wincri))"
