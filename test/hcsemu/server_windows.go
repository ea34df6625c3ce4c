package hcsemu

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/windows"
)

// HRESULTs the emulator returns, as HCS and HCN do.
const (
	hrOK               int32 = 0
	hrFail             int32 = -2147467259 // E_FAIL
	hrInvalidArg       int32 = -2147024809 // E_INVALIDARG 0x80070057
	hrInvalidHandle    int32 = -2147024890 // 0x80070006
	hrNotImpl          int32 = -2147467263 // E_NOTIMPL
	hrSystemNotFound   int32 = -1070137074 // 0xc037010e
	hrAlreadyStopped   int32 = -1070137072 // 0xc0370110
	hrInvalidState     int32 = -2143878907 // 0x80370105
	hrInvalidJSON      int32 = -1070137075 // 0xc037010d
	hrProcessStopped   int32 = -2143878881 // 0x8037011f
	hrElementNotFound  int32 = -2147023728 // HRESULT_FROM_WIN32(ERROR_NOT_FOUND) 0x80070490
	hrPathNotFound     int32 = -2147024893 // 0x80070003
	hrAlreadyExists    int32 = -2147024713 // 0x800700b7
	hrDevNotExist      int32 = -2147024841 // HRESULT_FROM_WIN32(ERROR_DEV_NOT_EXIST) 0x80070037
	hrNamespaceMissing int32 = -2143617013 // HCN_E_NAMESPACE_NOT_FOUND 0x803b000b
)

// Call is one recorded call into the emulated DLLs.
type Call struct {
	Fn   string
	Pid  uint32
	Args []string
	HR   int32
	// Err is the reason the emulator rejected the call, if it did.
	Err string
}

// hcsError is a rejection with its HRESULT and the reason.
type hcsError struct {
	hr  int32
	msg string
}

func (e *hcsError) Error() string { return fmt.Sprintf("hr 0x%08x: %s", uint32(e.hr), e.msg) }

func fail(hr int32, format string, args ...any) *hcsError {
	return &hcsError{hr: hr, msg: fmt.Sprintf(format, args...)}
}

type handler func(pid uint32, args []string) ([]string, *hcsError)

// Server is the emulated HCS and HCN. Start it, then run Wine processes
// that load the emulated DLLs with the same Wine prefix.
type Server struct {
	ln   net.Listener
	Addr string
	// Log, if set, gets one line per call.
	Log func(string)

	mu      sync.Mutex
	next    uint64
	handles map[uint64]*handle
	systems map[string]*system
	events  map[uint32]*eventConn
	subs    map[uint64]uint32
	calls   []Call
	hcn     map[string]map[string]map[string]any // kind -> id -> object
	layers  map[string]*layer                    // by layer path (lower case)
	fns     map[string]handler
	watched map[uint32]bool
	procs   []*process // every process started, also of removed systems
	dp      dataplane  // endpoint addresses and port mappings on the host
	closed  chan struct{}
	// holdOnce logs once that layer directories cannot be held.
	holdOnce sync.Once
}

type eventConn struct {
	mu sync.Mutex
	c  net.Conn
}

// handle is what an HCS_SYSTEM, HCS_PROCESS or HCN handle refers to.
type handle struct {
	owner   uint32 // the process that opened it
	sys     *system
	proc    *process
	hcnKind string
	hcnID   string
	// exitSent: its exit notification went out (there is one per handle).
	exitSent bool
}

// Start listens on 127.0.0.1 and puts the address in HCSEMU_ADDR, which
// the processes this one starts inherit (the DLLs read it first), and in
// windowsDir\hcsemu.addr for processes started otherwise.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		ln: ln, Addr: ln.Addr().String(), next: 0x1000,
		handles: map[uint64]*handle{}, systems: map[string]*system{}, events: map[uint32]*eventConn{},
		subs: map[uint64]uint32{}, watched: map[uint32]bool{}, closed: make(chan struct{}), hcn: map[string]map[string]map[string]any{}, layers: map[string]*layer{},
	}
	s.fns = map[string]handler{}
	s.registerHCS()
	s.registerLayers()
	s.registerHCN()
	s.registerCompartment()
	os.Setenv("HCSEMU_ADDR", s.Addr)
	if err := os.WriteFile(addrFile(), []byte(s.Addr+"\n"), 0o644); err != nil {
		ln.Close()
		return nil, err
	}
	go s.serve()
	return s, nil
}

