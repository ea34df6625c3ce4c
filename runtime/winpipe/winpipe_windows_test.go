package winpipe

import (
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/Microsoft/go-winio"
)

// A client that dials between the listener's creation and the throw-away
// dial (under Wine it lands on the instance nothing accepts) must not hang
// for good: its connection breaks, and the next client is served. Before
// Listen checked its throw-away dial, that client's read hung.
func TestListenClientInTheGap(t *testing.T) {
	if !UnderWine() {
		t.Skip("the unaccepted first instance is Wine's (docs/windows.md)")
	}
	path := fmt.Sprintf(`\\.\pipe\wincri-winpipe-gap-%d`, os.Getpid())
	squatted := make(chan error, 1)
	var dialled bool
	afterListen = func(p string) {
		if dialled {
			return
		}
		dialled = true
		d := time.Second
		c, err := winio.DialPipe(p, &d)
		if err != nil {
			squatted <- fmt.Errorf("dial in the gap: %w", err)
			return
		}
		// As a ttrpc client does: read for answers, close on an error.
		go func() {
			_, err := c.Read(make([]byte, 1))
			c.Close()
			squatted <- err
		}()
	}
	t.Cleanup(func() { afterListen = nil })
	l, err := Listen(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	select {
	case err := <-squatted:
		if err == nil {
			t.Fatal("the client in the gap read an answer nobody sent")
		}
		t.Logf("the client in the gap: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the client that dialled in the gap still waits after 5 s: it took the instance nothing accepts")
	}
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	d := 5 * time.Second
	c, err := winio.DialPipe(path, &d)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(t, c)
}

func echo(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
		t.Fatalf("echo through the listener: %q %v", b, err)
	}
}
