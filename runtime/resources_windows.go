package runtime

import (
	"context"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Windows containers have no cgroups: their resources are Windows ones.
func (r *Runtime) logMissingCgroups(context.Context) {}

func (r *Runtime) fitResources(context.Context, string, *specs.LinuxResources) error { return nil }
