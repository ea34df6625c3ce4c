package stats

import (
	"testing"
	"time"

	hcsstats "github.com/Microsoft/hcsshim/cmd/containerd-shim-runhcs-v1/stats"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func runhcs(t *testing.T, at time.Time, cpu, ws, commit uint64, vm *hcsstats.VirtualMachineStatistics) *anypb.Any {
	t.Helper()
	a, err := typeurl.MarshalAnyToProto(&hcsstats.Statistics{
		Container: &hcsstats.Statistics_Windows{Windows: &hcsstats.WindowsContainerStatistics{
			Timestamp: timestamppb.New(at),
			Processor: &hcsstats.WindowsContainerProcessorStatistics{TotalRuntimeNS: cpu},
			Memory:    &hcsstats.WindowsContainerMemoryStatistics{MemoryUsagePrivateWorkingSetBytes: ws, MemoryUsageCommitBytes: commit, MemoryUsageCommitPeakBytes: commit + 1},
		}},
		VM: vm,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestWindowsContainerStats(t *testing.T) {
	p := NewSampler()
	t0 := time.Unix(1000, 0)
	attrs := &runtimeapi.ContainerAttributes{Id: "c1"}
	read := func(at time.Time, cpu uint64) *runtimeapi.WindowsContainerStats {
		u, vm, err := FromRunhcsStats(runhcs(t, at, cpu, 300<<20, 400<<20, nil), time.Now())
		if err != nil || vm != nil {
			t.Fatalf("decode: %v (vm %v)", err, vm)
		}
		return p.WindowsContainerStats("c1", attrs, u, 1<<30)
	}
	s := read(t0, 10e9)
	if s.Cpu.UsageCoreNanoSeconds.Value != 10e9 || s.Cpu.UsageNanoCores == nil || s.Cpu.UsageNanoCores.Value != 0 {
		t.Errorf("first sample: %v (usageNanoCores must be set, 0)", s.Cpu)
	}
	if s.Memory.WorkingSetBytes.Value != 300<<20 || s.Memory.CommitMemoryBytes.Value != 400<<20 || s.Memory.AvailableBytes.Value != (1<<30)-(300<<20) {
		t.Errorf("memory: %v", s.Memory)
	}
	// 1.5 cores over 2 s.
	if s := read(t0.Add(2*time.Second), 13e9); s.Cpu.UsageNanoCores.Value != 15e8 {
		t.Errorf("rate %d, want 1.5e9", s.Cpu.UsageNanoCores.Value)
	}
	// The container restarted: its counter starts over. No bogus rate.
	if s := read(t0.Add(3*time.Second), 1e8); s.Cpu.UsageNanoCores.Value != 0 {
		t.Errorf("rate across a counter reset: %d", s.Cpu.UsageNanoCores.Value)
	}
	if s := read(t0.Add(4*time.Second), 6e8); s.Cpu.UsageNanoCores.Value != 5e8 {
		t.Errorf("rate after the reset: %d, want 5e8", s.Cpu.UsageNanoCores.Value)
	}
	if s := p.WindowsContainerStats("gone", attrs, nil, 0); s.Cpu != nil || s.Attributes.Id != "c1" {
		t.Errorf("container without a reading: %v", s)
	}
}

func TestWindowsPodStats(t *testing.T) {
	p := NewSampler()
	t0 := time.Unix(2000, 0)
	ctr := func(id string, at time.Time, cpu, ws uint64) *runtimeapi.WindowsContainerStats {
		u, _, _ := FromRunhcsStats(runhcs(t, at, cpu, ws, ws, nil), at)
		return p.WindowsContainerStats(id, &runtimeapi.ContainerAttributes{Id: id}, u, 0)
	}
	pod := func(at time.Time, cs ...*runtimeapi.WindowsContainerStats) *runtimeapi.WindowsPodSandboxStats {
		return p.WindowsPodStats(WindowsPod{ID: "p", At: at, Containers: cs, Processes: 7,
			Endpoints: []EndpointStats{{Name: "eth0", BytesReceived: 100, BytesSent: 50, DroppedPacketsIncoming: 1}}}).Windows
	}
	w := pod(t0, ctr("a", t0, 1e9, 100), ctr("b", t0, 2e9, 200))
	if w.Cpu.UsageCoreNanoSeconds.Value != 3e9 || w.Memory.WorkingSetBytes.Value != 300 || w.Process.ProcessCount.Value != 7 ||
		w.Network.DefaultInterface.RxBytes.Value != 100 || w.Network.DefaultInterface.TxBytes.Value != 50 || len(w.Containers) != 2 {
		t.Errorf("pod: %v", w)
	}
	t1 := t0.Add(time.Second)
	if w := pod(t1, ctr("a", t1, 1.5e9, 100), ctr("b", t1, 2.5e9, 200)); w.Cpu.UsageNanoCores.Value != 1e9 {
		t.Errorf("pod rate %d, want 1e9", w.Cpu.UsageNanoCores.Value)
	}
	// b stopped between samples: only a is reported, and its rate is the
	// pod's.
	t2 := t1.Add(time.Second)
	if w := pod(t2, ctr("a", t2, 2e9, 100)); w.Cpu.UsageNanoCores.Value != 5e8 || len(w.Containers) != 1 {
		t.Errorf("after a container stopped: rate %d, %d containers", w.Cpu.UsageNanoCores.Value, len(w.Containers))
	}
	// Hyper-V pod: the utility VM's figures are the pod's.
	vm := &WindowsUsage{At: t2, CPU: 9e9, WorkingSet: 1 << 30}
	hv := p.WindowsPodStats(WindowsPod{ID: "hv", At: t2, VM: vm, Containers: []*runtimeapi.WindowsContainerStats{ctr("c", t2, 1e9, 10)}}).Windows
	if hv.Cpu.UsageCoreNanoSeconds.Value != 9e9 || hv.Memory.WorkingSetBytes.Value != 1<<30 || hv.Network != nil {
		t.Errorf("Hyper-V pod: %v", hv)
	}
}

func TestFromRunhcsStatsVM(t *testing.T) {
	now := time.Unix(3000, 0)
	a := runhcs(t, time.Time{}, 5, 6, 7, &hcsstats.VirtualMachineStatistics{
		Processor: &hcsstats.VirtualMachineProcessorStatistics{TotalRuntimeNS: 8e9},
		Memory:    &hcsstats.VirtualMachineMemoryStatistics{WorkingSetBytes: 512 << 20},
	})
	c, vm, err := FromRunhcsStats(a, now)
	if err != nil || vm == nil || vm.CPU != 8e9 || vm.WorkingSet != 512<<20 || c.CPU != 5 {
		t.Fatalf("container %v vm %v err %v", c, vm, err)
	}
	if _, _, err := FromRunhcsStats(&anypb.Any{TypeUrl: "nope", Value: []byte{1}}, now); err == nil {
		t.Error("garbage decoded")
	}
}

// TestWindowsPodStatsWithPause: the pause container counts in a process-
// isolated pod's total, as containerd sums it.
func TestWindowsPodStatsWithPause(t *testing.T) {
	p := NewSampler()
	at := time.Unix(3000, 0)
	u, _, _ := FromRunhcsStats(runhcs(t, at, 1e9, 100, 100, nil), at)
	c := p.WindowsContainerStats("a", &runtimeapi.ContainerAttributes{Id: "a"}, u, 0)
	w := p.WindowsPodStats(WindowsPod{ID: "p", At: at, Pause: &WindowsUsage{At: at, CPU: 5e8, WorkingSet: 20, Commit: 30}, Containers: []*runtimeapi.WindowsContainerStats{c}}).Windows
	if w.Cpu.UsageCoreNanoSeconds.Value != 1.5e9 || w.Memory.WorkingSetBytes.Value != 120 {
		t.Errorf("pod with pause: cpu %d, working set %d", w.Cpu.UsageCoreNanoSeconds.Value, w.Memory.WorkingSetBytes.Value)
	}
}

// TestWindowsPodRateWithStaleReadings: the pause is read at every call, a
// container's reading comes from the stats cache and may be older; the
// pod's rate stays the container's, never 0 while its reading is unchanged
// nor double when it catches up.
func TestWindowsPodRateWithStaleReadings(t *testing.T) {
	p := NewSampler()
	t0 := time.Unix(5000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ctr := func(s int, cpu uint64) *runtimeapi.WindowsContainerStats {
		u, _, _ := FromRunhcsStats(runhcs(t, at(s), cpu, 10, 10, nil), at(s))
		return p.WindowsContainerStats("c", &runtimeapi.ContainerAttributes{Id: "c"}, u, 0)
	}
	pod := func(s int, c *runtimeapi.WindowsContainerStats) uint64 {
		return p.WindowsPodStats(WindowsPod{ID: "p", At: at(s), Pause: &WindowsUsage{At: at(s), CPU: 1e6},
			Containers: []*runtimeapi.WindowsContainerStats{c}}).Windows.Cpu.UsageNanoCores.Value
	}
	pod(10, ctr(7, 0))
	for _, step := range []struct {
		now, read int
		cpu       uint64
	}{{15, 12, 1.25e9}, {20, 12, 1.25e9}, {25, 22, 3.75e9}} {
		if got := pod(step.now, ctr(step.read, step.cpu)); got != 2.5e8 {
			t.Errorf("at %ds (container read at %ds): pod rate %d, want 2.5e8", step.now, step.read, got)
		}
	}
}
