package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServicePanicLog: a panic in the service process lands in panic.log
// (a service has no console to print it on).
func TestServicePanicLog(t *testing.T) {
	if p := os.Getenv("WINCRI_PANIC_LOG"); p != "" {
		if err := crashOutput(p); err != nil {
			t.Fatal(err)
		}
		panic("boom in the service")
	}
	p := filepath.Join(t.TempDir(), "root", "panic.log")
	cmd := exec.Command(os.Args[0], "-test.run=^TestServicePanicLog$")
	cmd.Env = append(os.Environ(), "WINCRI_PANIC_LOG="+p)
	if err := cmd.Run(); err == nil {
		t.Fatal("the child did not panic")
	}
	b, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(b), "panic: boom in the service") || !strings.Contains(string(b), "goroutine") {
		t.Fatalf("panic.log: %v %q", err, b)
	}
}
