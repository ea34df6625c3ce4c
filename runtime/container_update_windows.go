package runtime

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/validate"
	"github.com/wincri/wincri/runtime/winspec"
)

// resourceUpdate checks the Windows resources of an update, merges them into
// the spec and returns what the runhcs shim's Update takes (the spec's
// WindowsResources, as containerd sends them).
func (r *Runtime) resourceUpdate(_ context.Context, id string, spec *specs.Spec, res *runtimeapi.ContainerResources) (any, error) {
	wr := res.GetWindows()
	if wr == nil {
		return nil, nil
	}
	if err := validate.ContainerPlatform(&runtimeapi.ContainerConfig{Windows: &runtimeapi.WindowsContainerConfig{Resources: wr}}); err != nil {
		return nil, err
	}
	if spec.Windows == nil {
		return nil, fmt.Errorf("container %s has no Windows spec: %w", id, errdefs.ErrFailedPrecondition)
	}
	return winspec.UpdateResources(spec, wr), nil
}

func setConfigResources(cfg *runtimeapi.ContainerConfig, res *runtimeapi.ContainerResources) {
	if cfg.Windows == nil {
		cfg.Windows = &runtimeapi.WindowsContainerConfig{}
	}
	cfg.Windows.Resources = res.GetWindows()
}
