package server

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenUnixSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "cri.sock")
	l, err := Listen("unix://" + path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v mode %v, want a 0600 socket", err, fi.Mode())
	}
	// A live server keeps its socket.
	if _, err := Listen("unix://" + path); err == nil || !strings.Contains(err.Error(), "another live process") {
		t.Fatalf("second Listen on a served socket: %v", err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	// A stale one (nobody answers) is replaced.
	l, err = Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l.Close()
	if _, err := Listen("tcp://127.0.0.1:1"); err == nil {
		t.Fatal("tcp endpoint accepted")
	}
}
