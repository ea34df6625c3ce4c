package runtime

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/containerd/errdefs"

	"github.com/wincri/wincri/proto/records"
)

// PortForward connects stream to port in the pod's network (see dialPod)
// and copies both ways until either side ends.
func (r *Runtime) PortForward(ctx context.Context, podID string, port int32, stream io.ReadWriteCloser) error {
	p, err := r.lookupPod(podID)
	if err != nil {
		return err
	}
	rec := p.snapshot()
	if rec.State != records.PodState_POD_READY {
		return fmt.Errorf("pod sandbox %s is not ready: %w", rec.Id, errdefs.ErrFailedPrecondition)
	}
	if port <= 0 || port > 65535 {
		return fmt.Errorf("port %d: %w", port, errdefs.ErrInvalidArgument)
	}
	conn, err := dialPod(ctx, rec, port)
	if err != nil {
		return fmt.Errorf("port forward to port %d in pod %s: %w", port, rec.Id, err)
	}
	defer conn.Close()
	errc := make(chan error, 2)
	go func() { _, err := io.Copy(conn, stream); errc <- err }()
	go func() { _, err := io.Copy(stream, conn); errc <- err }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	return err
}

func dialTCP(ctx context.Context, host string, port int32) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, fmt.Sprint(port)))
}
