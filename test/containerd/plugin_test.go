//go:build linux

// Package containerd runs wincri as a plugin inside containerd
// (cmd/containerd-wincri) and drives it through containerd's socket, with
// kubelet's CRI calls and with ctr.
package containerd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

const (
	procImage     = "registry.k8s.io/wincri-test/proc:1"
	importedImage = "registry.k8s.io/wincri-test/imported:1"
)

// ctrd is one containerd-wincri on temporary directories.
type ctrd struct {
	t          *testing.T
	bin, ctr   string
	work, sock string
	cmd        *exec.Cmd
	conn       *grpc.ClientConn
	rt         runtimeapi.RuntimeServiceClient
	is         runtimeapi.ImageServiceClient
}

// build builds containerd-wincri and ctr (containerd's, the version the
// plugin's module pins) into dir.
func build(t *testing.T, dir string) (bin, ctr string) {
	bin, ctr = filepath.Join(dir, "containerd-wincri"), filepath.Join(dir, "ctr")
	for _, b := range [][]string{{"-tags", "no_cri", "-o", bin, "."}, {"-o", ctr, "github.com/containerd/containerd/v2/cmd/ctr"}} {
		cmd := exec.Command("go", append([]string{"build"}, b...)...)
		cmd.Dir = "../../cmd/containerd-wincri"
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", b, err, out)
		}
	}
	return bin, ctr
}

