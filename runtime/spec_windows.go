package runtime

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandboxSpec for Windows pods comes with the Windows work (runhcs shim).
func (r *Runtime) sandboxSpec(context.Context, specInput) (*specs.Spec, error) {
	return nil, fmt.Errorf("windows sandbox spec: %w", errdefs.ErrNotImplemented)
}

func (r *Runtime) containerSpec(context.Context, specInput, *runtimeapi.ContainerConfig) (*specs.Spec, error) {
	return nil, fmt.Errorf("windows container spec: %w", errdefs.ErrNotImplemented)
}

func mountPodShm(string, *runtimeapi.PodSandboxConfig) error { return nil }

func unmountPodShm(string) error { return nil }

func unmountAll(string) error { return nil }

func (r *Runtime) removeImageVolumes(context.Context, string) error { return nil }
