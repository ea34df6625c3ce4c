package runtime

import (
	"context"
	"net"

	"github.com/wincri/wincri/proto/records"
)

// dialPod connects to port at the pod's IP from the host, as containerd
// does on Windows (the host reaches pod endpoints through the HNS network);
// host-process pods share the host's network: localhost.
func dialPod(ctx context.Context, rec *records.Pod, port int32) (net.Conn, error) {
	host := "127.0.0.1"
	if len(rec.Ips) > 0 {
		host = rec.Ips[0]
	}
	return dialTCP(ctx, host, port)
}
