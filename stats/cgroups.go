package stats

import (
	"fmt"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/types/known/anypb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Usage is one reading of a Linux container's CPU and memory.
type Usage struct {
	At    time.Time
	CPU   uint64 // cumulative CPU time, ns
	Mem   *runtimeapi.MemoryUsage
	Pids  uint64
	valid bool
}

// FromShimMetrics decodes the shim's Stats payload: cgroup v1 or v2 metrics.
func FromShimMetrics(a *anypb.Any, at time.Time) (Usage, error) {
	v, err := typeurl.UnmarshalAny(a)
	if err != nil {
		return Usage{}, fmt.Errorf("decode shim metrics: %w", err)
	}
	switch m := v.(type) {
	case *v1.Metrics:
		return fromV1(m, at), nil
	case *v2.Metrics:
		return fromV2(m, at), nil
	}
	return Usage{}, fmt.Errorf("unexpected shim metrics type %T", v)
}

func fromV1(m *v1.Metrics, at time.Time) Usage {
	u := Usage{At: at, CPU: m.GetCPU().GetUsage().GetTotal(), Pids: m.GetPids().GetCurrent(), valid: true}
	mem := m.GetMemory()
	u.Mem = memoryUsage(at, mem.GetUsage().GetUsage(), mem.GetTotalInactiveFile(), mem.GetUsage().GetLimit(),
		mem.GetTotalRSS(), mem.GetTotalPgFault(), mem.GetTotalPgMajFault())
	return u
}

func fromV2(m *v2.Metrics, at time.Time) Usage {
	u := Usage{At: at, CPU: m.GetCPU().GetUsageUsec() * 1000, Pids: m.GetPids().GetCurrent(), valid: true}
	mem := m.GetMemory()
	u.Mem = memoryUsage(at, mem.GetUsage(), mem.GetInactiveFile(), mem.GetUsageLimit(),
		mem.GetAnon(), mem.GetPgfault(), mem.GetPgmajfault())
	return u
}

// memoryUsage computes CRI's memory figures the way cAdvisor does: the
// working set is usage less inactive file cache.
func memoryUsage(at time.Time, usage, inactiveFile, limit, rss, faults, majFaults uint64) *runtimeapi.MemoryUsage {
	ws := workingSet(usage, inactiveFile)
	m := &runtimeapi.MemoryUsage{
		Timestamp:       at.UnixNano(),
		WorkingSetBytes: &runtimeapi.UInt64Value{Value: ws},
		UsageBytes:      &runtimeapi.UInt64Value{Value: usage},
		RssBytes:        &runtimeapi.UInt64Value{Value: rss},
		PageFaults:      &runtimeapi.UInt64Value{Value: faults},
		MajorPageFaults: &runtimeapi.UInt64Value{Value: majFaults},
	}
	// No limit reads as the largest value the kernel reports; no "available" then.
	if limit > 0 && limit < 1<<62 && limit > ws {
		m.AvailableBytes = &runtimeapi.UInt64Value{Value: limit - ws}
	}
	return m
}

// Empty is a reading of nothing running: zero CPU, memory and processes.
func Empty(at time.Time) Usage {
	return Usage{At: at, Mem: memoryUsage(at, 0, 0, 0, 0, 0, 0), valid: true}
}

// Valid says whether the reading holds data.
func (u Usage) Valid() bool { return u.valid }

// CPU renders a CPU reading with the sampler's rate (always set: 0 until a
// second sample exists, so HPA never sees the field missing).
func (p *Sampler) CPU(id string, u Usage) *runtimeapi.CpuUsage {
	c := &runtimeapi.CpuUsage{Timestamp: u.At.UnixNano(), UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: u.CPU}}
	rate, _ := p.Rate(id, CPUSample{At: u.At, Usage: u.CPU})
	c.UsageNanoCores = &runtimeapi.UInt64Value{Value: rate}
	return c
}

// Member is one reading of a pod's member (its pause or a container) by
// the id its rate is sampled under.
type Member struct {
	ID    string
	Usage Usage
}

// PodUsage sums the members' valid readings into the pod's reading (Empty
// at now when none has one) and renders its CPU. The pod's rate is the sum
// of its members' rates, each from that member's own successive readings:
// the members are read at different times (each refreshes in the stats
// cache on its own), so their sum has no one timestamp a rate could be
// taken over; a rate of the sum would read 0 while one member's reading is
// unchanged and twice the truth when it catches up.
func (p *Sampler) PodUsage(members []Member, now time.Time) (Usage, *runtimeapi.CpuUsage) {
	var total Usage
	var rate uint64
	for _, m := range members {
		if !m.Usage.Valid() {
			continue
		}
		r, _ := p.Rate(m.ID, CPUSample{At: m.Usage.At, Usage: m.Usage.CPU})
		rate += r
		if total.Valid() {
			total = total.Add(m.Usage)
		} else {
			total = m.Usage
		}
	}
	if !total.Valid() {
		total = Empty(now)
	}
	return total, &runtimeapi.CpuUsage{Timestamp: total.At.UnixNano(),
		UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: total.CPU}, UsageNanoCores: &runtimeapi.UInt64Value{Value: rate}}
}

// Add sums two readings (a pod's containers); the later timestamp wins.
// Either may be empty (no memory reading yet).
func (u Usage) Add(o Usage) Usage {
	add := func(a, b *runtimeapi.UInt64Value) *runtimeapi.UInt64Value {
		return &runtimeapi.UInt64Value{Value: a.GetValue() + b.GetValue()}
	}
	s := Usage{At: u.At, CPU: u.CPU + o.CPU, Pids: u.Pids + o.Pids, valid: true}
	if o.At.After(s.At) {
		s.At = o.At
	}
	s.Mem = &runtimeapi.MemoryUsage{
		Timestamp:       s.At.UnixNano(),
		WorkingSetBytes: add(u.Mem.GetWorkingSetBytes(), o.Mem.GetWorkingSetBytes()),
		UsageBytes:      add(u.Mem.GetUsageBytes(), o.Mem.GetUsageBytes()),
		RssBytes:        add(u.Mem.GetRssBytes(), o.Mem.GetRssBytes()),
		PageFaults:      add(u.Mem.GetPageFaults(), o.Mem.GetPageFaults()),
		MajorPageFaults: add(u.Mem.GetMajorPageFaults(), o.Mem.GetMajorPageFaults()),
	}
	return s
}
