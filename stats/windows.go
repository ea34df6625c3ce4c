package stats

import (
	"fmt"
	"time"

	hcsstats "github.com/Microsoft/hcsshim/cmd/containerd-shim-runhcs-v1/stats"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/types/known/anypb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// WindowsUsage is one reading of a Windows container, or of the utility VM
// of a Hyper-V pod.
type WindowsUsage struct {
	At                             time.Time
	CPU                            uint64 // cumulative CPU time, ns
	WorkingSet, Commit, CommitPeak uint64
}

// FromRunhcsStats decodes the runhcs shim's Stats payload: the container's
// reading, and the utility VM's for a Hyper-V pod (nil otherwise). A
// reading without a timestamp is taken at now.
func FromRunhcsStats(a *anypb.Any, now time.Time) (*WindowsUsage, *WindowsUsage, error) {
	v, err := typeurl.UnmarshalAny(a)
	if err != nil {
		return nil, nil, fmt.Errorf("decode runhcs stats: %w", err)
	}
	st, ok := v.(*hcsstats.Statistics)
	if !ok {
		return nil, nil, fmt.Errorf("unexpected runhcs stats type %T", v)
	}
	var ctr, vm *WindowsUsage
	if w := st.GetWindows(); w != nil {
		at := now
		if ts := w.GetTimestamp(); ts != nil && ts.IsValid() && !ts.AsTime().IsZero() {
			at = ts.AsTime()
		}
		ctr = &WindowsUsage{At: at, CPU: w.GetProcessor().GetTotalRuntimeNS(),
			WorkingSet: w.GetMemory().GetMemoryUsagePrivateWorkingSetBytes(),
			Commit:     w.GetMemory().GetMemoryUsageCommitBytes(), CommitPeak: w.GetMemory().GetMemoryUsageCommitPeakBytes()}
	}
	if m := st.GetVM(); m != nil {
		vm = &WindowsUsage{At: now, CPU: m.GetProcessor().GetTotalRuntimeNS(), WorkingSet: m.GetMemory().GetWorkingSetBytes()}
	}
	return ctr, vm, nil
}

// WindowsContainerStats renders a container's reading; memLimit (0 for
// none) gives availableBytes. usageNanoCores is always set (0 until the
// sampler has a previous reading).
func (p *Sampler) WindowsContainerStats(id string, attrs *runtimeapi.ContainerAttributes, u *WindowsUsage, memLimit uint64) *runtimeapi.WindowsContainerStats {
	s := &runtimeapi.WindowsContainerStats{Attributes: attrs}
	if u == nil {
		return s
	}
	s.Cpu = p.windowsCPU(id, u)
	s.Memory = windowsMemory(u, memLimit)
	return s
}

func (p *Sampler) windowsCPU(id string, u *WindowsUsage) *runtimeapi.WindowsCpuUsage {
	rate, _ := p.Rate(id, CPUSample{At: u.At, Usage: u.CPU})
	return &runtimeapi.WindowsCpuUsage{Timestamp: u.At.UnixNano(),
		UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: u.CPU}, UsageNanoCores: &runtimeapi.UInt64Value{Value: rate}}
}

func windowsMemory(u *WindowsUsage, limit uint64) *runtimeapi.WindowsMemoryUsage {
	m := &runtimeapi.WindowsMemoryUsage{Timestamp: u.At.UnixNano(),
		WorkingSetBytes: &runtimeapi.UInt64Value{Value: u.WorkingSet}, CommitMemoryBytes: &runtimeapi.UInt64Value{Value: u.Commit}}
	if limit > u.WorkingSet {
		m.AvailableBytes = &runtimeapi.UInt64Value{Value: limit - u.WorkingSet}
	}
	return m
}

// EndpointStats are an HCN endpoint's counters.
type EndpointStats struct {
	Name                                           string
	BytesReceived, BytesSent                       uint64
	DroppedPacketsIncoming, DroppedPacketsOutgoing uint64
}

