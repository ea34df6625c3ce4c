package hcsemu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// helperProcess starts this test binary in a helper mode of TestMain
// (hold-shutdown, plain) as a process of system h and waits until it runs
// (it writes marker+suffix).
func helperProcess(t *testing.T, s *Server, h, mode, marker, suffix string) *process {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(marker + suffix)
	params, _ := json.Marshal(map[string]any{"CommandLine": syscall.EscapeArg(self),
		"Environment": map[string]string{helperEnv: mode, helperEnv + "_PATH": marker}})
	if _, herr := s.createProcess(uint32(os.Getpid()), []string{h, string(params)}); herr != nil {
		t.Fatal(herr)
	}
	s.mu.Lock()
	p := s.procs[len(s.procs)-1]
	s.mu.Unlock()
	waitTrue(t, mode+" process running", func() bool { _, err := os.Stat(marker + suffix); return err == nil })
	return p
}

func waitTrue(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (s *Server) stateOf(id string) (state, exit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sys := s.systems[id]; sys != nil {
		return sys.state, sys.exit
	}
	return "gone", ""
}

// TestGracefulShutdown: HcsShutDownComputeSystem gives each process
// CTRL_SHUTDOWN_EVENT; a process without a handler ends, one that holds the
// event keeps the system running until it is terminated; a system whose
// processes all end stops as GracefulExit.
func TestGracefulShutdown(t *testing.T) {
	s := start(t)
	me := uint32(os.Getpid())
	marker := filepath.Join(t.TempDir(), "held")
	h, _ := runningSystem(t, s, "held", `"GuestOs":{"HostName":"held"}`)
	holder := helperProcess(t, s, h, "hold-shutdown", marker, ".ready")
	plain := helperProcess(t, s, h, "plain", marker, ".plain")
	if _, herr := s.shutdownSystem(me, []string{h}); herr != nil {
		t.Fatal(herr)
	}
	waitTrue(t, "the process without a handler to end", plain.exited.Load)
	waitTrue(t, "the holding process to see the event", func() bool { _, err := os.Stat(marker); return err == nil })
	if st, _ := s.stateOf("held"); holder.exited.Load() || st != "Running" {
		t.Fatalf("after shutdown with a process holding the event: holder exited %v, system %s; want running", holder.exited.Load(), st)
	}
	if _, herr := s.stopSystem(me, []string{h}, "Forced"); herr != nil {
		t.Fatal(herr)
	}
	waitTrue(t, "the holder to be terminated", holder.exited.Load)

	h2, _ := runningSystem(t, s, "plain", `"GuestOs":{"HostName":"plain"}`)
	helperProcess(t, s, h2, "plain", marker, ".plain")
	if _, herr := s.shutdownSystem(me, []string{h2}); herr != nil {
		t.Fatal(herr)
	}
	waitTrue(t, "the system to stop", func() bool { st, _ := s.stateOf("plain"); return st == "Stopped" })
	if _, exit := s.stateOf("plain"); exit != "GracefulExit" {
		t.Errorf("exit type %q, want GracefulExit", exit)
	}
}

// TestOperationsTimeOutAndCancel: through computecore.dll, a shutdown's
// operation completes when the system has stopped: while a process holds
// the event, HcsWaitForOperationResult times out with
// HCS_E_OPERATION_TIMEOUT, HcsCancelOperation ends the operation (and is
// refused once it has completed); a shutdown whose processes end completes
// with the system stopped.
func TestOperationsTimeOutAndCancel(t *testing.T) {
	s := start(t)
	marker := filepath.Join(t.TempDir(), "held")
	wait := func(op uintptr, ms uint32) uint32 {
		var doc *uint16
		return call(t, "HcsWaitForOperationResult", op, uintptr(ms), uintptr(unsafe.Pointer(&doc)))
	}
	system := func(id, mode, suffix string) uintptr {
		h, _ := runningSystem(t, s, id, `"GuestOs":{"HostName":"`+id+`"}`)
		helperProcess(t, s, h, mode, marker, suffix)
		var sys uintptr
		if err := json.Unmarshal([]byte(h), &sys); err != nil {
			t.Fatal(err)
		}
		return sys
	}
	held := system("held", "hold-shutdown", ".ready")
	op := uintptr(call(t, "HcsCreateOperation", 0, 0))
	if hr := call(t, "HcsShutDownComputeSystem", held, op, 0); hr != 0 {
		t.Fatalf("HcsShutDownComputeSystem: %#x", hr)
	}
	if hr := wait(op, 300); hr != 0x80370118 {
		t.Errorf("waiting 300 ms for a shutdown a process holds: %#x, want HCS_E_OPERATION_TIMEOUT", hr)
	}
	if hr := call(t, "HcsCancelOperation", op); hr != 0 {
		t.Errorf("HcsCancelOperation in flight: %#x", hr)
	}
	if hr := wait(op, 0); hr != 0x80004004 {
		t.Errorf("a cancelled operation's result: %#x, want E_ABORT", hr)
	}
	if hr := call(t, "HcsCancelOperation", op); hr == 0 {
		t.Error("cancelling a completed operation succeeded")
	}
	call(t, "HcsCloseOperation", op)
	op = uintptr(call(t, "HcsCreateOperation", 0, 0))
	if hr := call(t, "HcsTerminateComputeSystem", held, op, 0); hr != 0 || wait(op, 10000) != 0 {
		t.Fatalf("terminate: %#x", hr)
	}
	call(t, "HcsCloseOperation", op)

	plain := system("plain", "plain", ".plain")
	op = uintptr(call(t, "HcsCreateOperation", 0, 0))
	defer call(t, "HcsCloseOperation", op)
	if hr := call(t, "HcsShutDownComputeSystem", plain, op, 0); hr != 0 {
		t.Fatalf("HcsShutDownComputeSystem: %#x", hr)
	}
	if hr := wait(op, 30000); hr != 0 {
		t.Fatalf("a shutdown whose process ends: %#x", hr)
	}
	if st, _ := s.stateOf("plain"); st != "Stopped" {
		t.Errorf("the shutdown completed with the system %s", st)
	}
}
