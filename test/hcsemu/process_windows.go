package hcsemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// processParams is HCS's ProcessParameters; unknown fields are rejected.
type processParams struct {
	ApplicationName  string            `json:",omitempty"`
	CommandLine      string            `json:",omitempty"`
	CommandArgs      []string          `json:",omitempty"`
	User             string            `json:",omitempty"`
	WorkingDirectory string            `json:",omitempty"`
	Environment      map[string]string `json:",omitempty"`
	RestrictedToken  bool              `json:",omitempty"`
	EmulateConsole   bool              `json:",omitempty"`
	CreateStdInPipe  bool              `json:",omitempty"`
	CreateStdOutPipe bool              `json:",omitempty"`
	CreateStdErrPipe bool              `json:",omitempty"`
	ConsoleSize      []int32           `json:",omitempty"`
	UseExistingLogin bool              `json:",omitempty"`
	UseLegacyConsole bool              `json:",omitempty"`
}

// process is a container process: an ordinary Wine process started by
// the emulator (so it outlives the shim, as a process in a silo does).
type process struct {
	sys      *system
	pid      uint32
	params   processParams
	cmd      *exec.Cmd
	image    string
	created  time.Time
	done     chan struct{}
	exitCode uint32
	exited   atomic.Bool
	once     sync.Once
	// CPU time last seen (100 ns units): an exited process keeps it
	cpuKernel, cpuUser atomic.Uint64
}

// Process is what tests see of a container process.
type Process struct {
	System      string
	Pid         uint32
	CommandLine string
	Exited      bool
}

// Processes lists every process the emulator started (also those of
// systems that are gone), in start order.
func (s *Server) Processes() []Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Process, 0, len(s.procs))
	for _, p := range s.procs {
		out = append(out, Process{System: p.sys.id, Pid: p.pid, CommandLine: p.params.CommandLine, Exited: p.exited.Load()})
	}
	return out
}

func (s *Server) processOf(pid uint32, arg string) (*process, *hcsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.handleOf(pid, arg)
	if h == nil || h.proc == nil {
		return nil, fail(hrInvalidHandle, "not a process handle: %s", arg)
	}
	return h.proc, nil
}

