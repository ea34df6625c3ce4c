package windowse2e

import (
	"strings"
	"sync"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestWindowsKillDuringStart: wincri.exe dies (kill -9) while the runhcs
// shim creates a container's compute system for StartContainer. The shim
// then gives up on the task, because it cannot publish the task's create
// event, without undoing it: the compute system stays, and so does its
// scratch layer, activated and prepared. After the restart wincri
// terminates that system (the shim binary's "delete"); the shim, seeing it
// end, releases the scratch layer itself. The container can be removed, a
// new one runs in the pod, and removing the pod leaves nothing in HCS, HCN
// or the layers.
func TestWindowsKillDuringStart(t *testing.T) {
	e := newEnv(t)
	pcfg := podConfig("killstart", t.TempDir())
	pod := e.runPod(pcfg)
	c := ctx(t)
	cfg := &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
		Image: &runtimeapi.ImageSpec{Image: e.image}, LogPath: "app.log"}
	ctr, err := e.rt.CreateContainer(c, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, SandboxConfig: pcfg, Config: cfg})
	if err != nil {
		e.fatal("create: %v", err)
	}
	id := ctr.ContainerId
	// Killed as HCS answers the shim's create, before the shim has its
	// answer: the rest of the shim's create runs without wincri.exe.
	daemon := e.daemon
	var killed sync.Once
	hook := func(l string) {
		if strings.Contains(l, " HcsCreateComputeSystem("+id+",") {
			killed.Do(func() { daemon.Process.Kill() })
		}
	}
	e.onCall.Store(&hook)
	if _, err := e.rt.StartContainer(c, &runtimeapi.StartContainerRequest{ContainerId: id}); err == nil {
		t.Fatal("StartContainer returned although wincri.exe was killed during it")
	}
	<-e.exited
	e.onCall.Store(nil)
	e.daemon = nil
	if len(e.emu.Systems()) != 2 {
		t.Fatalf("want the pod's and the half-created container's compute systems, have %+v", e.emu.Systems())
	}
	e.startDaemon()
	c = ctx(t)
	waitFor(t, "the half-created compute system terminated", func() bool {
		for _, s := range e.emu.Systems() {
			if s.ID == id && s.State != "Stopped" {
				return false
			}
		}
		return true
	})
	st, err := e.rt.ContainerStatus(c, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Fatalf("status after the restart: %v %v, want created", st.GetStatus().GetState(), err)
	}
	if _, err := e.rt.RemoveContainer(c, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		e.fatal("remove the container: %v", err)
	}
	// The pod goes on: a new container of it starts and runs.
	app := e.startContainer(pod, pcfg, "app", e.image, nil)
	waitFor(t, "the new container running", func() bool {
		st, err := e.rt.ContainerStatus(c, &runtimeapi.ContainerStatusRequest{ContainerId: app})
		return err == nil && st.Status.State == runtimeapi.ContainerState_CONTAINER_RUNNING
	})
	e.removeAll(pod)
}
