package hcsemu

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// modifySystem applies the modify requests HCS takes for a running
// process-isolated container, decoded strictly: its memory and processor
// limits (recorded: System.Limits) and mapped directories. Any other
// resource path is refused: what real HCS does with it is not known here
// (docs/windows.md).
func (s *Server) modifySystem(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	sys, herr := s.systemOf(pid, a[0])
	if herr != nil {
		return nil, herr
	}
	lim, mapped, herr := checkModify(a[1])
	if herr != nil {
		return nil, herr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sys.state != "Running" {
		return nil, fail(hrInvalidState, "modify of %s in state %s", sys.id, sys.state)
	}
	// A directory is added at a container path once, and removed only
	// from where it is mapped.
	if p := strings.ToLower(mapped.path); p != "" {
		m := sys.mounts[p]
		switch {
		case mapped.add && m != nil:
			return nil, fail(hrAlreadyExists, "a directory is already mapped at %s", mapped.path)
		case !mapped.add && m == nil:
			return nil, fail(hrElementNotFound, "no directory is mapped at %s", mapped.path)
		case mapped.add:
			if m, err := sys.mountMapped(mapped.host, mapped.path, mapped.readOnly); err != nil {
				return nil, fail(hrPathNotFound, "mapping %s at %s: %v", mapped.host, mapped.path, err)
			} else {
				sys.mounts[p] = m
			}
		default:
			if err := m.unmount(); err != nil {
				return nil, fail(hrInvalidState, "unmapping %s: %v", mapped.path, err)
			}
			delete(sys.mounts, p)
		}
	}
	if lim.MemoryMB != 0 {
		sys.limits.MemoryMB = lim.MemoryMB
	}
	if lim.Processor != (Processor{}) {
		sys.limits.Processor = lim.Processor
	}
	return []string{""}, nil
}

// Limits are the resource limits modify requests set on a system.
type Limits struct {
	MemoryMB  uint64
	Processor Processor
}

// Processor is HCS's Processor schema (hcsshim's schema2.Processor): one of
// a count, a maximum (in 1/10000 of the host's CPUs) or a weight.
type Processor struct{ Count, Maximum, Weight int32 }

// mapChange is a mapped directory's add or remove at a container path.
type mapChange struct {
	path, host string
	readOnly   bool
	add        bool
}

// checkModify decodes a modify request (hcsshim's ModifySettingRequest) and
// returns the limits it sets, or the mapped directory it adds or removes.
func checkModify(doc string) (lim Limits, mapped mapChange, herr *hcsError) {
	var req struct {
		ResourcePath string
		RequestType  string
		Settings     json.RawMessage
		GuestRequest json.RawMessage
	}
	if err := strictJSON(doc, &req); err != nil {
		return lim, mapped, fail(hrInvalidJSON, "modify request: %v", err)
	}
	if len(req.GuestRequest) > 0 {
		return lim, mapped, fail(hrInvalidArg, "modify request with a GuestRequest for a process-isolated container")
	}
	switch req.ResourcePath {
	case "Container/Memory/SizeInMB":
		if req.RequestType != "Update" {
			return lim, mapped, fail(hrInvalidArg, "%s: RequestType %q, want Update", req.ResourcePath, req.RequestType)
		}
		if err := strictJSON(string(req.Settings), &lim.MemoryMB); err != nil || lim.MemoryMB == 0 {
			return lim, mapped, fail(hrInvalidArg, "%s: settings %s are not a size in MB (%v)", req.ResourcePath, req.Settings, err)
		}
		if lim.MemoryMB%2 != 0 { // hcsshim aligns sizes to 2 MB before it asks
			return lim, mapped, fail(hrInvalidArg, "%s: %d MB is not a multiple of 2 MB", req.ResourcePath, lim.MemoryMB)
		}
	case "Container/Processor":
		if req.RequestType != "Update" {
			return lim, mapped, fail(hrInvalidArg, "%s: RequestType %q, want Update", req.ResourcePath, req.RequestType)
		}
		if err := strictJSON(string(req.Settings), &lim.Processor); err != nil {
			return lim, mapped, fail(hrInvalidJSON, "%s: %v", req.ResourcePath, err)
		}
		if err := checkProcessor(req.ResourcePath, lim.Processor, 1); err != nil {
			return lim, mapped, err
		}
	case "Container/MappedDirectories":
		if req.RequestType != "Add" && req.RequestType != "Remove" {
			return lim, mapped, fail(hrInvalidArg, "%s: RequestType %q, want Add or Remove", req.ResourcePath, req.RequestType)
		}
		var md struct {
			HostPath, HostPathType, ContainerPath string
			ReadOnly                              bool
		}
		if err := strictJSON(string(req.Settings), &md); err != nil || md.HostPath == "" || md.ContainerPath == "" {
			return lim, mapped, fail(hrInvalidArg, "%s: settings %s (%v)", req.ResourcePath, req.Settings, err)
		}
		if md.HostPathType != "" && md.HostPathType != "AbsolutePath" || !absWindowsPath(md.ContainerPath) {
			return lim, mapped, fail(hrInvalidArg, "%s: HostPathType %q, ContainerPath %q", req.ResourcePath, md.HostPathType, md.ContainerPath)
		}
		if _, err := os.Stat(md.HostPath); req.RequestType == "Add" && err != nil {
			return lim, mapped, fail(hrPathNotFound, "%s: %v", req.ResourcePath, err)
		}
		mapped = mapChange{path: md.ContainerPath, host: md.HostPath, readOnly: md.ReadOnly, add: req.RequestType == "Add"}
	default:
		return lim, mapped, fail(hrInvalidArg, "modify of %q (%s): not emulated; refused (docs/windows.md)", req.ResourcePath, req.RequestType)
	}
	return lim, mapped, nil
}

// checkProcessor: at most one of Count (1..host CPUs), Maximum or Weight
// (1..10000) is set, and at least min of them (a document's Processor may
// be empty, as runhcs sends it without CPU limits; an update sets one).
func checkProcessor(what string, p Processor, min int) *hcsError {
	set := 0
	for _, v := range []int32{p.Count, p.Maximum, p.Weight} {
		if v != 0 {
			set++
		}
	}
	switch {
	case set > 1 || set < min:
		return fail(hrInvalidArg, "%s: %+v sets %d of Count, Maximum, Weight, want one", what, p, set)
	case p.Count < 0 || int(p.Count) > runtime.NumCPU():
		return fail(hrInvalidArg, "%s: Count %d outside 1..%d", what, p.Count, runtime.NumCPU())
	case p.Maximum < 0 || p.Maximum > 10000, p.Weight < 0 || p.Weight > 10000:
		return fail(hrInvalidArg, "%s: %+v outside 1..10000", what, p)
	}
	return nil
}

// strictJSON decodes doc into v, refusing unknown fields and trailing data.
func strictJSON(doc string, v any) error {
	d := json.NewDecoder(strings.NewReader(doc))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("data after the document")
	}
	return nil
}
