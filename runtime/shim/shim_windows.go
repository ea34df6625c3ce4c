package shim

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/Microsoft/go-winio"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// copyShimLog reads the shim's log pipe (\\.\pipe\containerd-shim-NS-ID-log)
// into this daemon's log. The shim creates the pipe after it starts, so the
// dial retries in the background.
func copyShimLog(ctx context.Context, ns, id, _ string) (func(), error) {
	path := fmt.Sprintf(`\\.\pipe\containerd-shim-%s-%s-log`, ns, id)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		var c net.Conn
		for c == nil {
			d := 100 * time.Millisecond
			conn, err := winio.DialPipe(path, &d)
			if err == nil {
				c = conn
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		go func() { <-ctx.Done(); c.Close() }()
		forwardShimLog(ctx, id, c)
	}()
	return cancel, nil
}

func listenEvents(address string) (net.Listener, error) {
	return winio.ListenPipe(address, &winio.PipeConfig{SecurityDescriptor: "D:P(A;;GA;;;BA)(A;;GA;;;SY)"})
}
