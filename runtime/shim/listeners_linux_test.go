package shim

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestListening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	// A connected socket is no listener: only the listening one counts.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	abstract := "wincri-test-" + filepath.Base(filepath.Dir(path))
	aln, err := net.Listen("unix", "@"+abstract)
	if err != nil {
		t.Fatal(err)
	}
	live, err := Listening()
	if err != nil {
		t.Fatal(err)
	}
	if !live.Has("unix://" + path) {
		t.Errorf("the listening socket %s is not listed", path)
	}
	if !live.Has(abstract) {
		t.Errorf("the listening abstract socket %s is not listed", abstract)
	}
	if live.Has("unix://" + path + "x") {
		t.Errorf("a path nothing listens on is listed")
	}
	ln.Close() // the file stays; the socket is gone
	aln.Close()
	if live, err = Listening(); err != nil {
		t.Fatal(err)
	}
	if live.Has("unix://"+path) || live.Has(abstract) {
		t.Errorf("closed listeners are still listed")
	}
}

func TestParseNetUnix(t *testing.T) {
	const sample = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 20951 /run/wincri/s/0a1b
0000000000000000: 00000003 00000000 00000000 0001 03 20952 /run/wincri/s/0c2d
0000000000000000: 00000002 00000000 00010000 0001 01 20953 @/containerd-shim/abc.sock
0000000000000000: 00000002 00000000 00000000 0002 01 20954
0000000000000000: 00000002 00000000 00010000 0001 01 20955 /run/with space
`
	l, err := parseNetUnix(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"unix:///run/wincri/s/0a1b": true, "unix:///run/wincri/s/0c2d": false,
		"/containerd-shim/abc.sock": true, "unix:///run/with space": true,
	} {
		if got := l.Has(addr); got != want {
			t.Errorf("Has(%q) = %v, want %v", addr, got, want)
		}
	}
	if _, err := parseNetUnix(strings.NewReader("h\n0: 1 0 zz 1 01 2 /x\n")); err == nil {
		t.Error("a line with unreadable flags parsed")
	}
}
