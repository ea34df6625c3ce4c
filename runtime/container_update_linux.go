package runtime

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/validate"
)

// resourceUpdate checks the Linux resources of an update, merges them into
// the spec and returns what the runc shim's Update takes.
func (r *Runtime) resourceUpdate(ctx context.Context, id string, spec *specs.Spec, res *runtimeapi.ContainerResources) (any, error) {
	lr := res.GetLinux()
	if lr == nil {
		return nil, nil
	}
	if spec.Linux == nil {
		return nil, fmt.Errorf("container %s has no Linux spec: %w", id, errdefs.ErrFailedPrecondition)
	}
	if err := validate.LinuxResources("linux", lr); err != nil {
		return nil, err
	}
	resources := linuxResources(spec.Linux.Resources, lr)
	if err := r.fitResources(ctx, id, resources); err != nil {
		return nil, err
	}
	return resources, nil
}

func setConfigResources(cfg *runtimeapi.ContainerConfig, res *runtimeapi.ContainerResources) {
	if cfg.Linux == nil {
		cfg.Linux = &runtimeapi.LinuxContainerConfig{}
	}
	cfg.Linux.Resources = res.GetLinux()
}
