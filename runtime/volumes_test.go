package runtime

import (
	"path/filepath"
	"testing"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestWithImageVolumes(t *testing.T) {
	cfg := &runtimeapi.ContainerConfig{Mounts: []*runtimeapi.Mount{{ContainerPath: "/var/lib/data/", HostPath: "/host"}}}
	img := imagespec.ImageConfig{Volumes: map[string]struct{}{"/var/lib/data": {}, "cache": {}, "/logs": {}}}
	out := withImageVolumes(cfg, img, "/root/containers/c1", true)
	if len(cfg.Mounts) != 1 {
		t.Fatal("the request's config was changed")
	}
	if len(out.Mounts) != 3 {
		t.Fatalf("mounts %v: want the CRI one and one per uncovered VOLUME", out.Mounts)
	}
	for i, want := range []string{"/cache", "/logs"} {
		m := out.Mounts[1+i]
		if m.ContainerPath != want || filepath.Dir(m.HostPath) != filepath.Join("/root/containers/c1", "volumes") {
			t.Errorf("volume %d: %v", i, m)
		}
	}
	// Windows: paths compare without case and separators.
	win := withImageVolumes(&runtimeapi.ContainerConfig{Mounts: []*runtimeapi.Mount{{ContainerPath: `C:\Data`}}},
		imagespec.ImageConfig{Volumes: map[string]struct{}{"c:/data/": {}, `C:\logs`: {}}}, `C:\root\containers\c1`, false)
	if len(win.Mounts) != 2 || win.Mounts[1].ContainerPath != `C:\logs` {
		t.Errorf("Windows volumes: %v", win.Mounts)
	}
	if got := withImageVolumes(cfg, imagespec.ImageConfig{}, "/x", true); got != cfg {
		t.Error("no VOLUME: the config as it is")
	}
}
