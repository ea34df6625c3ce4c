package runtime

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/wincri/wincri/proto/records"
)

// PortForward reaches a port of a host-network pod (Linux) or of the pod's
// IP (Windows; 127.0.0.1 here), copies both ways, and ends with the stream.
func TestPortForward(t *testing.T) {
	port, err := echoServer(t, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	r := &Runtime{pods: map[string]*pod{
		"ready":   {rec: &records.Pod{Id: "ready", State: records.PodState_POD_READY, Ips: []string{"127.0.0.1"}}},
		"stopped": {rec: &records.Pod{Id: "stopped", State: records.PodState_POD_NOTREADY}},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- r.PortForward(ctx, "ready", port, server) }()
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the forward: %q %v", buf, err)
	}
	client.Close()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("PortForward did not end with its stream")
	}

	for _, tc := range []struct {
		pod  string
		port int32
		want error
	}{
		{"stopped", port, errdefs.ErrFailedPrecondition},
		{"unknown", port, errdefs.ErrNotFound},
		{"ready", 0, errdefs.ErrInvalidArgument},
		{"ready", 70000, errdefs.ErrInvalidArgument},
	} {
		c, s := net.Pipe()
		if err := r.PortForward(ctx, tc.pod, tc.port, s); !errors.Is(err, tc.want) {
			t.Errorf("PortForward(%s, %d) = %v, want %v", tc.pod, tc.port, err, tc.want)
		}
		c.Close()
	}
}

// echoServer listens on host (closed with the test) and echoes every
// connection; it returns the port.
func echoServer(t *testing.T, host string) (int32, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return int32(l.Addr().(*net.TCPAddr).Port), nil
}
