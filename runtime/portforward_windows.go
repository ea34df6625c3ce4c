package runtime

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
)

// PortForward for Windows pods comes with the Windows work (containerd runs
// wincat in the pod's compartment).
func (r *Runtime) PortForward(context.Context, string, int32, io.ReadWriteCloser) error {
	return fmt.Errorf("port forward to Windows pods: %w", errdefs.ErrNotImplemented)
}
