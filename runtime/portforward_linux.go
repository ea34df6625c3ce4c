package runtime

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/errdefs"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/wincri/wincri/proto/records"
)

// PortForward connects stream to port on the pod's loopback, inside its
// network namespace (the host's for host-network pods).
func (r *Runtime) PortForward(ctx context.Context, podID string, port int32, stream io.ReadWriteCloser) error {
	p, err := r.lookupPod(podID)
	if err != nil {
		return err
	}
	rec := p.snapshot()
	if rec.State != records.PodState_POD_READY {
		return fmt.Errorf("pod sandbox %s is not ready: %w", rec.Id, errdefs.ErrFailedPrecondition)
	}
	addr := fmt.Sprintf("localhost:%d", port)
	var conn net.Conn
	dial := func(ns.NetNS) error {
		var err error
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp4", addr)
		return err
	}
	if rec.NetnsPath == "" {
		err = dial(nil)
	} else {
		err = netns.LoadNetNS(rec.NetnsPath).Do(dial)
	}
	if err != nil {
		return fmt.Errorf("port forward to %s in pod %s: %w", addr, rec.Id, err)
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
