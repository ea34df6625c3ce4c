package hcsemu

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Console control events reach a container's process as Windows delivers
// them: the system starts a thread in the process at kernelbase's
// CtrlRoutine with the event, which runs the process's handlers (a handler
// that returns TRUE keeps the process running) and otherwise ends the
// process with STATUS_CONTROL_C_EXIT. After a close, log-off or shutdown
// event, Windows ends the process once its handlers return; a handler that
// never returns keeps it running until the caller terminates it (Windows
// would end it after its own timeout, which the emulator leaves to the
// caller). kernelbase is at the same address in every process, as on
// Windows, so the emulator's own CtrlRoutine address is the target's.
// (GenerateConsoleCtrlEvent cannot do this under Wine: it fails with
// "Invalid access" for a process group of another console.)

var (
	procCtrlRoutine        = windows.NewLazySystemDLL("kernelbase.dll").NewProc("CtrlRoutine")
	procCreateRemoteThread = kernel32.NewProc("CreateRemoteThread")
)

// ctrlEvents are HCS's signal names (hcsshim's SignalValueWCOW*) and the
// CTRL_*_EVENT codes.
var ctrlEvents = map[string]uintptr{"CtrlC": 0, "CtrlBreak": 1, "CtrlClose": 2, "CtrlLogOff": 5, "CtrlShutdown": 6}

func sendCtrlEvent(pid uint32, event uintptr) error {
	if err := procCtrlRoutine.Find(); err != nil {
		return err
	}
	h, err := windows.OpenProcess(windows.PROCESS_CREATE_THREAD|windows.PROCESS_QUERY_INFORMATION|windows.PROCESS_VM_OPERATION|
		windows.PROCESS_VM_WRITE|windows.PROCESS_VM_READ|windows.PROCESS_TERMINATE|windows.SYNCHRONIZE, false, pid)
	if err != nil {
		return err
	}
	settleCtrlTarget(h, pid)
	th, _, cerr := procCreateRemoteThread.Call(uintptr(h), 0, 0, procCtrlRoutine.Addr(), event, 0, 0)
	if th == 0 {
		windows.CloseHandle(h)
		return fmt.Errorf("CreateRemoteThread: %v", cerr)
	}
	go func() {
		defer windows.CloseHandle(h)
		defer windows.CloseHandle(windows.Handle(th))
		_, _ = windows.WaitForSingleObject(windows.Handle(th), windows.INFINITE)
		if event >= 2 { // close, log-off, shutdown: ended once the handlers return
			_ = windows.TerminateProcess(h, 0xC000013A)
		}
	}()
	return nil
}

// settleCtrlTarget waits until a thread started in process pid (handle h)
// runs its handlers. Under Wine a thread started in a process still
// initializing is lost or hangs the process for good: at 0-20 ms after its
// start, with one thread; and, on a loaded machine, in 2 of 40 winproc.exe
// processes signalled as soon as they had a second thread (every Go
// program starts one early), 0.1-0.3 s after their start. 500 ms after the
// second thread, none of 60 hung. So delivery waits for the second thread
// (at most 2 s), then until the process is 1 s old and, if it had to wait
// for that thread, 500 ms more. A console event reaches a process that is
// running, on Windows too; only its time is later.
func settleCtrlTarget(h windows.Handle, pid uint32) {
	var created, exit, kernel, user windows.Filetime
	born := time.Now()
	if windows.GetProcessTimes(h, &created, &exit, &kernel, &user) == nil {
		born = time.Unix(0, created.Nanoseconds())
	}
	young := false
	for deadline := time.Now().Add(2 * time.Second); threadCount(pid) < 2 && time.Now().Before(deadline); {
		young = true
		time.Sleep(10 * time.Millisecond)
	}
	wait := time.Until(born.Add(time.Second))
	if young {
		wait = max(wait, 500*time.Millisecond)
	}
	if wait > 0 {
		time.Sleep(wait)
	}
}

// threadCount is the number of threads of process pid (0 if it is gone).
func threadCount(pid uint32) uint32 {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return 0
	}
	defer windows.CloseHandle(snap)
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		if e.ProcessID == pid {
			return e.Threads
		}
	}
	return 0
}

// shutdownSystem asks a running system to shut down as HCS does: every
// process it started gets CTRL_SHUTDOWN_EVENT (ctrl_windows.go), and the
// system stops (ExitType GracefulExit) when the last of them has exited. A
// process that holds the event keeps the system running until the caller
// terminates it (hcsshim's shim waits 30 s, then terminates). A system
// with no process running stops at once.
func (s *Server) shutdownSystem(pid uint32, a []string) ([]string, *hcsError) {
	sys, err := s.systemOf(pid, argN(a, 1)[0])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if sys.state == "Stopped" {
		s.mu.Unlock()
		return nil, fail(hrAlreadyStopped, "compute system %s is already stopped", sys.id)
	}
	var live []*process
	for _, p := range sys.procs {
		if !p.exited.Load() {
			live = append(live, p)
		}
	}
	s.mu.Unlock()
	if len(live) == 0 {
		if _, herr := s.stop(sys, "GracefulExit"); herr != nil {
			return nil, herr
		}
		return []string{"", sys.id}, nil
	}
	for _, p := range live {
		if err := sendCtrlEvent(p.pid, ctrlEvents["CtrlShutdown"]); err != nil && !p.exited.Load() {
			return nil, fail(hrFail, "shutdown of %s: process %d: %v", sys.id, p.pid, err)
		}
	}
	go func() {
		for _, p := range live {
			<-p.done
		}
		s.mu.Lock()
		stopped := sys.state == "Stopped" // terminated meanwhile
		s.mu.Unlock()
		if !stopped {
			_, _ = s.stop(sys, "GracefulExit")
		}
	}()
	// The DLL completes the shutdown's operation when HcsemuWaitStopped
	// for this id returns.
	return []string{"", sys.id}, nil
}

// waitStopped answers once the system with id a[0] has stopped or gone:
// the completion of a shutdown's operation (computecore.c).
func (s *Server) waitStopped(_ uint32, a []string) ([]string, *hcsError) {
	id := argN(a, 1)[0]
	for {
		s.mu.Lock()
		sys := s.systems[id]
		done := sys == nil || sys.state == "Stopped"
		s.mu.Unlock()
		if done {
			return []string{""}, nil
		}
		select {
		case <-s.closed:
			return nil, fail(hrFail, "the emulator closed before %s stopped", id)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
