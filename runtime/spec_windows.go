package runtime

import (
	"context"
	"github.com/containerd/containerd/v2/core/snapshots"
	"strconv"

	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/winspec"
)

// sandboxSpec builds a Windows pod's pause container spec (winspec).
func (r *Runtime) sandboxSpec(ctx context.Context, in specInput) (*specs.Spec, error) {
	return winspec.SandboxSpec(ctx, r.winInput(in, nil))
}

// containerSpec builds a Windows container's spec (winspec).
func (r *Runtime) containerSpec(ctx context.Context, in specInput, cfg *runtimeapi.ContainerConfig) (*specs.Spec, error) {
	return winspec.ContainerSpec(ctx, r.winInput(in, cfg))
}

func mountPodShm(string, *runtimeapi.PodSandboxConfig) error { return nil }

func unmountPodShm(string) error { return nil }

func unmountAll(string) error { return nil }

// removeCgroup: Windows has no cgroups.
func removeCgroup(*specs.Spec) {}

func (r *Runtime) removeImageVolumes(context.Context, string) error { return nil }

// hostNetwork: on Windows only HostProcess pods are on the host network, and
// they always are (no HCN namespace), whatever the Linux namespace options
// say, as containerd decides it.
func hostNetwork(cfg *runtimeapi.PodSandboxConfig) bool {
	return cfg.GetWindows().GetSecurityContext().GetHostProcess()
}

// rootfsSizeLabel sizes the windows snapshotter's scratch layer.
const rootfsSizeLabel = "containerd.io/snapshot/windows/rootfs.sizebytes"

// rootfsSnapshotOpts asks the windows snapshotter for the container's
// rootfs_size_in_bytes, as containerd does.
func rootfsSnapshotOpts(cfg *runtimeapi.ContainerConfig) []snapshots.Opt {
	if n := cfg.GetWindows().GetResources().GetRootfsSizeInBytes(); n > 0 {
		return []snapshots.Opt{snapshots.WithLabels(map[string]string{rootfsSizeLabel: strconv.FormatInt(n, 10)})}
	}
	return nil
}