func addrFile() string {
	return filepath.Join(os.Getenv("SystemRoot"), "hcsemu.addr")
}

// Close stops listening, terminates every compute system's processes and
// removes the address file.
func (s *Server) Close() {
	s.mu.Lock()
	procs := append([]*process(nil), s.procs...)
	for _, ec := range s.events {
		ec.c.Close()
	}
	s.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	s.mu.Lock()
	for _, sys := range s.systems {
		sys.unmountAll()
	}
	s.mu.Unlock()
	s.closeDataplane()
	s.releaseAll()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.ln.Close()
	os.Remove(addrFile())
}

func (s *Server) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.conn(c)
	}
}

func readFrame(r *bufio.Reader) ([]string, error) {
	hdr, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(hdr))
	if err != nil || n < 0 || n > 64<<20 {
		return nil, fmt.Errorf("bad frame header %q", hdr)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return strings.Split(string(buf), "\x1f"), nil
}

func writeFrame(w io.Writer, fields []string) error {
	payload := strings.Join(fields, "\x1f")
	_, err := fmt.Fprintf(w, "%d\n%s", len(payload), payload)
	return err
}

func (s *Server) conn(c net.Conn) {
	r := bufio.NewReader(c)
	f, err := readFrame(r)
	if err != nil || len(f) < 2 {
		c.Close()
		return
	}
	pid64, _ := strconv.ParseUint(f[1], 10, 32)
	pid := uint32(pid64)
	if f[0] == "Events" {
		s.mu.Lock()
		if old := s.events[pid]; old != nil {
			old.c.Close()
			if s.Log != nil {
				s.Log(fmt.Sprintf("hcsemu: pid %d opened a second event connection: the first is closed", pid))
			}
		}
		s.events[pid] = &eventConn{c: c}
		s.mu.Unlock()
		return // kept open; events are written by emit
	}
	defer c.Close()
	hr, out := s.dispatch(f[0], pid, f[2:])
	_ = writeFrame(c, append([]string{strconv.FormatInt(int64(hr), 10)}, out...))
}

func (s *Server) dispatch(fn string, pid uint32, args []string) (int32, []string) {
	s.watch(pid)
	call := Call{Fn: fn, Pid: pid, Args: args}
	h := s.fns[fn]
	var out []string
	var err *hcsError
	if h == nil {
		err = fail(hrNotImpl, "%s is not emulated", fn)
	} else {
		out, err = h(pid, args)
	}
	if err != nil {
		call.HR, call.Err = err.hr, err.msg
		// HCS puts the reason in the result document; HCN in the error record.
		out = errorOutputs(fn, err)
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if s.Log != nil && fn != "Subscribe" {
		line := fmt.Sprintf("hcsemu: pid %d %s(%s)", pid, fn, abbreviate(args))
		if err != nil {
			line += " -> " + err.Error()
		}
		s.Log(line)
	}
	return call.HR, out
}

func abbreviate(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		if len(a) > 300 {
			a = a[:300] + "..."
		}
		b.WriteString(a)
	}
	return b.String()
}

// Calls returns the recorded calls to fn (all calls when fn is "").
func (s *Server) Calls(fn string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if fn == "" || c.Fn == fn {
			out = append(out, Call{Fn: c.Fn, Pid: c.Pid, Args: append([]string(nil), c.Args...), HR: c.HR, Err: c.Err})
		}
	}
	return out
}

func (s *Server) newHandle(owner uint32, h *handle) uint64 {
	h.owner = owner
	s.next++
	s.handles[s.next] = h
	return s.next
}

// handleOf is the handle arg names if the calling process opened it: a
// handle is a process's own, as HCS handles are (nil otherwise). The
// caller holds s.mu.
func (s *Server) handleOf(pid uint32, arg string) *handle {
	h := s.handles[parseHandle(arg)]
	if h == nil || h.owner != pid {
		return nil
	}
	return h
}

func parseHandle(arg string) uint64 {
	v, _ := strconv.ParseUint(arg, 10, 64)
	return v
}

