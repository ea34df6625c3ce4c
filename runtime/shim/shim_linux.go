package shim

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/wincri/wincri/runtime/cio"
	"golang.org/x/sys/unix"
)

func sysProcAttr() *syscall.SysProcAttr {
	// Its own process group: a signal to this daemon's group spares shims.
	return &syscall.SysProcAttr{Setpgid: true}
}

// copyShimLog reads the shim's log fifo (bundle/log) into this daemon's log:
// a shim whose log nobody reads blocks.
func copyShimLog(ctx context.Context, _, id, bundle string, _ bool) (func(), error) {
	// Read and write: the open does not wait, and the reads never end while
	// a new shim has yet to open its end.
	f, err := cio.OpenFifoNow(filepath.Join(bundle, "log"), unix.O_RDWR)
	if err != nil {
		return nil, err
	}
	go forwardShimLog(ctx, id, f)
	return func() { f.Close() }, nil
}

func listenEvents(address string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(address), 0o711); err != nil {
		return nil, err
	}
	os.Remove(address) // only this daemon serves it; a leftover is stale
	l, err := net.Listen("unix", address)
	if err != nil {
		return nil, err
	}
	return l, os.Chmod(address, 0o600)
}

// freshPipe: a unix socket needs nothing before the first dial.
func freshPipe(string) {}