func (s *Server) createProcess(caller uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	sys, herr := s.systemOf(caller, a[0])
	if herr != nil {
		return nil, herr
	}
	var params processParams
	dec := json.NewDecoder(strings.NewReader(a[1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&params); err != nil {
		return nil, fail(hrInvalidJSON, "process parameters: %v", err)
	}
	if strings.TrimSpace(params.CommandLine) == "" {
		return nil, fail(hrInvalidArg, "CommandLine is empty")
	}
	if len(params.CommandArgs) > 0 {
		return nil, fail(hrInvalidArg, "CommandArgs is for Linux guests; a Windows container takes CommandLine")
	}
	s.mu.Lock()
	state := sys.state
	s.mu.Unlock()
	if state != "Running" {
		return nil, fail(hrInvalidState, "compute system %s is %s", sys.id, state)
	}
	p, ends, err := startProcess(sys, params)
	if err != nil {
		// HCS answers with the Win32 error CreateProcess had in the
		// container (ERROR_FILE_NOT_FOUND for a missing program).
		hr := hrFail
		var errno syscall.Errno
		if errors.As(err, &errno) && errno > 0 && errno < 0x10000 {
			hr = int32(uint32(0x80070000) | uint32(errno))
		}
		return nil, fail(hr, "start %q: %v", params.CommandLine, err)
	}
	dup, err := duplicateInto(caller, ends)
	if err != nil {
		p.kill()
		return nil, fail(hrFail, "hand stdio to process %d: %v", caller, err)
	}
	s.mu.Lock()
	sys.procs[p.pid] = p
	s.procs = append(s.procs, p)
	hid := s.newHandle(caller, &handle{sys: sys, proc: p})
	s.mu.Unlock()
	go s.waitProcess(p)
	return []string{strconv.FormatUint(hid, 10), strconv.FormatUint(uint64(p.pid), 10),
		strconv.FormatUint(uint64(dup[0]), 10), strconv.FormatUint(uint64(dup[1]), 10),
		strconv.FormatUint(uint64(dup[2]), 10), ""}, nil
}

// waitProcess publishes ProcessExited to every process handle with a
// callback once the process ends.
func (s *Server) waitProcess(p *process) {
	<-p.done
	data := p.exitData()
	s.mu.Lock()
	var hs []uint64
	for id, h := range s.handles {
		if h.proc == p {
			hs = append(hs, id)
		}
	}
	s.mu.Unlock()
	for _, h := range hs {
		s.emit(h, eventProcessExited, data)
	}
}

// exitData is the ProcessExited notification's document (after done).
func (p *process) exitData() string {
	data, _ := json.Marshal(map[string]any{"ProcessId": p.pid, "Exited": true, "ExitCode": p.exitCode})
	return string(data)
}

var pipeSeq atomic.Uint64

// pipePair makes a pipe whose emulator end is overlapped (the shim wraps it
// with go-winio, as it does HCS's handles) and whose child end is
// inheritable.
func pipePair(inbound bool) (parent windows.Handle, child *os.File, err error) {
	name := fmt.Sprintf(`\\.\pipe\hcsemu-%d-%d`, os.Getpid(), pipeSeq.Add(1))
	n, _ := windows.UTF16PtrFromString(name)
	access := uint32(windows.PIPE_ACCESS_OUTBOUND)
	childAccess := uint32(windows.GENERIC_READ)
	if inbound {
		access, childAccess = windows.PIPE_ACCESS_INBOUND, windows.GENERIC_WRITE
	}
	parent, err = windows.CreateNamedPipe(n, access|windows.FILE_FLAG_OVERLAPPED|windows.FILE_FLAG_FIRST_PIPE_INSTANCE,
		windows.PIPE_TYPE_BYTE|windows.PIPE_WAIT, 1, 65536, 65536, 0, nil)
	if err != nil {
		return 0, nil, err
	}
	h, err := windows.CreateFile(n, childAccess, 0, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		windows.CloseHandle(parent)
		return 0, nil, err
	}
	return parent, os.NewFile(uintptr(h), name), nil
}

func startProcess(sys *system, params processParams) (p *process, ends [3]windows.Handle, err error) {
	files := [3]*os.File{}
	want := [3]bool{params.CreateStdInPipe, params.CreateStdOutPipe, params.CreateStdErrPipe}
	defer func() {
		if err != nil {
			for i := range ends {
				if ends[i] != 0 {
					windows.CloseHandle(ends[i])
				}
			}
		}
		for _, f := range files {
			if f != nil {
				f.Close() // the child has its own copies
			}
		}
	}()
	for i := range want {
		if want[i] {
			if ends[i], files[i], err = pipePair(i > 0); err != nil {
				return nil, ends, err
			}
		}
	}
	host, image := hostCommandLine(sys, params.CommandLine)
	// Not a new process group: that would disable CTRL_C for the process,
	// and a container's processes take every console control event.
	cmd := &exec.Cmd{Path: image, SysProcAttr: &syscall.SysProcAttr{CmdLine: host}}
	if files[0] != nil {
		cmd.Stdin = files[0]
	}
	if files[1] != nil {
		cmd.Stdout = files[1]
	}
	if files[2] != nil {
		cmd.Stderr = files[2]
	}
	cmd.Dir = sys.root
	if params.WorkingDirectory != "" {
		cmd.Dir = sys.containerPath(params.WorkingDirectory)
	}
	cmd.Env = os.Environ()
	if c := sys.doc.Container; c != nil && c.GuestOs != nil && c.GuestOs.HostName != "" {
		// A container's computer name is its host name (NetBIOS: upper
		// case, at most 15 characters).
		name := strings.ToUpper(c.GuestOs.HostName)
		if len(name) > 15 {
			name = name[:15]
		}
		cmd.Env = append(cmd.Env, "COMPUTERNAME="+name)
	}
	for k, v := range params.Environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	spawnMu.Lock()
	err = cmd.Start()
	spawnMu.Unlock()
	if err != nil {
		return nil, ends, err
	}
	// Into the system's job, so its children are counted and ended with
	// it (a silo holds every process of a container).
	if ph, jerr := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid)); jerr == nil {
		_ = windows.AssignProcessToJobObject(sys.job, ph)
		windows.CloseHandle(ph)
	}
	p = &process{sys: sys, pid: uint32(cmd.Process.Pid), params: params, cmd: cmd, image: image,
		created: time.Now(), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		p.exitCode = uint32(cmd.ProcessState.ExitCode())
		p.exited.Store(true)
		close(p.done)
	}()
	return p, ends, nil
}