// emit sends an event to the process that subscribed the handle.
func (s *Server) emit(h uint64, typ uint32, data string) {
	s.mu.Lock()
	pid, ok := s.subs[h]
	ec := s.events[pid]
	if ok && ec != nil && (typ == eventProcessExited || typ == eventSystemExited) {
		// Sent once, by the exit or by a subscription that came after it.
		if hd := s.handles[h]; hd == nil || hd.exitSent {
			ok = false
		} else {
			hd.exitSent = true
		}
	}
	s.mu.Unlock()
	if !ok || ec == nil {
		return
	}
	ec.mu.Lock()
	defer ec.mu.Unlock()
	_ = ec.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := writeFrame(ec.c, []string{strconv.FormatUint(h, 10), strconv.FormatUint(uint64(typ), 10), data}); err != nil && s.Log != nil {
		s.Log(fmt.Sprintf("hcsemu: event %#x for handle %d to pid %d lost: %v", typ, h, pid, err))
	}
}

func argN(args []string, n int) []string {
	for len(args) < n {
		args = append(args, "")
	}
	return args
}

// KillCallers terminates every other process that called the emulator and
// still runs (at the end of a test: the shims).
func (s *Server) KillCallers() {
	seen := map[uint32]bool{uint32(os.Getpid()): true}
	for _, c := range s.Calls("") {
		if seen[c.Pid] {
			continue
		}
		seen[c.Pid] = true
		if h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, c.Pid); err == nil {
			_ = windows.TerminateProcess(h, 1)
			windows.CloseHandle(h)
		}
	}
}

// watch notes when a calling process ends: the OS closes its handles, and
// HCS terminates a compute system created with
// ShouldTerminateOnLastHandleClosed once its last handle is gone (a shim
// that crashes takes its containers with it).
func (s *Server) watch(pid uint32) {
	s.mu.Lock()
	if s.watched[pid] || pid == uint32(os.Getpid()) {
		s.mu.Unlock()
		return
	}
	s.watched[pid] = true
	s.mu.Unlock()
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, pid)
	if err != nil {
		return
	}
	go func() {
		defer windows.CloseHandle(h)
		_, _ = windows.WaitForSingleObject(h, windows.INFINITE)
		s.callerExited(pid)
	}()
}

func (s *Server) callerExited(pid uint32) {
	s.mu.Lock()
	touched := map[*system]bool{}
	var closed []string
	for id, h := range s.handles {
		if h.owner == pid {
			delete(s.handles, id)
			delete(s.subs, id)
			closed = append(closed, fmt.Sprintf("%d=%s", id, h.describe()))
			if h.sys != nil {
				touched[h.sys] = true
			}
		}
	}
	if s.Log != nil {
		sort.Strings(closed)
		s.Log(fmt.Sprintf("hcsemu: pid %d exited: its %d handles closed [%s]", pid, len(closed), strings.Join(closed, " ")))
	}
	if ec := s.events[pid]; ec != nil {
		ec.c.Close()
		delete(s.events, pid)
	}
	delete(s.watched, pid)
	var orphans []*system
	for sys := range touched {
		if s.hasHandles(sys) {
			continue
		}
		if sys.state != "Stopped" && sys.doc.ShouldTerminateOnLastHandleClosed {
			orphans = append(orphans, sys)
		} else if sys.state == "Stopped" {
			s.dropSystem(sys)
		}
	}
	s.mu.Unlock()
	for _, sys := range orphans {
		s.terminateOrphan(sys)
	}
}

// describe names what a handle refers to, for the log.
func (h *handle) describe() string {
	switch {
	case h.proc != nil && h.sys != nil:
		return fmt.Sprintf("process:%s/%d", h.sys.id, h.proc.pid)
	case h.sys != nil:
		return "system:" + h.sys.id
	case h.hcnKind != "":
		return h.hcnKind + ":" + h.hcnID
	}
	return "other"
}

func (s *Server) hasHandles(sys *system) bool {
	for _, h := range s.handles {
		if h.sys == sys {
			return true
		}
	}
	return false
}

// terminateOrphan ends a compute system nobody holds a handle to.
func (s *Server) terminateOrphan(sys *system) {
	s.mu.Lock()
	procs := sys.processList()
	sys.state, sys.exit = "Stopped", "UnexpectedExit"
	s.mu.Unlock()
	sys.killAll(procs)
	s.mu.Lock()
	if !s.hasHandles(sys) {
		s.dropSystem(sys)
	}
	s.mu.Unlock()
	if s.Log != nil {
		s.Log(fmt.Sprintf("hcsemu: %s terminated: its last handle closed with its process", sys.id))
	}
}
