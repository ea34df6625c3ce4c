#!/usr/bin/env bash
# Installs what wincri runs and its tests use, when missing: Debian packages
# (CNI plugins, iptables, libseccomp for runc), runc and containerd-shim-runc-v2
# built with `go install`, and crictl. Idempotent; needs root on Debian 12.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local
GOBIN=${GOBIN:-/usr/local/bin}
SHIM_VERSION=${SHIM_VERSION:-v2.4.2}
RUNC_VERSION=${RUNC_VERSION:-v1.5.2}
CRICTL_VERSION=${CRICTL_VERSION:-v1.37.0}

command -v go >/dev/null || { echo "install-deps: Go >= 1.26 is needed (in PATH or /usr/local/go/bin)" >&2; exit 1; }

pkgs=()
for p in containernetworking-plugins iptables libseccomp-dev pkg-config gcc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || pkgs+=("$p")
done
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

if ! [ -x "$GOBIN/containerd-shim-runc-v2" ]; then
  echo "install-deps: go install containerd-shim-runc-v2@$SHIM_VERSION"
  GOBIN=$GOBIN CGO_ENABLED=0 go install "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$SHIM_VERSION"
fi
# (not "runc --version | grep -q": with pipefail, grep closing the pipe early
# can fail the pipeline and rebuild runc every time)
runc_version=$("$GOBIN/runc" --version 2>/dev/null || true)
if [[ "$runc_version" != *"${RUNC_VERSION#v}"* ]]; then
  echo "install-deps: go install runc@$RUNC_VERSION (seccomp)"
  GOBIN=$GOBIN CGO_ENABLED=1 go install -tags seccomp "github.com/opencontainers/runc@$RUNC_VERSION"
fi
if ! [ -x "$GOBIN/crictl" ]; then
  echo "install-deps: go install crictl@$CRICTL_VERSION"
  GOBIN=$GOBIN go install -ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_VERSION#v}" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
fi
