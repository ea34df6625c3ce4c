package windowse2e

import (
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestWindowsGracefulStop: StopContainer sends the process a console
// control event through HCS (the shim's SIGTERM is CtrlShutdown) and kills
// it only when it has not exited by the timeout. A process with no handler
// ends at the event (no TerminateProcess); one whose handler holds the
// event sees it, keeps running and is terminated after the timeout.
func TestWindowsGracefulStop(t *testing.T) {
	e := newEnv(t)
	logDir := t.TempDir()
	pcfg := podConfig("grace", logDir)
	pod := e.runPod(pcfg)
	c := ctx(t)
	plain := e.startContainer(pod, pcfg, "plain", e.image, []string{`C:\winproc.exe`, "tick", "plain"})
	holder := e.startContainer(pod, pcfg, "holder", e.image, []string{`C:\winproc.exe`, "holdterm"})
	waitFor(t, "both running", func() bool {
		return logHas(filepath.Join(logDir, "plain.log"), "plain 1")() && logHas(filepath.Join(logDir, "holder.log"), "holding")()
	})
	terminations := func() int { return len(e.emu.Calls("HcsTerminateProcess")) }
	before := terminations()
	if _, err := e.rt.StopContainer(c, &runtimeapi.StopContainerRequest{ContainerId: plain, Timeout: 30}); err != nil {
		e.fatal("stop plain: %v", err)
	}
	if n := terminations() - before; n != 0 {
		t.Errorf("the process without a handler was terminated (%d HcsTerminateProcess) instead of ending at the event", n)
	}
	before = terminations()
	if _, err := e.rt.StopContainer(c, &runtimeapi.StopContainerRequest{ContainerId: holder, Timeout: 3}); err != nil {
		e.fatal("stop holder: %v", err)
	}
	if !logHas(filepath.Join(logDir, "holder.log"), "got terminated")() {
		t.Error("the holding process's handler did not see the control event")
	}
	if n := terminations() - before; n == 0 {
		t.Error("the process that held the event was not terminated after the timeout")
	}
	for _, id := range []string{plain, holder} {
		st, err := e.rt.ContainerStatus(c, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_EXITED {
			t.Errorf("%s after stop: %v %v", id, st, err)
		}
	}
	var signals []string
	for _, call := range e.emu.Calls("HcsSignalProcess") {
		signals = append(signals, call.Args[len(call.Args)-1])
	}
	if !strings.Contains(strings.Join(signals, " "), "CtrlShutdown") {
		t.Errorf("signals sent: %v, want CtrlShutdown", signals)
	}
	e.removeAll(pod)
}