// WindowsPod is what a Windows pod's stats are made of.
type WindowsPod struct {
	ID         string
	Attributes *runtimeapi.PodSandboxAttributes
	// Containers are the pod's containers that have a reading now.
	Containers []*runtimeapi.WindowsContainerStats
	// Pause is the pause container's reading (nil when it has none); it
	// counts in the pod's total, as in containerd's.
	Pause *WindowsUsage
	// VM is the utility VM's reading (Hyper-V pods), nil otherwise.
	VM        *WindowsUsage
	Endpoints []EndpointStats
	Processes uint64
	At        time.Time
}

// WindowsPodStats renders a pod: CPU and memory are the utility VM's for a
// Hyper-V pod, else the sum of its pause's and its containers'. The sum's
// rate is the sum of their rates (see PodUsage: the containers' readings
// come from the stats cache, each taken at its own time; the pause's rate
// is sampled under the pod's id), so a container that stopped since the
// last reading only drops out of it.
func (p *Sampler) WindowsPodStats(pod WindowsPod) *runtimeapi.PodSandboxStats {
	var cpu *runtimeapi.WindowsCpuUsage
	total := pod.VM
	if total != nil {
		cpu = p.windowsCPU("pod:"+pod.ID, total)
	} else {
		total = &WindowsUsage{At: pod.At}
		var rate uint64
		if pod.Pause != nil {
			total.CPU, total.WorkingSet, total.Commit = pod.Pause.CPU, pod.Pause.WorkingSet, pod.Pause.Commit
			rate, _ = p.Rate(pod.ID, CPUSample{At: pod.Pause.At, Usage: pod.Pause.CPU})
		}
		for _, c := range pod.Containers {
			total.CPU += c.GetCpu().GetUsageCoreNanoSeconds().GetValue()
			rate += c.GetCpu().GetUsageNanoCores().GetValue()
			total.WorkingSet += c.GetMemory().GetWorkingSetBytes().GetValue()
			total.Commit += c.GetMemory().GetCommitMemoryBytes().GetValue()
		}
		cpu = &runtimeapi.WindowsCpuUsage{Timestamp: total.At.UnixNano(),
			UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: total.CPU}, UsageNanoCores: &runtimeapi.UInt64Value{Value: rate}}
	}
	w := &runtimeapi.WindowsPodSandboxStats{
		Cpu:        cpu,
		Memory:     windowsMemory(total, 0),
		Process:    &runtimeapi.WindowsProcessUsage{Timestamp: pod.At.UnixNano(), ProcessCount: &runtimeapi.UInt64Value{Value: pod.Processes}},
		Containers: pod.Containers,
	}
	if len(pod.Endpoints) > 0 {
		w.Network = &runtimeapi.WindowsNetworkUsage{Timestamp: pod.At.UnixNano()}
		for i, e := range pod.Endpoints {
			iface := &runtimeapi.WindowsNetworkInterfaceUsage{Name: e.Name,
				RxBytes: &runtimeapi.UInt64Value{Value: e.BytesReceived}, RxPacketsDropped: &runtimeapi.UInt64Value{Value: e.DroppedPacketsIncoming},
				TxBytes: &runtimeapi.UInt64Value{Value: e.BytesSent}, TxPacketsDropped: &runtimeapi.UInt64Value{Value: e.DroppedPacketsOutgoing}}
			if i == 0 {
				w.Network.DefaultInterface = iface
			} else {
				w.Network.Interfaces = append(w.Network.Interfaces, iface)
			}
		}
	}
	return &runtimeapi.PodSandboxStats{Attributes: pod.Attributes, Windows: w}
}

// WindowsToUsage puts a Windows reading in the shape ListContainerStats
// reports for every platform (commit as usage).
func WindowsToUsage(w *WindowsUsage) Usage {
	return Usage{At: w.At, CPU: w.CPU, valid: true, Mem: &runtimeapi.MemoryUsage{
		Timestamp:       w.At.UnixNano(),
		WorkingSetBytes: &runtimeapi.UInt64Value{Value: w.WorkingSet},
		UsageBytes:      &runtimeapi.UInt64Value{Value: w.Commit},
	}}
}
