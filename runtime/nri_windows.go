package runtime

import (
	"context"
	"errors"

	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/config"
)

// nriHooks: NRI is not served on Windows yet; every hook does nothing.
type nriHooks struct{}

func (r *Runtime) startNRI(cfg config.NRI) error {
	if cfg.Enable {
		return errors.New("NRI is not supported on Windows yet: set [nri] enable = false")
	}
	return nil
}

func (h *nriHooks) stop()                                                  {}
func (h *nriHooks) runPod(context.Context, *pod) error                     { return nil }
func (h *nriHooks) stopPod(context.Context, *pod) error                    { return nil }
func (h *nriHooks) removePod(context.Context, *pod) error                  { return nil }
func (h *nriHooks) startContainer(context.Context, *pod, *container) error { return nil }
func (h *nriHooks) event(context.Context, string, *pod, *container)        {}
func (h *nriHooks) createContainer(context.Context, *pod, *container, *specs.Spec) error {
	return nil
}
func (h *nriHooks) updateContainer(_ context.Context, _ *pod, _ *container, res *runtimeapi.LinuxContainerResources) (*runtimeapi.LinuxContainerResources, error) {
	return res, nil
}
