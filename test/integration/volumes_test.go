//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

// TestImageVolumes: an image's VOLUMEs are directories of the container's
// own, mounted where the image declares them (as containerd does), unless a
// CRI mount covers them; they go with the container.
func TestImageVolumes(t *testing.T) {
	e := newPodEnv(t)
	img := testutil.ProcImage(t, testProcBin, []string{"/testproc"}, []string{"sleep", "3600"})
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Volumes = map[string]struct{}{"/data": {}, "/covered": {}}
	if img, err = mutate.Config(img, cfg); err != nil {
		t.Fatal(err)
	}
	e.reg.Push(t, "wincri-test/volumes:1", img)
	const ref = "registry.k8s.io/wincri-test/volumes:1"
	pull(t, e.d, ref)
	podID, pod := e.runPod("volumes")
	id := e.createWith(podID, pod, "v", func(c *runtimeapi.ContainerConfig) {
		c.Image.Image = ref
		c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/covered", HostPath: t.TempDir()}}
	})
	e.start(id)
	mounts := e.exec(id, "/testproc", "cat", "/proc/self/mountinfo")
	if n := strings.Count(mounts, " /data "); n != 1 {
		t.Errorf("/data mounted %d times:\n%s", n, mounts)
	}
	if n := strings.Count(mounts, " /covered "); n != 1 {
		t.Errorf("/covered mounted %d times (the CRI mount covers the image's VOLUME)", n)
	}
	vols, _ := filepath.Glob(filepath.Join(e.d.Dir, "root", "containers", id, "volumes", "*"))
	if len(vols) != 1 {
		t.Errorf("volume directories %v, want one (for /data)", vols)
	}
	e.removeAll()
	if _, err := os.Stat(filepath.Join(e.d.Dir, "root", "containers", id)); !os.IsNotExist(err) {
		t.Errorf("the container's volumes outlived it: %v", err)
	}
}
