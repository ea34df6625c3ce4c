package hcsemu

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

// HCS event types (computecore HCS_EVENT_TYPE).
const (
	eventSystemExited  = 0x00000001
	eventProcessExited = 0x00010000
)

// system is one compute system (a process-isolated container here).
type system struct {
	id      string
	doc     systemDoc
	raw     string
	state   string // Created, Running, Stopped
	root    string // the directory the container's C:\ maps to
	started time.Time
	procs   map[uint32]*process
	exit    string
	job     windows.Handle    // the silo's stand-in: every process of the system
	limits  Limits            // what modify requests set
	mounts  map[string]*mount // mapped directories in place, by container path (lower case)
}

func (s *Server) registerHCS() {
	s.fns["Events"] = func(uint32, []string) ([]string, *hcsError) { return nil, nil }
	s.fns["Subscribe"] = s.subscribe
	s.fns["HcsGetServiceProperties"] = serviceProperties
	s.fns["HcsEnumerateComputeSystems"] = s.enumerateSystems
	s.fns["HcsCreateComputeSystem"] = s.createSystem
	s.fns["HcsOpenComputeSystem"] = s.openSystem
	s.fns["HcsCloseComputeSystem"] = s.closeHandle
	s.fns["HcsCloseProcess"] = s.closeHandle
	s.fns["HcsStartComputeSystem"] = s.startSystem
	s.fns["HcsShutDownComputeSystem"] = s.shutdownSystem
	s.fns["HcsemuWaitStopped"] = s.waitStopped
	s.fns["HcsTerminateComputeSystem"] = func(pid uint32, a []string) ([]string, *hcsError) { return s.stopSystem(pid, a, "Forced") }
	s.fns["HcsPauseComputeSystem"] = s.unsupported("pausing a process-isolated container")
	s.fns["HcsResumeComputeSystem"] = s.unsupported("resuming a process-isolated container")
	s.fns["HcsSaveComputeSystem"] = s.unsupported("saving a compute system")
	s.fns["HcsGetComputeSystemProperties"] = s.systemProperties
	s.fns["HcsModifyComputeSystem"] = s.modifySystem
	s.fns["HcsCreateProcess"] = s.createProcess
	s.fns["HcsOpenProcess"] = s.openProcess
	s.fns["HcsGetProcessInfo"] = s.processInfo
	s.fns["HcsGetProcessProperties"] = s.processProperties
	s.fns["HcsTerminateProcess"] = s.terminateProcess
	s.fns["HcsSignalProcess"] = s.signalProcess
	s.fns["HcsModifyProcess"] = s.modifyProcess
}

func (s *Server) unsupported(what string) handler {
	return func(uint32, []string) ([]string, *hcsError) {
		return nil, fail(hrNotImpl, "%s is not emulated", what)
	}
}

func errorOutputs(fn string, e *hcsError) []string {
	doc, _ := json.Marshal(map[string]any{"Error": e.hr, "ErrorMessage": e.msg})
	rec := string(doc)
	switch fn {
	case "HcsCreateComputeSystem", "HcsOpenComputeSystem", "HcsOpenProcess":
		return []string{"0", rec}
	case "HcsCreateProcess":
		return []string{"0", "0", "0", "0", "0", rec}
	case "HcsGetProcessInfo":
		return []string{"0", "0", "0", "0", rec}
	case "HcnCreate", "HcnOpen":
		return []string{"0", rec}
	case "HcnEnumerate", "HcnQuery":
		return []string{"", rec}
	case "HNSCall":
		out, _ := json.Marshal(map[string]any{"Success": false, "Error": e.msg})
		return []string{string(out)}
	}
	return []string{rec}
}

func (s *Server) subscribe(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	h := parseHandle(a[0])
	s.awaitEvents(pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handleOf(pid, a[0]) == nil {
		return nil, fail(hrInvalidHandle, "not a handle of this process: %s", a[0])
	}
	if a[1] == "1" {
		s.subs[h] = pid
		// A process or system that ended before its callback was set
		// still notifies it: hcsshim sets a process's callback after
		// HcsCreateProcess returns and waits for nothing else, so a
		// command that exits at once (a probe) would otherwise never be
		// seen to exit (inferred: fast execs do end on Windows).
		if typ, data, ended := exitEvent(s.handles[h]); ended {
			go s.emit(h, typ, data)
		}
	} else {
		delete(s.subs, h)
	}
	return nil, nil
}

// awaitEvents waits a little for pid's event connection: the DLL opens it
// before its first subscription, but on a connection of its own, which
// may be read after the subscription's; an event emitted in between would
// have nowhere to go.
func (s *Server) awaitEvents(pid uint32) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		ok := s.events[pid] != nil
		s.mu.Unlock()
		if ok {
			return
		}
	}
}

