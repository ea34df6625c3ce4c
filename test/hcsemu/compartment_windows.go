package hcsemu

import (
	"encoding/json"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A container process sees its own network compartment: the HCN endpoints
// of the namespace its compute system joined, with their addresses and DNS
// settings. Wine has no compartments, so a program in the test images
// (test/windows/wincmd's ipconfig) asks the emulator for the compartment of
// the process calling: HcsemuContainerNetwork, answered for a process in a
// compute system's job (the silo's stand-in, which children of container
// processes are in too) and refused for any other.

var procIsProcessInJob = windows.NewLazySystemDLL("kernel32.dll").NewProc("IsProcessInJob")

func (s *Server) registerCompartment() {
	s.fns["HcsemuContainerNetwork"] = s.containerNetwork
}

// ContainerNetwork is the answer: the compute system's host name and its
// namespace's endpoints (HCN documents).
type ContainerNetwork struct {
	HostName  string
	Endpoints []map[string]any
}

func (s *Server) containerNetwork(pid uint32, _ []string) ([]string, *hcsError) {
	sys := s.systemOfProcess(pid)
	if sys == nil {
		return nil, fail(hrElementNotFound, "process %d is in no container", pid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cn := ContainerNetwork{}
	c := sys.doc.Container
	if c.GuestOs != nil {
		cn.HostName = c.GuestOs.HostName
	}
	if c.Networking != nil && c.Networking.Namespace != "" {
		for _, ep := range s.hcn["endpoint"] {
			if ns, _ := ep["HostComputeNamespace"].(string); strings.EqualFold(ns, c.Networking.Namespace) {
				cn.Endpoints = append(cn.Endpoints, ep)
			}
		}
	}
	b, err := json.Marshal(cn)
	if err != nil {
		return nil, fail(hrInvalidArg, "%v", err)
	}
	return []string{string(b)}, nil
}

// systemOfProcess is the running compute system that started pid, or
// whose job holds it (a child of a container process).
func (s *Server) systemOfProcess(pid uint32) *system {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sys := range s.systems {
		if sys.procs[pid] != nil && sys.doc.Container != nil && sys.state == "Running" {
			return sys
		}
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_INFORMATION, false, pid)
	if err != nil {
		return nil
	}
	defer windows.CloseHandle(h)
	for _, sys := range s.systems {
		if sys.job == 0 || sys.doc.Container == nil || sys.state != "Running" {
			continue
		}
		var in int32
		if r, _, _ := procIsProcessInJob.Call(uintptr(h), uintptr(sys.job), uintptr(unsafe.Pointer(&in))); r != 0 && in != 0 {
			return sys
		}
	}
	return nil
}
