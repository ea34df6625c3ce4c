//go:build linux

package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The default sandbox image is the one containerd's own CRI uses, read from
// the containerd module go.mod pins (its internal/cri/config).
func TestDefaultSandboxImageIsContainerds(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/containerd/containerd/v2").Output()
	if err != nil {
		t.Fatalf("go list of the containerd module: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "internal", "cri", "config", "config.go"))
	if err != nil {
		t.Fatalf("containerd's CRI config source: %v", err)
	}
	m := regexp.MustCompile(`DefaultSandboxImage\s*=\s*"([^"]+)"`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no DefaultSandboxImage in containerd's internal/cri/config/config.go")
	}
	if got, want := Default().SandboxImage, string(m[1]); got != want {
		t.Errorf("default sandbox_image %q, containerd's %q", got, want)
	}
}