// exitEvent is the notification the object of a process or system
// handle gave when it ended, if it has. Called with s.mu held.
func exitEvent(hd *handle) (typ uint32, data string, ended bool) {
	switch {
	case hd == nil:
	case hd.proc != nil:
		select {
		case <-hd.proc.done:
			return eventProcessExited, hd.proc.exitData(), true
		default:
		}
	case hd.sys != nil && hd.sys.state == "Stopped":
		return eventSystemExited, systemExitData(hd.sys.exit), true
	}
	return 0, "", false
}

func systemExitData(exitType string) string {
	data, _ := json.Marshal(map[string]any{"Status": 0, "ExitType": exitType})
	return string(data)
}

// systemOf returns the system of a system handle the caller opened.
func (s *Server) systemOf(pid uint32, arg string) (*system, *hcsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.handleOf(pid, arg)
	if h == nil || h.sys == nil || h.proc != nil {
		return nil, fail(hrInvalidHandle, "not a compute system handle: %s", arg)
	}
	return h.sys, nil
}

func (s *Server) createSystem(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	id, raw := a[0], a[1]
	if id == "" {
		return nil, fail(hrInvalidArg, "empty compute system id")
	}
	var doc systemDoc
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, fail(hrInvalidJSON, "configuration is not JSON: %v", err)
	}
	if err := strictJSON(raw, &doc); err != nil {
		return nil, fail(hrInvalidJSON, "configuration: %v", err)
	}
	if doc.SchemaVersion == nil || doc.SchemaVersion.Major != 2 {
		return nil, fail(hrInvalidArg, "SchemaVersion must be 2.x")
	}
	sys := &system{id: id, doc: doc, raw: raw, state: "Created", procs: map[uint32]*process{}}
	if err := s.checkSystem(sys); err != nil {
		return nil, err
	}
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, fail(hrFail, "job object: %v", err)
	}
	sys.job = job
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.systems[id] != nil {
		return nil, fail(hrAlreadyExists, "compute system %s already exists", id)
	}
	s.systems[id] = sys
	return []string{strconv.FormatUint(s.newHandle(pid, &handle{sys: sys}), 10), ""}, nil
}

// checkSystem rejects what HCS would: a utility VM (which cannot run
// here), missing layers, a missing or unprepared root, a network
// namespace HCN does not have, missing mapped directories.
func (s *Server) checkSystem(sys *system) *hcsError {
	d := sys.doc
	if len(d.VirtualMachine) > 0 {
		return fail(hrNotImpl, "a utility VM (Hyper-V isolation) cannot run under the emulator")
	}
	if d.HostingSystemId != "" {
		return fail(hrSystemNotFound, "hosting system %s: utility VMs cannot run under the emulator", d.HostingSystemId)
	}
	if d.Container == nil {
		return fail(hrInvalidArg, "neither Container nor VirtualMachine is set")
	}
	c := d.Container
	if err := checkContainerFields(c); err != nil {
		return err
	}
	if c.Storage == nil || len(c.Storage.Layers) == 0 {
		return fail(hrInvalidArg, "Container.Storage.Layers is empty")
	}
	for _, l := range c.Storage.Layers {
		if l.Id == "" || !isDir(l.Path) {
			return fail(hrPathNotFound, "layer %q at %q does not exist", l.Id, l.Path)
		}
	}
	root, parents := s.mountedRoot(c.Storage.Path)
	if root == "" {
		return fail(hrPathNotFound, "Container.Storage.Path %q is not a prepared layer mount", c.Storage.Path)
	}
	// The layers are the chain the mount was prepared with, in its order.
	same := len(parents) == len(c.Storage.Layers)
	for i := 0; same && i < len(parents); i++ {
		same = layerKey(parents[i]) == layerKey(c.Storage.Layers[i].Path)
	}
	if !same {
		var got []string
		for _, l := range c.Storage.Layers {
			got = append(got, l.Path)
		}
		return fail(hrInvalidArg, "Container.Storage.Layers %q are not the parent layers %q its Path was prepared with", got, parents)
	}
	s.mu.Lock()
	for _, o := range s.systems {
		if o.root == root && o.state != "Stopped" {
			s.mu.Unlock()
			// What HCS does with a volume another container uses is not
			// known here: refused (docs/windows.md).
			return fail(hrInvalidState, "Container.Storage.Path %q is compute system %s's root", c.Storage.Path, o.id)
		}
	}
	s.mu.Unlock()
	sys.root = root
	sys.mounts = map[string]*mount{}
	seen := map[string]bool{}
	for _, m := range c.MappedDirectories {
		if host := volumePathToDrive(m.HostPath); !isDir(host) && !isFile(host) {
			return fail(hrPathNotFound, "mapped directory host path %q does not exist", m.HostPath)
		}
		// Two mappings at one container path: what HCS does is not
		// known here, so refused (docs/windows.md).
		if k := strings.ToLower(m.ContainerPath); seen[k] {
			return fail(hrInvalidArg, "two mapped directories at %s", m.ContainerPath)
		} else {
			seen[k] = true
		}
	}
	if c.Networking != nil && c.Networking.Namespace != "" {
		if s.hcnObject("namespace", c.Networking.Namespace) == nil {
			return fail(hrNamespaceMissing, "network namespace %s does not exist", c.Networking.Namespace)
		}
	}
	return nil
}

