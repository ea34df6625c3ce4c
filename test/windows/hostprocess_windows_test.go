package windowse2e

import (
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestWindowsHostProcessPod: a HostProcess pod uses the host's network (no
// HCN namespace, no CNI) and its containers are job containers, which the
// shim makes from job objects without HCS. Wine 8's job objects lack IO
// accounting, so a HostProcess container cannot start under Wine: the test
// checks the pod, then skips saying so when the shim reports exactly that.
func TestWindowsHostProcessPod(t *testing.T) {
	e := newEnv(t)
	logDir := t.TempDir()
	pcfg := podConfig("hpc", logDir)
	pcfg.Windows = &runtimeapi.WindowsPodSandboxConfig{SecurityContext: &runtimeapi.WindowsSandboxSecurityContext{
		HostProcess: true, RunAsUsername: `NT AUTHORITY\SYSTEM`}}
	pcfg.Linux = nil
	pod := e.runPod(pcfg)
	c := ctx(t)
	if n := len(e.emu.HCNObjects("namespace")) + len(e.emu.HCNObjects("endpoint")); n != 0 {
		t.Fatalf("a HostProcess pod got %d HCN objects", n)
	}
	cfg := &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "hp"}, Image: &runtimeapi.ImageSpec{Image: e.image},
		LogPath: "hp.log", Command: []string{`%CONTAINER_SANDBOX_MOUNT_POINT%\winproc.exe`, "tick", "host"},
		Windows: &runtimeapi.WindowsContainerConfig{SecurityContext: &runtimeapi.WindowsContainerSecurityContext{HostProcess: true, RunAsUsername: `NT AUTHORITY\SYSTEM`}}}
	ctr, err := e.rt.CreateContainer(c, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, SandboxConfig: pcfg, Config: cfg})
	if err != nil {
		e.fatal("create HostProcess container: %v", err)
	}
	_, startErr := e.rt.StartContainer(c, &runtimeapi.StartContainerRequest{ContainerId: ctr.ContainerId})
	if startErr == nil {
		waitFor(t, "HostProcess output", logHas(filepath.Join(logDir, "hp.log"), "stdout F host 1"))
	}
	if _, err := e.rt.StopPodSandbox(c, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
		e.fatal("stop: %v", err)
	}
	if _, err := e.rt.RemovePodSandbox(c, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		e.fatal("remove: %v", err)
	}
	if startErr != nil {
		if strings.Contains(startErr.Error(), "failed to enable IO tracking on job object") {
			t.Skipf("the pod ran with the host network; its container cannot start under Wine 8, whose job objects lack IO tracking: %v", startErr)
		}
		e.fatal("start HostProcess container: %v", startErr)
	}
}
