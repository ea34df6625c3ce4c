package stats

import (
	"testing"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/proto"
)

func TestFromShimMetrics(t *testing.T) {
	at := time.Unix(10, 0)
	for _, tc := range []struct {
		name string
		m    proto.Message
	}{
		{"v1", &v1.Metrics{
			CPU:    &v1.CPUStat{Usage: &v1.CPUUsage{Total: 3e9}},
			Memory: &v1.MemoryStat{Usage: &v1.MemoryEntry{Usage: 100 << 20, Limit: 200 << 20}, TotalInactiveFile: 30 << 20, TotalRSS: 60 << 20, TotalPgFault: 7, TotalPgMajFault: 1},
			Pids:   &v1.PidsStat{Current: 4},
		}},
		{"v2", &v2.Metrics{
			CPU:    &v2.CPUStat{UsageUsec: 3e6},
			Memory: &v2.MemoryStat{Usage: 100 << 20, UsageLimit: 200 << 20, InactiveFile: 30 << 20, Anon: 60 << 20, Pgfault: 7, Pgmajfault: 1},
			Pids:   &v2.PidsStat{Current: 4},
		}},
	} {
		a, err := typeurl.MarshalAnyToProto(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		u, err := FromShimMetrics(a, at)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if u.CPU != 3e9 || u.Pids != 4 || u.Mem.WorkingSetBytes.Value != 70<<20 || u.Mem.AvailableBytes.GetValue() != 130<<20 ||
			u.Mem.RssBytes.Value != 60<<20 || u.Mem.PageFaults.Value != 7 || u.Mem.MajorPageFaults.Value != 1 {
			t.Errorf("%s: %+v", tc.name, u)
		}
	}
	// No limit: no available bytes; inactive above usage: working set 0.
	m := memoryUsage(at, 10, 20, ^uint64(0), 0, 0, 0)
	if m.AvailableBytes != nil || m.WorkingSetBytes.Value != 0 {
		t.Errorf("unlimited: %+v", m)
	}
}

// A pod without pause starts its sum from an empty reading.
func TestAddToEmpty(t *testing.T) {
	at := time.Unix(10, 0)
	c := Usage{At: at, CPU: 5, Pids: 2, valid: true, Mem: memoryUsage(at, 100, 10, 0, 50, 3, 1)}
	sum := Usage{At: at.Add(-time.Second)}.Add(c)
	if !sum.Valid() || sum.CPU != 5 || sum.Pids != 2 || sum.Mem.WorkingSetBytes.GetValue() != 90 || sum.Mem.RssBytes.GetValue() != 50 || !sum.At.Equal(at) {
		t.Errorf("empty + container = %+v", sum)
	}
}
