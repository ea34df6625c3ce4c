package shim

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containerd/fifo"
	"golang.org/x/sys/unix"
)

func sysProcAttr() *syscall.SysProcAttr {
	// Its own process group: a signal to this daemon's group spares shims.
	return &syscall.SysProcAttr{Setpgid: true}
}

// copyShimLog reads the shim's log fifo (bundle/log) into this daemon's log:
// a shim whose log nobody reads blocks.
func copyShimLog(ctx context.Context, _, id, bundle string, _ bool) (func(), error) {
	f, err := fifo.OpenFifo(context.Background(), filepath.Join(bundle, "log"), unix.O_RDWR|unix.O_CREAT|unix.O_NONBLOCK, 0o700)
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
