package windowse2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// stream opens a kubelet-style remotecommand session (SPDY,
// v4.channel.k8s.io) on an Exec or Attach URL and creates the streams the
// request asked for.
type stream struct {
	conn                        httpstream.Connection
	errS, stdin, stdout, stderr httpstream.Stream
}

func openStream(t *testing.T, url string, stdin, stdout, stderr bool) *stream {
	t.Helper()
	return openStreamTLS(t, url, nil, stdin, stdout, stderr)
}

// openStreamTLS is openStream over TLS with cfg (through the API server).
func openStreamTLS(t *testing.T, url string, cfg *tls.Config, stdin, stdout, stderr bool) *stream {
	t.Helper()
	rt, err := spdy.NewRoundTripper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Stream-Protocol-Version", "v4.channel.k8s.io")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("stream upgrade: %v", err)
	}
	conn, err := rt.NewConnection(resp)
	if err != nil {
		t.Fatalf("stream connection: %v", err)
	}
	s := &stream{conn: conn}
	create := func(typ string) httpstream.Stream {
		h := http.Header{}
		h.Set("streamType", typ)
		st, err := conn.CreateStream(h)
		if err != nil {
			t.Fatalf("create %s stream: %v", typ, err)
		}
		return st
	}
	s.errS = create("error")
	if stdin {
		s.stdin = create("stdin")
	}
	if stdout {
		s.stdout = create("stdout")
	}
	if stderr {
		s.stderr = create("stderr")
	}
	return s
}

// status reads the error stream to its end, which carries the exec's
// final Status (protocol v4: "Success" or the failure), or fails the test
// after timeout.
func (s *stream) status(t *testing.T, timeout time.Duration) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(s.errS)
		got <- string(b)
	}()
	select {
	case st := <-got:
		return st
	case <-time.After(timeout):
		t.Fatalf("no exec status on the error stream within %s", timeout)
		return ""
	}
}

// readUntil reads r until it has seen want or timeout passes.
func readUntil(r io.Reader, want string, timeout time.Duration) (string, error) {
	got := make(chan string, 1)
	var b strings.Builder
	go func() {
		sc := bufio.NewReader(r)
		buf := make([]byte, 4096)
		for {
			n, err := sc.Read(buf)
			b.Write(buf[:n])
			if strings.Contains(b.String(), want) || err != nil {
				got <- b.String()
				return
			}
		}
	}()
	select {
	case s := <-got:
		if !strings.Contains(s, want) {
			return s, fmt.Errorf("stream ended without %q: %q", want, s)
		}
		return s, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no %q within %s", want, timeout)
	}
}
