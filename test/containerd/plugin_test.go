//go:build linux

// Package containerd runs wincri as a plugin inside containerd
// (cmd/containerd-wincri) and drives a pod through containerd's socket.
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

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

const procImage = "registry.k8s.io/wincri-test/proc:1"

// TestCRIInsideContainerd: containerd built with wincri's plugin serves
// wincri's CRI on its own socket: version, pull, a pod and a container run,
// exec and logs, stats, and everything removed.
func TestCRIInsideContainerd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs pods: needs root")
	}
	dir, _, testproc, err := testutil.BuildTestBinaries()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "containerd-wincri")
	build := exec.Command("go", "build", "-tags", "no_cri", "-o", bin, ".")
	build.Dir = "../../cmd/containerd-wincri"
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build containerd-wincri: %v\n%s", err, out)
	}
	reg := testutil.NewRegistry(t)
	testutil.PushTestImages(t, reg, testproc)

	work, err := os.MkdirTemp("", "wincri-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(work, "containerd.sock")
	for p, body := range map[string]string{
		"certs.d/registry.k8s.io/hosts.toml": testutil.Mirror(reg.Host),
		"cni/10-test.conflist":               strings.ReplaceAll(testutil.BridgeCNI("wincri-p0", "10.95.0.0/16"), "$DIR", work),
		"config.toml": fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[plugins.'io.containerd.grpc.v1.wincri']
  sandbox_image = "registry.k8s.io/wincri-test/pause:1"
  [plugins.'io.containerd.grpc.v1.wincri'.registry]
    config_path = %[4]q
  [plugins.'io.containerd.grpc.v1.wincri'.cni]
    conf_dir = %[5]q
    bin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
`, filepath.Join(work, "root"), filepath.Join(work, "state"), sock, filepath.Join(work, "certs.d"), filepath.Join(work, "cni")),
	} {
		f := filepath.Join(work, p)
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logf, _ := os.Create(filepath.Join(work, "containerd.log"))
	cmd := exec.Command(bin, "--config", filepath.Join(work, "config.toml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// A handler that panics must cost one call, not containerd.
	cmd.Env = append(os.Environ(), "WINCRI_FAILPOINTS=status-panic")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(work, "containerd.log"))
			t.Logf("containerd log:\n%s", b)
		}
		exec.Command("ip", "link", "delete", "wincri-p0").Run()
		testutil.UnmountBelow(work)
		os.RemoveAll(work)
	})
	conn, err := testutil.DialCRI(sock, 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt, is := runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := rt.Status(ctx, &runtimeapi.StatusRequest{}); status.Code(err) != codes.Internal {
		t.Fatalf("a panicking handler inside containerd: want Internal, got %v", err)
	}
	v, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil || v.RuntimeName != "wincri" {
		t.Fatalf("Version through containerd (after a handler panicked): %v %v", v, err)
	}
	if _, err := is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: procImage}}); err != nil {
		t.Fatalf("PullImage: %v", err)
	}
	logDir := filepath.Join(work, "logs")
	pod := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "in-containerd", Namespace: "test", Uid: "u1"},
		Hostname:     "in-containerd",
		LogDirectory: logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}}},
	}
	p, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pod})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: p.PodSandboxId, SandboxConfig: pod, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: procImage},
		Args: []string{"tick"}, LogPath: "c.log",
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}}},
	}})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	ex, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: c.ContainerId, Cmd: []string{"/testproc", "echo", "in", "containerd"}, Timeout: 10})
	if err != nil || !strings.HasPrefix(string(ex.Stdout), "in containerd") {
		t.Fatalf("ExecSync: %v %v", ex, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join(logDir, "c.log")); strings.Contains(string(b), " stdout F tick 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no container output in the CRI log")
		}
	}
	if st, err := rt.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: c.ContainerId}); err != nil || st.Stats.GetMemory().GetWorkingSetBytes() == nil {
		t.Fatalf("ContainerStats: %v %v", st, err)
	}
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.PodSandboxId}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.PodSandboxId}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	if l, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); err != nil || len(l.Containers) != 0 {
		t.Fatalf("containers left: %v %v", l, err)
	}
}
