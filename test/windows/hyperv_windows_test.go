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
func TestWindowsHyperVPod(t *testing.T) {
	e := newEnv(t)
	pcfg := podConfig("hv", t.TempDir())
	pcfg.Annotations = map[string]string{
		"io.microsoft.virtualmachine.computetopology.processor.count": "2",
		"io.microsoft.virtualmachine.computetopology.memory.sizeinmb": "768",
		"io.kubernetes.not-for-the-vm":                                "x",
	}
	_, err := e.rt.RunPodSandbox(ctx(t), &runtimeapi.RunPodSandboxRequest{Config: pcfg, RuntimeHandler: "runhcs-wcow-hypervisor"})
	if err == nil || !strings.Contains(err.Error(), "@vm") {
		e.fatal("Hyper-V pod: want the utility VM's creation to fail, got %v", err)
	}
	var doc struct {
		VirtualMachine *struct {
			ComputeTopology struct {
				Memory    struct{ SizeInMB int }
				Processor struct{ Count int }
			}
		}
	}
	calls := e.emu.Calls("HcsCreateComputeSystem")
	if len(calls) == 0 {
		e.fatal("no compute system was created")
	}
	if !strings.Contains(calls[0].Err, "utility VM") {
		e.fatal("the utility VM was not refused by the emulator: %+v", calls[0])
	}
	if err := json.Unmarshal([]byte(calls[0].Args[1]), &doc); err != nil || doc.VirtualMachine == nil {
		e.fatal("first compute system is not a utility VM: %v %s", err, calls[0].Args[1])
	}
	if tp := doc.VirtualMachine.ComputeTopology; tp.Processor.Count != 2 || tp.Memory.SizeInMB != 768 {
		t.Fatalf("pod annotations did not reach the utility VM document: %+v", tp)
	}
	t.Logf("utility VM document (rejected by the emulator): %.400s", calls[0].Args[1])
	e.waitEmpty()
	list, err := e.rt.ListPodSandbox(ctx(t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("pods after the failed run: %v %v", list, err)
	}
}
