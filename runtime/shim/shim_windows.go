package shim

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/Microsoft/go-winio"

	"github.com/wincri/wincri/runtime/winpipe"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// copyShimLog reads the shim's log pipe (\\.\pipe\containerd-shim-NS-ID-log)
// into this daemon's log. The shim creates the pipe after it starts, so the
// dial retries in the background.
func copyShimLog(ctx context.Context, ns, id, _ string, fresh bool) (func(), error) {
	path := fmt.Sprintf(`\\.\pipe\containerd-shim-%s-%s-log`, ns, id)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		// A new shim's log listener has had no client: under Wine that
		// first connection is never accepted (see winpipe), so drop it.
		skip := fresh && winpipe.UnderWine()
		var c net.Conn
		for c == nil {
			d := 100 * time.Millisecond
			conn, err := winio.DialPipe(path, &d)
			if err == nil && skip {
				conn.Close()
				skip = false
				continue
			}
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

// freshPipe is called before the first dial to a shim that just started.
func freshPipe(address string) { winpipe.FirstDial(address) }

func listenEvents(address string) (net.Listener, error) {
	return winpipe.Listen(address, &winio.PipeConfig{SecurityDescriptor: "D:P(A;;GA;;;BA)(A;;GA;;;SY)"})
}
