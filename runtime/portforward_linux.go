package runtime

import (
	"context"
	"net"

	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/wincri/wincri/proto/records"
)

// dialPod connects to port on the pod's loopback, inside its network
// namespace (the host's for host-network pods).
func dialPod(ctx context.Context, rec *records.Pod, port int32) (net.Conn, error) {
	if rec.NetnsPath == "" {
		return dialTCP(ctx, "127.0.0.1", port)
	}
	var conn net.Conn
	err := netns.LoadNetNS(rec.NetnsPath).Do(func(ns.NetNS) error {
		var err error
		conn, err = dialTCP(ctx, "127.0.0.1", port)
		return err
	})
	return conn, err
}
