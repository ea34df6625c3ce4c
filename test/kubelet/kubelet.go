//go:build linux

// Package kubelet runs an unmodified kubelet in standalone mode (static pod
// manifests, no API server) against a dedicated wincri, and checks what a
// node operator relies on through the kubelet's own API.
package kubelet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wincri/wincri/test/kubeletapi"
)

// nodeName is the kubelet's node: static pod NAME runs as NAME-nodeName.
const nodeName = "wincri-e2e"

// kubelet is a kubelet process with its own root, manifests and cgroup root.
type kubelet struct {
	*kubeletapi.Client
	t          *testing.T
	bin        string
	dir        string
	cgroupRoot string
	port       int
	cmd        *exec.Cmd
	exited     chan struct{}
}

// startKubelet runs the kubelet against the CRI endpoint at socket, its pods'
// cgroups below cgroupRoot.
func startKubelet(t *testing.T, bin, socket, cgroupRoot string) *kubelet {
	t.Helper()
	dir, err := os.MkdirTemp("", "wincri-kubelet-")
	if err != nil {
		t.Fatal(err)
	}
	k := &kubelet{t: t, bin: bin, dir: dir, cgroupRoot: cgroupRoot, port: kubeletapi.FreePort(t), exited: make(chan struct{})}
	k.Client = kubeletapi.NewClient(t, k.port, k.exited)
	for _, d := range []string{"manifests", "root", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzPort: 0
staticPodPath: %s
fileCheckFrequency: 1s
syncFrequency: 5s
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupRoot: %s
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://%s
imageServiceEndpoint: unix://%s
podLogsDir: %s
featureGates: {PodAndContainerStatsFromCRI: true}
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
serializeImagePulls: false
registerNode: false
`, k.port, filepath.Join(dir, "manifests"), k.cgroupRoot, socket, socket, filepath.Join(dir, "pod-logs"))
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := makeCgroup(k.cgroupRoot); err != nil {
		t.Fatal(err)
	}
	// The kubelet sets these on the host (its kernel defaults); the test
	// puts back what the machine had.
	for _, f := range []string{"vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops"} {
		p := "/proc/sys/" + f
		if b, err := os.ReadFile(p); err == nil {
			t.Cleanup(func() { os.WriteFile(p, b, 0o644) })
		}
	}
	logf, err := os.Create(k.logPath())
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	k.cmd = exec.Command(bin, "--config", filepath.Join(dir, "config.yaml"), "--root-dir", filepath.Join(dir, "root"),
		"--hostname-override", nodeName, "--v", "2")
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { k.cmd.Wait(); close(k.exited) }()
	t.Cleanup(k.cleanup)
	k.WaitFor("the kubelet API", 90*time.Second, func() bool { _, err := k.Get("/pods"); return err == nil })
	return k
}

func (k *kubelet) logPath() string { return filepath.Join(k.dir, "kubelet.log") }

// stop ends the kubelet (SIGTERM, then SIGKILL).
func (k *kubelet) stop() {
	if k.cmd == nil {
		return
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(20 * time.Second):
		k.cmd.Process.Kill()
		<-k.exited
	}
	k.cmd = nil
}

func (k *kubelet) cleanup() {
	k.stop()
	if k.t.Failed() {
		if b, err := os.ReadFile(k.logPath()); err == nil {
			k.t.Logf("kubelet log (errors and the last lines):\n%s", kubeletapi.ErrorsAndTail(string(b), 60))
		}
	}
	unmountKubelet(k.dir)
	os.RemoveAll(k.dir)
}

// addManifest writes a static pod manifest; removeManifest deletes it.
func (k *kubelet) addManifest(name, yaml string) {
	k.t.Helper()
	if err := os.WriteFile(filepath.Join(k.dir, "manifests", name+".yaml"), []byte(yaml), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

func (k *kubelet) removeManifest(name string) {
	if err := os.Remove(filepath.Join(k.dir, "manifests", name+".yaml")); err != nil {
		k.t.Fatal(err)
	}
}

// unmountKubelet unmounts what the kubelet mounted below its directory.
func unmountKubelet(dir string) {
	b, _ := os.ReadFile("/proc/self/mounts")
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if f := strings.Fields(lines[i]); len(f) > 1 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			syscall.Unmount(f[1], syscall.MNT_DETACH)
		}
	}
}

// makeCgroup creates the kubelet's cgroup root in every hierarchy (the
// kubelet requires it to exist); a v1 cpuset gets its parent's CPUs and
// memory nodes, which a new cpuset lacks.
func makeCgroup(p string) error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		roots = []string{"/sys/fs/cgroup"}
	}
	for _, root := range roots {
		if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
			continue
		}
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if b, err := os.ReadFile(filepath.Join(root, f)); err == nil {
				if err := os.WriteFile(filepath.Join(root, p, f), b, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
