package runtime

import (
	"context"
	"net"
	"testing"

	"github.com/wincri/wincri/proto/records"
)

// On Windows port-forward dials the pod's IP (here 127.0.0.2, where a dial
// of localhost would find nothing), and localhost without one.
func TestDialPodUsesPodIP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	port := int32(l.Addr().(*net.TCPAddr).Port)
	conn, err := dialPod(context.Background(), &records.Pod{Ips: []string{"127.0.0.2"}}, port)
	if err != nil {
		t.Fatalf("dial the pod IP: %v", err)
	}
	conn.Close()
	if conn, err := dialPod(context.Background(), &records.Pod{}, port); err == nil {
		conn.Close()
		t.Error("a pod without an IP reached 127.0.0.2: it should dial localhost")
	}
}