// duplicateInto gives the caller its own copies of the pipe ends and
// closes the emulator's.
func duplicateInto(pid uint32, ends [3]windows.Handle) ([3]windows.Handle, error) {
	var out [3]windows.Handle
	target, err := windows.OpenProcess(windows.PROCESS_DUP_HANDLE, false, pid)
	if err != nil {
		return out, err
	}
	defer windows.CloseHandle(target)
	self := windows.CurrentProcess()
	for i, h := range ends {
		if h == 0 {
			continue
		}
		if err := windows.DuplicateHandle(self, h, target, &out[i], 0, false,
			windows.DUPLICATE_SAME_ACCESS|windows.DUPLICATE_CLOSE_SOURCE); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (p *process) kill() {
	if p.exited.Load() {
		return
	}
	_ = p.cmd.Process.Kill()
}

func (s *Server) openProcess(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	sys, err := s.systemOf(pid, a[0])
	if err != nil {
		return nil, err
	}
	procID, _ := strconv.ParseUint(a[1], 10, 32)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := sys.procs[uint32(procID)]
	if p == nil {
		return nil, fail(hrElementNotFound, "process %d is not in %s", procID, sys.id)
	}
	return []string{strconv.FormatUint(s.newHandle(pid, &handle{sys: sys, proc: p}), 10), ""}, nil
}

func (s *Server) processInfo(pid uint32, a []string) ([]string, *hcsError) {
	p, err := s.processOf(pid, argN(a, 1)[0])
	if err != nil {
		return nil, err
	}
	// The pipes were handed out at creation; HCS gives them once.
	return []string{strconv.FormatUint(uint64(p.pid), 10), "0", "0", "0", ""}, nil
}

func (p *process) status() map[string]any {
	return map[string]any{"ProcessId": p.pid, "Exited": p.exited.Load(), "ExitCode": p.exitCode}
}

func (s *Server) processProperties(pid uint32, a []string) ([]string, *hcsError) {
	p, err := s.processOf(pid, argN(a, 1)[0])
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(p.status())
	return []string{string(b)}, nil
}

func (s *Server) terminateProcess(pid uint32, a []string) ([]string, *hcsError) {
	p, err := s.processOf(pid, argN(a, 1)[0])
	if err != nil {
		return nil, err
	}
	if p.exited.Load() {
		return nil, fail(hrProcessStopped, "process %d already exited", p.pid)
	}
	p.kill()
	return []string{""}, nil
}

// signalProcess: Wine cannot deliver console control events to another
// process group reliably, so CtrlC/CtrlBreak/CtrlShutdown end the process
// with STATUS_CONTROL_C_EXIT's exit code, as a console program that takes
// the default handler does.
func (s *Server) signalProcess(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	p, err := s.processOf(pid, a[0])
	if err != nil {
		return nil, err
	}
	var opts struct{ Signal string }
	if jerr := json.Unmarshal([]byte(a[1]), &opts); jerr != nil {
		return nil, fail(hrInvalidJSON, "signal options: %v", jerr)
	}
	event, ok := ctrlEvents[opts.Signal]
	if !ok {
		return nil, fail(hrInvalidArg, "unknown signal %q", opts.Signal)
	}
	if p.exited.Load() {
		return nil, fail(hrProcessStopped, "process %d already exited", p.pid)
	}
	if err := sendCtrlEvent(p.pid, event); err != nil {
		return nil, fail(hrFail, "signal %s to process %d: %v", opts.Signal, p.pid, err)
	}
	return []string{""}, nil
}

// modifyProcess handles CloseHandle (stdin) and ConsoleSize requests.
func (s *Server) modifyProcess(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	if _, err := s.processOf(pid, a[0]); err != nil {
		return nil, err
	}
	var req struct {
		Operation   string
		ConsoleSize *struct{ Height, Width uint16 }
		CloseHandle *struct{ Handle string }
	}
	if err := json.Unmarshal([]byte(a[1]), &req); err != nil {
		return nil, fail(hrInvalidJSON, "modify process: %v", err)
	}
	switch req.Operation {
	case "ConsoleSize":
		if req.ConsoleSize == nil {
			return nil, fail(hrInvalidArg, "ConsoleSize operation without ConsoleSize")
		}
	case "CloseHandle":
		if req.CloseHandle == nil || req.CloseHandle.Handle != "StdIn" {
			return nil, fail(hrInvalidArg, "CloseHandle takes Handle StdIn")
		}
	default:
		return nil, fail(hrInvalidArg, "unknown process modify operation %q", req.Operation)
	}
	return []string{""}, nil
}

func (p *process) details(snap map[uint32][2]uint64) map[string]any {
	k, u := p.times(snap)
	return map[string]any{"ProcessId": p.pid, "ImageName": p.image, "CreateTimestamp": p.created,
		"KernelTime100ns": k, "UserTime100ns": u, "MemoryWorkingSetPrivateBytes": p.memory()}
}

// processTimes is every process's kernel and user time (100 ns units) by
// pid, from SystemProcessInformation: under Wine, GetProcessTimes of another
// process does not move while it runs (measured: a spinning process stayed
// at 0.09 s for 5 s), while this table has its threads' real times.
func processTimes() map[uint32][2]uint64 {
	out := map[uint32][2]uint64{}
	buf := make([]byte, 256<<10)
	for {
		var n uint32
		err := windows.NtQuerySystemInformation(windows.SystemProcessInformation, unsafe.Pointer(&buf[0]), uint32(len(buf)), &n)
		if err == windows.STATUS_INFO_LENGTH_MISMATCH && len(buf) < 64<<20 {
			buf = make([]byte, 2*len(buf)+int(n))
			continue
		}
		if err != nil {
			return out
		}
		break
	}
	for off := 0; off+int(unsafe.Sizeof(windows.SYSTEM_PROCESS_INFORMATION{})) <= len(buf); {
		e := (*windows.SYSTEM_PROCESS_INFORMATION)(unsafe.Pointer(&buf[off]))
		out[uint32(e.UniqueProcessID)] = [2]uint64{uint64(e.KernelTime), uint64(e.UserTime)}
		if e.NextEntryOffset == 0 {
			break
		}
		off += int(e.NextEntryOffset)
	}
	return out
}

// times is the process's CPU time in snap, or the last seen once it has
// exited (a silo's accounting keeps its exited processes' time).
func (p *process) times(snap map[uint32][2]uint64) (kernel, user uint64) {
	if t, ok := snap[p.pid]; ok && !p.exited.Load() {
		if t[0] > p.cpuKernel.Load() {
			p.cpuKernel.Store(t[0])
		}
		if t[1] > p.cpuUser.Load() {
			p.cpuUser.Store(t[1])
		}
	}
	return p.cpuKernel.Load(), p.cpuUser.Load()
}

var procMemInfo = windows.NewLazySystemDLL("kernel32.dll").NewProc("K32GetProcessMemoryInfo")

type memCounters struct {
	cb                                                                                       uint32
	pageFaultCount                                                                           uint32
	peakWorkingSet, workingSet, quotaPeakPaged, quotaPaged, quotaPeakNonPaged, quotaNonPaged uintptr
	pagefile, peakPagefile, private                                                          uintptr
}

// memory is the private bytes of the process (Wine has no job memory
// accounting, so the emulator adds up process counters).
func (p *process) memory() uint64 {
	if p.exited.Load() {
		return 0
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.PROCESS_VM_READ, false, p.pid)
	if err != nil {
		return 0
	}
	defer windows.CloseHandle(h)
	var m memCounters
	m.cb = uint32(unsafe.Sizeof(m))
	if r, _, _ := procMemInfo.Call(uintptr(h), uintptr(unsafe.Pointer(&m)), uintptr(m.cb)); r == 0 {
		return 0
	}
	if m.private != 0 {
		return uint64(m.private)
	}
	return uint64(m.workingSet)
}

type jobAccounting struct {
	TotalUserTime, TotalKernelTime, PeriodUserTime, PeriodKernelTime int64
	PageFaults, TotalProcesses, ActiveProcesses, Terminated          uint32
}

// statistics: CPU time of the job (every process the container ran,
// exited ones included, as a silo's), else of its processes (an exited one
// with the time it last had); memory
// from process counters (Wine keeps no job memory accounting).
func statistics(job windows.Handle, procs []*process, started time.Time) map[string]any {
	var k, u, mem uint64
	snap := processTimes()
	for _, p := range procs {
		pk, pu := p.times(snap)
		k, u, mem = k+pk, u+pu, mem+p.memory()
	}
	var acct jobAccounting
	if job != 0 && windows.QueryInformationJobObject(job, windows.JobObjectBasicAccountingInformation,
		uintptr(unsafe.Pointer(&acct)), uint32(unsafe.Sizeof(acct)), nil) == nil && acct.TotalUserTime+acct.TotalKernelTime > 0 {
		k, u = uint64(acct.TotalKernelTime), uint64(acct.TotalUserTime)
	}
	now := time.Now()
	return map[string]any{
		"Timestamp": now, "ContainerStartTime": started, "Uptime100ns": uint64(now.Sub(started).Nanoseconds() / 100),
		"Processor": map[string]any{"TotalRuntime100ns": k + u, "RuntimeUser100ns": u, "RuntimeKernel100ns": k},
		"Memory":    map[string]any{"MemoryUsageCommitBytes": mem, "MemoryUsageCommitPeakBytes": mem, "MemoryUsagePrivateWorkingSetBytes": mem},
		"Storage":   map[string]any{},
	}
}
