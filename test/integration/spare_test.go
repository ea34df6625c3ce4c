//go:build linux

package integration

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

// TestSpareShims: once a pod ran, wincri keeps one idle shim ready, and the
// next pod (with or without pause) takes it instead of starting its own.
// Such a pod is like any other: its containers run, it is reattached after
// kill -9, and it leaves nothing behind. A spare a crash leaves idle, or
// leaves half taken, is shut down at the next start; a daemon that stops
// shuts its spare down. At no moment, also right after a kill -9 while the
// spare it left is shut down, do two spares run.
func TestSpareShims(t *testing.T) {
	e := newPodEnv(t)
	defer watchSpares(t, e.d)()
	if n := len(e.d.SpareShims()); n != 0 {
		t.Fatalf("%d spare shims before any pod ran, want 0", n)
	}
	e.runPod("first")
	spare := e.waitSpare()
	for _, cfg := range bothPodKinds("on-spare") {
		podID, pod := e.runPodWith(cfg)
		if !slices.Contains(e.d.Shims(), spare) {
			t.Fatalf("%s: the spare shim %d does not serve the pod (pods' shims: %v)", cfg.Metadata.Name, spare, e.d.Shims())
		}
		c := e.create(podID, pod, "sleeper", "sleep", "600")
		e.start(c)
		if h := strings.TrimSpace(e.exec(c, "/testproc", "hostname")); h != cfg.Hostname {
			t.Errorf("%s: hostname %q in a pod on a spare shim, want %q", cfg.Metadata.Name, h, cfg.Hostname)
		}
		spare = e.waitSpare()
	}

	e.d.Kill(t)
	// The spare the kill leaves does not answer (stopped): its shutdown
	// times out and it is killed. A pod right after the restart asks for a
	// new spare meanwhile: the new one waits until the old one is gone.
	syscall.Kill(spare, syscall.SIGSTOP)
	e.d.Start(t)
	e.runPod("after-restart")
	waitFor(t, "the idle spare a kill -9 left to be shut down", func() bool { return !processRuns(spare) })
	spare = e.waitSpare()
	ctrs, err := e.d.Runtime.ListContainers(testutil.Ctx(t), &runtimeapi.ListContainersRequest{})
	if err != nil || len(ctrs.Containers) != 2 {
		t.Fatalf("containers after the restart: %v %v", ctrs, err)
	}
	for _, c := range ctrs.Containers {
		if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("container %s on a spare shim after kill -9: %v", c.Metadata.Name, c.State)
		}
		e.exec(c.Id, "/testproc", "echo", "reattached")
	}

	// Crashes while a pod takes the spare: before and after its directory
	// becomes the pod's bundle. The pod is undone and its shim shut down.
	for _, fp := range []string{"spare-before-adopt", "spare-after-adopt"} {
		e.d.Stop(t)
		e.d.SetEnv("WINCRI_FAILPOINTS=" + fp)
		e.d.Start(t)
		e.runPod("before-" + fp)
		spare = e.waitSpare()
		if _, err := e.d.Runtime.RunPodSandbox(testutil.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: e.own(podConfig("crash-" + fp))}); err == nil {
			t.Fatalf("RunPodSandbox survived failpoint %s", fp)
		}
		waitFor(t, "wincri to die at "+fp, e.d.Exited)
		e.d.Forget()
		e.d.SetEnv()
		e.d.Start(t)
		waitFor(t, "the shim of the pod a crash interrupted to be shut down ("+fp+")", func() bool { return !processRuns(spare) })
		pods, _ := e.d.Runtime.ListPodSandbox(testutil.Ctx(t), &runtimeapi.ListPodSandboxRequest{})
		for _, p := range pods.Items {
			if strings.HasPrefix(p.Metadata.Name, "crash-") {
				t.Errorf("pod %s whose start a crash interrupted is still there", p.Metadata.Name)
			}
		}
	}
	e.removeAll()

	e.runPod("last")
	spare = e.waitSpare()
	e.removeAll()
	e.d.Stop(t)
	waitFor(t, "the spare shim to exit with the daemon", func() bool { return !processRuns(spare) })
}

// waitSpare waits until the daemon has its idle spare shim, and returns its
// pid. Two spares fail it at once.
func (e *podEnv) waitSpare() int {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		spares := e.d.SpareShims()
		if len(spares) > 1 {
			e.t.Fatalf("%d spare shims, want 1: %v", len(spares), describe(spares))
		}
		if len(spares) == 1 {
			return spares[0]
		}
		if time.Now().After(deadline) {
			e.t.Fatal("no spare shim within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watchSpares samples the daemon's spare shims every 5 ms until the
// returned function is called, which fails the test if more than one ran
// at any sample.
func watchSpares(t *testing.T, d *testutil.Daemon) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	var most []string
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if spares := d.SpareShims(); len(spares) > 1 && len(spares) > len(most) {
				most = describe(spares)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		if len(most) > 0 {
			t.Errorf("%d spare shims ran at once: %v", len(most), most)
		}
	}
}

func describe(pids []int) []string {
	var found []string
	for _, pid := range pids {
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		found = append(found, fmt.Sprintf("%d in %s", pid, cwd))
	}
	return found
}
