package cio

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLongLogPath: a container log path past MAX_PATH (a long pod name,
// namespace and container name) opens.
func TestLongLogPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 120), strings.Repeat("e", 120))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "0.log")
	if len(p) < 260 {
		t.Fatalf("path of %d bytes is not long", len(p))
	}
	// Wine has no MAX_PATH limit, so the open alone would pass without the
	// extended form; check the form CreateFile gets on Windows too.
	if lp := longPath(p); lp != `\\?\`+p {
		t.Errorf("CreateFile gets %q", lp)
	}
	f, err := openAppend(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := longPath(`C:\a\..\b` + strings.Repeat("x", 260)); !strings.HasPrefix(got, `C:`) {
		t.Errorf("a path with .. must be left alone: %.20s", got)
	}
}
