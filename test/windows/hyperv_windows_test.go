package windowse2e

import (
	"encoding/json"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestWindowsHyperVPod: a pod of the Hyper-V handler reaches HCS as a
// utility VM document carrying the handler's isolation and the pod's
// io.microsoft.virtualmachine.* annotations. The utility VM cannot boot
// under the emulator, which rejects the document: the test stops there
// and checks that wincri cleaned up after the failed pod.
//
// Annotations a handler does not list must not reach the shim: a second
// handler passes only the processor annotations, so the memory annotation
// given to its pod must leave the VM's memory at hcsshim's default.
func TestWindowsHyperVPod(t *testing.T) {
	e := newEnv(t)
	annotations := map[string]string{
		"io.microsoft.virtualmachine.computetopology.processor.count": "2",
		"io.microsoft.virtualmachine.computetopology.memory.sizeinmb": "768",
		"io.kubernetes.not-for-the-vm":                                "x",
	}
	tp := e.utilityVM(t, "hv", "runhcs-wcow-hypervisor", annotations)
	if tp.Processor.Count != 2 || tp.Memory.SizeInMB != 768 {
		t.Fatalf("pod annotations did not reach the utility VM document: %+v", tp)
	}
	tp = e.utilityVM(t, "hv-cpu", "runhcs-wcow-hypervisor-cpu", annotations)
	if tp.Processor.Count != 2 || tp.Memory.SizeInMB == 768 || tp.Memory.SizeInMB == 0 {
		t.Fatalf("handler listing only processor annotations: VM topology %+v; want 2 processors and hcsshim's default memory, not the pod's 768 MB", tp)
	}
}

type vmTopology struct {
	Memory    struct{ SizeInMB int }
	Processor struct{ Count int }
}

// utilityVM runs a pod of a Hyper-V handler, which fails at the utility VM
// the emulator refuses to boot, checks that wincri cleaned up, and returns
// the VM document's topology.
func (e *env) utilityVM(t *testing.T, name, handler string, annotations map[string]string) vmTopology {
	pcfg := podConfig(name, t.TempDir())
	pcfg.Annotations = annotations
	before := len(e.emu.Calls("HcsCreateComputeSystem"))
	_, err := e.rt.RunPodSandbox(ctx(t), &runtimeapi.RunPodSandboxRequest{Config: pcfg, RuntimeHandler: handler})
	if err == nil || !strings.Contains(err.Error(), "@vm") {
		e.fatal("Hyper-V pod (%s): want the utility VM's creation to fail, got %v", handler, err)
	}
	var doc struct {
		VirtualMachine *struct{ ComputeTopology vmTopology }
	}
	calls := e.emu.Calls("HcsCreateComputeSystem")
	if len(calls) <= before {
		e.fatal("no compute system was created")
	}
	first := calls[before]
	if !strings.Contains(first.Err, "utility VM") {
		e.fatal("the utility VM was not refused by the emulator: %+v", first)
	}
	if err := json.Unmarshal([]byte(first.Args[1]), &doc); err != nil || doc.VirtualMachine == nil {
		e.fatal("first compute system is not a utility VM: %v %s", err, first.Args[1])
	}
	t.Logf("%s: utility VM document (rejected by the emulator): %.400s", handler, first.Args[1])
	e.waitEmpty(t)
	list, err := e.rt.ListPodSandbox(ctx(t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("pods after the failed run: %v %v", list, err)
	}
	return doc.VirtualMachine.ComputeTopology
}