// start starts containerd and connects to its CRI; a handler that panics
// (failpoint status-panic) must cost one call, not containerd.
func (c *ctrd) start() {
	t := c.t
	logf, _ := os.OpenFile(filepath.Join(c.work, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	c.cmd = exec.Command(c.bin, "--config", filepath.Join(c.work, "config.toml"))
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.Env = append(os.Environ(), "WINCRI_FAILPOINTS=status-panic")
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	conn, err := testutil.DialCRI(c.sock, 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.conn, c.rt, c.is = conn, runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
}

// kill is kill -9 of containerd.
func (c *ctrd) kill() {
	c.conn.Close()
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// runCtr runs ctr against this containerd in the CRI's namespace.
func (c *ctrd) runCtr(args ...string) string {
	c.t.Helper()
	out, err := exec.Command(c.ctr, append([]string{"--address", c.sock, "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("ctr %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestCRIInsideContainerd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs pods: needs root")
	}
	dir, _, testproc, err := testutil.BuildTestBinaries()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c := &ctrd{t: t}
	c.bin, c.ctr = build(t, dir)
	reg := testutil.NewRegistry(t)
	testutil.PushTestImages(t, reg, testproc)
	if c.work, err = os.MkdirTemp("", "wincri-ctrd-"); err != nil {
		t.Fatal(err)
	}
	work := c.work
	c.sock = filepath.Join(work, "containerd.sock")
	for p, body := range map[string]string{
		"certs.d/registry.k8s.io/hosts.toml": testutil.Mirror(reg.Host),
		"cni/10-test.conflist":               strings.ReplaceAll(testutil.BridgeCNI("wincri-p0", "10.95.0.0/16"), "$DIR", work),
		"config.toml": fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
required_plugins = ["io.containerd.grpc.v1.wincri"]
[grpc]
  address = %[3]q
[plugins.'io.containerd.snapshotter.v1.overlayfs']
  root_path = %[6]q
[plugins.'io.containerd.grpc.v1.wincri']
  sandbox_image = "registry.k8s.io/wincri-test/pause:1"
  [plugins.'io.containerd.grpc.v1.wincri'.registry]
    config_path = %[4]q
  [plugins.'io.containerd.grpc.v1.wincri'.cni]
    conf_dir = %[5]q
    bin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
`, filepath.Join(work, "root"), filepath.Join(work, "state"), c.sock, filepath.Join(work, "certs.d"), filepath.Join(work, "cni"), filepath.Join(work, "snaps")),
	} {
		f := filepath.Join(work, p)
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(work, "containerd.log"))
			t.Logf("containerd log:\n%s", b)
		}
		exec.Command("ip", "link", "delete", "wincri-p0").Run()
		testutil.UnmountBelow(work)
		os.RemoveAll(work)
	})
	c.start()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	if _, err := c.rt.Status(ctx, &runtimeapi.StatusRequest{}); status.Code(err) != codes.Internal {
		t.Fatalf("a panicking handler inside containerd: want Internal, got %v", err)
	}
	v, err := c.rt.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil || v.RuntimeName != "wincri" {
		t.Fatalf("Version through containerd (after a handler panicked): %v %v", v, err)
	}
	if out := c.runCtr("plugins", "ls"); !plugged(out) {
		t.Fatalf("ctr plugins ls does not show io.containerd.grpc.v1 wincri ok:\n%s", out)
	}

	// One image store: what the CRI pulls, ctr lists (and containerd's
	// event subscribers hear of); what ctr imports, the CRI runs; nothing is
	// stored under the plugin's own root.
	var events strings.Builder
	evCmd := exec.Command(c.ctr, "--address", c.sock, "events")
	evCmd.Stdout = &events
	if err := evCmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // subscribed
	if _, err := c.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: procImage}}); err != nil {
		t.Fatalf("PullImage: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	evCmd.Process.Kill()
	evCmd.Wait()
	if !strings.Contains(events.String(), "/images/create") || !strings.Contains(events.String(), procImage) {
		t.Errorf("ctr events saw no /images/create of %s for the CRI's pull:\n%s", procImage, events.String())
	}
	// The snapshotter's root_path from containerd's config is where the
	// CRI measures and reports the image filesystem.
	fsi, err := c.is.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil || len(fsi.ImageFilesystems) == 0 || fsi.ImageFilesystems[0].FsId.GetMountpoint() != filepath.Join(work, "snaps") {
		t.Errorf("ImageFsInfo with the snapshotter's root_path %s: %v %v", filepath.Join(work, "snaps"), fsi, err)
	}
	if out := c.runCtr("images", "ls", "-q"); !strings.Contains(out, procImage) {
		t.Fatalf("ctr images ls does not list the CRI-pulled image:\n%s", out)
	}
	archive := filepath.Join(work, "imported.tar")
	img := testutil.ProcImage(t, testproc, []string{"/testproc"}, []string{"tick"})
	if err := tarball.WriteToFile(archive, name.MustParseReference(importedImage), img); err != nil {
		t.Fatal(err)
	}
	c.runCtr("images", "import", archive)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, err := c.is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: importedImage}})
		if err == nil && st.Image != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the CRI does not see the image ctr imported: %v %v", st, err)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "root", "io.containerd.grpc.v1.wincri", "images", "content")); !os.IsNotExist(err) {
		t.Fatalf("the plugin keeps a content store of its own (%v): images would be stored twice", err)
	}

	logDir := filepath.Join(work, "logs")
	pod := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "in-containerd", Namespace: "test", Uid: "u1"},
		Hostname:     "in-containerd",
		LogDirectory: logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}}},
	}
	p, err := c.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pod})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	ctrID := c.startContainer(ctx, p.PodSandboxId, pod, "c", procImage, []string{"tick"})
	imported := c.startContainer(ctx, p.PodSandboxId, pod, "imported", importedImage, nil)
	waitLog(t, filepath.Join(logDir, "c.log"), " stdout F tick 2")
	waitLog(t, filepath.Join(logDir, "imported.log"), " stdout F tick 2")
	ex, err := c.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ctrID, Cmd: []string{"/testproc", "echo", "in", "containerd"}, Timeout: 10})
	if err != nil || !strings.HasPrefix(string(ex.Stdout), "in containerd") {
		t.Fatalf("ExecSync: %v %v", ex, err)
	}
	if st, err := c.rt.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: ctrID}); err != nil || st.Stats.GetMemory().GetWorkingSetBytes() == nil {
		t.Fatalf("ContainerStats: %v %v", st, err)
	}

	// Another client's active snapshot, pinned like wincri pins its own:
	// wincri's sweep of orphans after the restart must leave it alone.
	c.runCtr("snapshots", "prepare", "foreign-client-snapshot")
	c.runCtr("snapshots", "label", "foreign-client-snapshot", "containerd.io/gc.root="+time.Now().UTC().Format(time.RFC3339))

	// kill -9 of containerd: after a restart the pod and its containers are
	// reattached and still logging, exactly as standalone.
	c.kill()
	b, _ := os.ReadFile(filepath.Join(logDir, "c.log"))
	lines := strings.Count(string(b), "\n")
	c.start()
	ps, err := c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.PodSandboxId})
	if err != nil || ps.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("pod after containerd's kill -9: %v %v", ps, err)
	}
	for _, id := range []string{ctrID, imported} {
		cs, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil || cs.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Fatalf("container after containerd's kill -9: %v %v", cs, err)
		}
	}
	waitLog(t, filepath.Join(logDir, "c.log"), fmt.Sprintf(" stdout F tick %d", lines+3))
	if out := c.runCtr("snapshots", "ls"); !strings.Contains(out, "foreign-client-snapshot") {
		t.Fatalf("wincri's orphan sweep removed another client's snapshot:\n%s", out)
	}
	c.runCtr("snapshots", "rm", "foreign-client-snapshot")

	if _, err := c.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.PodSandboxId}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if _, err := c.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.PodSandboxId}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	if l, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); err != nil || len(l.Containers) != 0 {
		t.Fatalf("containers left: %v %v", l, err)
	}
	if _, err := c.is.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: importedImage}}); err != nil {
		t.Fatalf("RemoveImage: %v", err)
	}
	if out := c.runCtr("images", "ls", "-q"); strings.Contains(out, importedImage) {
		t.Fatalf("ctr still lists the image the CRI removed:\n%s", out)
	}
}

// plugged says whether ctr plugins ls shows the wincri gRPC plugin ok.
func plugged(out string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == "io.containerd.grpc.v1" && f[1] == "wincri" && f[len(f)-1] == "ok" {
			return true
		}
	}
	return false
}

func (c *ctrd) startContainer(ctx context.Context, pod string, pcfg *runtimeapi.PodSandboxConfig, name, image string, args []string) string {
	c.t.Helper()
	r, err := c.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, SandboxConfig: pcfg, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: image},
		Args: args, LogPath: name + ".log",
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}}},
	}})
	if err != nil {
		c.t.Fatalf("CreateContainer %s: %v", name, err)
	}
	if _, err := c.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: r.ContainerId}); err != nil {
		c.t.Fatalf("StartContainer %s: %v", name, err)
	}
	return r.ContainerId
}

func waitLog(t *testing.T, path, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %s", want, path)
		}
	}
}