func (s *Server) openSystem(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	sys := s.systems[a[0]]
	if sys == nil {
		return nil, fail(hrSystemNotFound, "compute system %s does not exist", a[0])
	}
	return []string{strconv.FormatUint(s.newHandle(pid, &handle{sys: sys}), 10), ""}, nil
}

// closeHandle forgets a handle; a stopped system goes away with its last
// handle, as in HCS.
func (s *Server) closeHandle(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 1)
	hid := parseHandle(a[0])
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.handleOf(pid, a[0])
	if h == nil {
		return nil, fail(hrInvalidHandle, "unknown handle %s", a[0])
	}
	delete(s.handles, hid)
	delete(s.subs, hid)
	// A stopped system goes with the last handle to it or to one of its
	// processes (a process handle closed last was found keeping one).
	if h.sys != nil && h.sys.state == "Stopped" && !s.hasHandles(h.sys) {
		s.dropSystem(h.sys)
	}
	return nil, nil
}

func (s *Server) enumerateSystems(uint32, []string) ([]string, *hcsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, sys := range s.systems {
		out = append(out, sys.properties())
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["Id"].(string) < out[j]["Id"].(string) })
	b, _ := json.Marshal(out)
	return []string{string(b)}, nil
}

func (sys *system) properties() map[string]any {
	return map[string]any{
		"Id": sys.id, "SystemType": "Container", "RuntimeOsType": "Windows", "Owner": sys.doc.Owner,
		"State": sys.state, "Stopped": sys.state == "Stopped", "ExitType": sys.exit,
	}
}

func (s *Server) startSystem(pid uint32, a []string) ([]string, *hcsError) {
	sys, err := s.systemOf(pid, argN(a, 1)[0])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if sys.state != "Created" {
		s.mu.Unlock()
		return nil, fail(hrInvalidState, "compute system %s is %s, not Created", sys.id, sys.state)
	}
	sys.state = "Starting"
	s.mu.Unlock()
	mounts, herr := sys.mountAll() // outside the lock: it runs mount(8)
	s.mu.Lock()
	defer s.mu.Unlock()
	if herr != nil {
		sys.state = "Created"
		return nil, herr
	}
	if sys.state != "Starting" { // stopped meanwhile
		unmountAll(mounts)
		return nil, fail(hrInvalidState, "compute system %s was stopped while it started", sys.id)
	}
	sys.mounts = mounts
	sys.state, sys.started = "Running", time.Now()
	return []string{""}, nil
}

// stopSystem ends every process of the system, then tells every handle
// with a callback that the system exited.
func (s *Server) stopSystem(pid uint32, a []string, exitType string) ([]string, *hcsError) {
	sys, err := s.systemOf(pid, argN(a, 1)[0])
	if err != nil {
		return nil, err
	}
	return s.stop(sys, exitType)
}

func (s *Server) stop(sys *system, exitType string) ([]string, *hcsError) {
	s.mu.Lock()
	if sys.state == "Stopped" {
		s.mu.Unlock()
		return nil, fail(hrAlreadyStopped, "compute system %s is already stopped", sys.id)
	}
	procs := make([]*process, 0, len(sys.procs))
	for _, p := range sys.procs {
		procs = append(procs, p)
	}
	sys.state, sys.exit = "Stopped", exitType
	var hs []uint64
	for id, h := range s.handles {
		if h.sys == sys && h.proc == nil {
			hs = append(hs, id)
		}
	}
	s.mu.Unlock()
	sys.killAll(procs)
	sys.unmountAll()
	data := systemExitData(exitType)
	go func() {
		for _, h := range hs {
			s.emit(h, eventSystemExited, data)
		}
	}()
	return []string{""}, nil
}

