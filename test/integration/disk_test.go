//go:build linux

package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

// TestParallelUnpackStacksLayersInOrder: with layers extracted in parallel
// (the default on overlayfs with more than one CPU allowed), what a later
// layer deletes or replaces is gone from the container's root even when
// that layer is extracted before the layer it changes: a file whiteout,
// an opaque directory and a file overwritten.
func TestParallelUnpackStacksLayersInOrder(t *testing.T) {
	e := newPodEnvOpts(t, func(o *testutil.Options) { o.RegistryKeys = "max_concurrent_unpacks = 4\n" })
	big := make([]byte, 16<<20) // the lower layer takes longest to extract
	rand.NewChaCha8([32]byte{3}).Read(big)
	lower := layer(t, map[string][]byte{
		"a/keep": []byte("kept"), "a/gone": []byte("deleted above"),
		"d/old": []byte("hidden by an opaque dir"), "f": []byte("from the lower layer"), "big": big,
	})
	upper := layer(t, map[string][]byte{
		"a/.wh.gone": nil, "d/.wh..wh..opq": nil, "d/new": []byte("new"), "f": []byte("from the upper layer"),
	})
	img, err := mutate.AppendLayers(testutil.ProcImage(t, testProcBin, []string{"/testproc"}, []string{"sleep", "3600"}), lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	e.reg.Push(t, "e2e/stacked:1", img)
	pull(t, e.d, "registry.k8s.io/e2e/stacked:1")
	b, err := os.ReadFile(e.d.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`msg="image unpacked".*parallel=true`).Match(b) {
		t.Fatalf("the image was not unpacked in parallel:\n%s", grepLines(b, "image unpacked"))
	}

	podID, pod := e.runPod("stacked")
	id := e.createWith(podID, pod, "stacked", func(c *runtimeapi.ContainerConfig) {
		c.Image = &runtimeapi.ImageSpec{Image: "registry.k8s.io/e2e/stacked:1"}
	})
	e.start(id)
	for path, want := range map[string]string{"/a/keep": "kept", "/d/new": "new", "/f": "from the upper layer"} {
		if got := e.exec(id, "/testproc", "cat", path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	for _, path := range []string{"/a/gone", "/d/old", "/a/.wh.gone", "/d/.wh..wh..opq"} {
		ex, err := e.d.Runtime.ExecSync(testutil.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"/testproc", "cat", path}, Timeout: 10})
		if err != nil || ex.ExitCode == 0 {
			t.Errorf("%s is in the container's root (%q, %v); a later layer deleted it", path, ex.GetStdout(), err)
		}
	}
	e.removeAll()
}

func layer(t *testing.T, files map[string][]byte) v1.Layer {
	t.Helper()
	l, err := crane.Layer(files)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRemovedContainerFreesItsDisk: RemoveContainer returns before the
// container's bundle and snapshot are gone (they go in the background), but
// they do go soon, with the pod still running and no image removed: the
// snapshot's directory (what the container wrote) is garbage-collected.
func TestRemovedContainerFreesItsDisk(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("frees")
	snaps := filepath.Join(e.d.Dir, "root", "images", "snapshots", "snapshots")
	before := dirEntries(t, snaps)
	id := e.create(podID, pod, "sleeper", "sleep", "3600")
	e.start(id)
	if n := dirEntries(t, snaps); n != before+1 {
		t.Fatalf("%d snapshot directories with the container, %d without", n, before)
	}
	if _, err := e.d.Runtime.RemoveContainer(testutil.Ctx(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Runtime.ContainerStatus(testutil.Ctx(t), &runtimeapi.ContainerStatusRequest{ContainerId: id}); status.Code(err) != codes.NotFound {
		t.Errorf("ContainerStatus after RemoveContainer: %v", err)
	}
	waitFor(t, "the removed container's snapshot directory to be collected", func() bool { return dirEntries(t, snaps) == before })
	if _, err := os.Stat(filepath.Join(e.d.Dir, "s", "bundles", id)); !os.IsNotExist(err) {
		t.Errorf("bundle of the removed container: %v", err)
	}
	e.removeAll()
}

func dirEntries(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestRemoveContainerRetriesCleanup: a removed container whose bundle
// cannot be removed (an immutable file in it, as a busy mount or a broken
// snapshotter would) is not forgotten: RemovePodSandbox fails while it
// fails (kubelet retries it), the removal is retried in the background and
// counted, and once it can succeed it does, leaving nothing behind.
func TestRemoveContainerRetriesCleanup(t *testing.T) {
	addr := freeAddr(t)
	metric := func(name string) float64 {
		for _, line := range strings.Split(get(t, "http://"+addr+"/metrics"), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == name {
				v, _ := strconv.ParseFloat(f[1], 64)
				return v
			}
		}
		t.Fatalf("/metrics lacks %s", name)
		return 0
	}
	e := newPodEnvWith(t, fmt.Sprintf("[metrics]\naddress = %q\n", addr))
	podID, pod := e.runPod("stuck")
	id := e.create(podID, pod, "sleeper", "sleep", "3600")
	e.start(id)
	pin := filepath.Join(e.d.Dir, "s", "bundles", id, "config.json")
	chattr := func(flag string) {
		if out, err := exec.Command("chattr", flag, pin).CombinedOutput(); err != nil {
			t.Fatalf("chattr %s %s: %v %s", flag, pin, err, out)
		}
	}
	chattr("+i")
	defer exec.Command("chattr", "-i", pin).Run()
	ctx := testutil.Ctx(t)
	if _, err := e.d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	_, err := e.d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "operation not permitted") {
		t.Fatalf("RemovePodSandbox while its container's bundle cannot be removed: %v; want Unavailable naming the failure", err)
	}
	waitFor(t, "a retried removal to be counted", func() bool { return metric("wincri_cleanup_retries_total") >= 2 })
	if n := metric("wincri_cleanups_pending"); n != 1 {
		t.Errorf("wincri_cleanups_pending %v while the removal fails, want 1", n)
	}
	if b, _ := os.ReadFile(e.d.LogPath()); strings.Count(string(b), "background removal failed; retrying") != 1 {
		t.Errorf("the failing removal is to be logged as a warning once, found %d times", strings.Count(string(b), "background removal failed; retrying"))
	}
	chattr("-i")
	waitFor(t, "the retried removal to succeed", func() bool { return metric("wincri_cleanups_pending") == 0 })
	if _, err := e.d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatalf("RemovePodSandbox once the removal succeeded: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(pin)); !os.IsNotExist(err) {
		t.Errorf("bundle of the removed container: %v", err)
	}
	e.assertNothingLeft()
}
