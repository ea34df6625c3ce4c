package kubeletapi

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client talks to a kubelet's API on 127.0.0.1:Port (TLS with its
// self-signed certificate, anonymous, AlwaysAllow), and fails a test that
// waits on a kubelet which has exited (Exited closed).
type Client struct {
	T      *testing.T
	Port   int
	Exited <-chan struct{}
	HTTP   *http.Client
}

// NewClient is a client of the kubelet on port.
func NewClient(t *testing.T, port int, exited <-chan struct{}) *Client {
	return &Client{T: t, Port: port, Exited: exited,
		HTTP: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
}

// In is the client failing t instead (a subtest's: FailNow must come from
// the goroutine of the test it fails).
func (k *Client) In(t *testing.T) *Client {
	c := *k
	c.T = t
	return &c
}

// URL is the address of path on the kubelet.
func (k *Client) URL(path string) string { return fmt.Sprintf("https://127.0.0.1:%d%s", k.Port, path) }

// Get answers a GET of path; a status other than 200 is an error.
func (k *Client) Get(path string) ([]byte, error) {
	resp, err := k.HTTP.Get(k.URL(path))
	return body(resp, err)
}

// Post answers an empty POST to path (the kubelet's /run).
func (k *Client) Post(path string) ([]byte, error) {
	resp, err := k.HTTP.Post(k.URL(path), "application/x-www-form-urlencoded", nil)
	return body(resp, err)
}

func body(resp *http.Response, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return b, err
}

// GetJSON decodes the answer to a GET of path into v.
func (k *Client) GetJSON(path string, v any) error {
	b, err := k.Get(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// WaitFor polls cond until it holds; the timeout passing or the kubelet
// exiting fails the test.
func (k *Client) WaitFor(what string, timeout time.Duration, cond func() bool) {
	k.T.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-k.Exited:
			k.T.Fatalf("the kubelet exited while waiting for %s", what)
		default:
		}
		if time.Now().After(deadline) {
			k.T.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Pods are the kubelet's pods by name, with the status of static ones.
func (k *Client) Pods() map[string]Pod {
	var l PodList
	out := map[string]Pod{}
	if err := k.GetJSON("/pods", &l); err == nil {
		for _, p := range l.Items {
			out[p.Metadata.Name] = p
		}
	}
	return out
}

// WaitReady waits for the pods to be Running with every container ready
// and returns them by name; a container that restarted is an error.
func (k *Client) WaitReady(timeout time.Duration, names ...string) map[string]Pod {
	k.T.Helper()
	var byName map[string]Pod
	k.WaitFor(fmt.Sprintf("pods %v Running and Ready", names), timeout, func() bool {
		byName = k.Pods()
		for _, n := range names {
			if !byName[n].Ready() {
				return false
			}
		}
		return true
	})
	for _, n := range names {
		for _, c := range byName[n].Status.ContainerStatuses {
			if c.RestartCount != 0 {
				k.T.Errorf("%s/%s restarted %d times", n, c.Name, c.RestartCount)
			}
		}
	}
	return byName
}

// FreePort is a TCP port on 127.0.0.1 nothing listens on now (for a
// kubelet's API).
func FreePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ErrorsAndTail is a kubelet log's error lines (klog's E prefix) and its
// last n lines, for a failed test's output.
func ErrorsAndTail(s string, n int) string {
	lines := strings.Split(s, "\n")
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "E") {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(out, "\n") + "\n---\n" + strings.Join(lines, "\n")
}
