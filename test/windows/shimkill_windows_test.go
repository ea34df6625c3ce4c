package windowse2e

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestWindowsShimKilled: when a pod's shim dies, HCS terminates its
// compute systems (their last handles closed with the shim), wincri
// reports the containers exited and the pod not ready, and removing the
// pod leaves nothing in HCS, HCN or the layers.
func TestWindowsShimKilled(t *testing.T) {
	e := newEnv(t)
	logDir := t.TempDir()
	pcfg := podConfig("crash", logDir)
	pod := e.runPod(pcfg)
	c := ctx(t)
	app := e.startContainer(pod, pcfg, "app", e.image, nil)
	waitFor(t, "app output", logHas(filepath.Join(logDir, "app.log"), "stdout F hello 1"))
	var shim uint32
	for _, call := range e.emu.Calls("HcsCreateComputeSystem") {
		if call.Args[0] == pod {
			shim = call.Pid
		}
	}
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, shim)
	if err != nil {
		t.Fatalf("open shim %d: %v", shim, err)
	}
	windows.TerminateProcess(h, 1)
	windows.CloseHandle(h)
	waitFor(t, "HCS to terminate the shim's compute systems", func() bool { return len(e.emu.Systems()) == 0 })
	waitFor(t, "the container reported exited", func() bool {
		st, err := e.rt.ContainerStatus(c, &runtimeapi.ContainerStatusRequest{ContainerId: app})
		return err == nil && st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED
	})
	waitFor(t, "the pod reported not ready", func() bool {
		st, err := e.rt.PodSandboxStatus(c, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
		return err == nil && st.Status.State == runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	})
	if _, err := e.rt.StopPodSandbox(c, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
		e.fatal("stop pod: %v", err)
	}
	if _, err := e.rt.RemovePodSandbox(c, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		e.fatal("remove pod: %v", err)
	}
	// The killed shim left its layers activated and prepared (its binary's
	// "delete" does not unmount them); removing their snapshots finds their
	// directories held, deactivates them and removes them, as on Windows.
	e.waitEmpty(t)
}
