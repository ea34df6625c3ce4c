package runtime

import (
	"context"
	"testing"

	"github.com/wincri/wincri/proto/records"
)

// On Windows port-forward dials the pod's IP (here 127.0.0.2, where a dial
// of localhost would find nothing), and localhost without one.
func TestDialPodUsesPodIP(t *testing.T) {
	port, err := echoServer(t, "127.0.0.2")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
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