type propertyQuery struct {
	PropertyTypes []string
}

func (s *Server) systemProperties(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	sys, err := s.systemOf(pid, a[0])
	if err != nil {
		return nil, err
	}
	var q propertyQuery
	if a[1] != "" {
		if err := json.Unmarshal([]byte(a[1]), &q); err != nil {
			return nil, fail(hrInvalidJSON, "property query: %v", err)
		}
	}
	s.mu.Lock()
	props := sys.properties()
	procs := sys.processList()
	started, job := sys.started, sys.job
	s.mu.Unlock()
	for _, t := range q.PropertyTypes {
		switch t {
		case "Statistics":
			props["Statistics"] = statistics(job, procs, started)
		case "ProcessList":
			var list []map[string]any
			snap := processTimes()
			for _, p := range procs {
				list = append(list, p.details(snap))
			}
			props["ProcessList"] = list
		case "Memory", "GuestConnection", "ICHeartbeatStatus":
		default:
			return nil, fail(hrInvalidArg, "property type %q is not supported for a container", t)
		}
	}
	b, _ := json.Marshal(props)
	return []string{string(b)}, nil
}

func (sys *system) processList() []*process {
	out := make([]*process, 0, len(sys.procs))
	for _, p := range sys.procs {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// containerPath maps a path inside the container (C:\...) to the host
// directory that holds the container's root.
func (sys *system) containerPath(p string) string {
	if len(p) >= 3 && (p[0] == 'C' || p[0] == 'c') && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		return filepath.Join(sys.root, p[3:])
	}
	if strings.HasPrefix(p, `\`) && !strings.HasPrefix(p, `\\`) {
		return filepath.Join(sys.root, p[1:])
	}
	return p
}

// System is what tests see of a compute system.
type System struct {
	ID        string
	State     string
	Namespace string
	Limits    Limits
}

// Systems lists the compute systems HCS knows, sorted by id.
func (s *Server) Systems() []System {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []System
	for _, sys := range s.systems {
		ns := ""
		if c := sys.doc.Container; c != nil && c.Networking != nil {
			ns = c.Networking.Namespace
		}
		out = append(out, System{ID: sys.id, State: sys.state, Namespace: ns, Limits: sys.limits})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Layers lists the layer directories that are still activated or
// prepared (after every pod is removed there should be none).
func (s *Server) Layers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.layers {
		if l.activated || l.prepared {
			out = append(out, l.path)
		}
	}
	sort.Strings(out)
	return out
}

// serviceProperties answers one property per type asked: the schema
// versions (Basic) and this host's processors (ProcessorTopology).
func serviceProperties(_ uint32, a []string) ([]string, *hcsError) {
	var q propertyQuery
	if err := json.Unmarshal([]byte(argN(a, 1)[0]), &q); err != nil {
		return nil, fail(hrInvalidJSON, "service property query: %v", err)
	}
	var props []any
	for _, t := range q.PropertyTypes {
		switch t {
		case "Basic":
			props = append(props, map[string]any{"SupportedSchemaVersions": []any{map[string]int{"Major": 2, "Minor": 1}}})
		case "ProcessorTopology":
			var lps []any
			for i := 0; i < runtime.NumCPU(); i++ {
				lps = append(lps, map[string]any{"LpIndex": i, "CoreId": i, "RootVpIndex": i})
			}
			props = append(props, map[string]any{"LogicalProcessorCount": runtime.NumCPU(), "LogicalProcessors": lps})
		default:
			return nil, fail(hrInvalidArg, "service property %q is not emulated", t)
		}
	}
	b, _ := json.Marshal(map[string]any{"Properties": props})
	return []string{string(b)}, nil
}

// dropSystem forgets a system (s.mu held) and closes its job object.
func (s *Server) dropSystem(sys *system) {
	delete(s.systems, sys.id)
	sys.unmountAll()
	if sys.job != 0 {
		windows.CloseHandle(sys.job)
		sys.job = 0
	}
}

// killAll ends the system's processes and whatever they started (the
// job object holds the whole tree), and waits for the ones it started.
func (sys *system) killAll(procs []*process) {
	if sys.job != 0 {
		_ = windows.TerminateJobObject(sys.job, 1)
	}
	for _, p := range procs {
		p.kill()
		<-p.done
	}
}
