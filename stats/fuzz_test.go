package stats

import (
	"testing"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/types/known/anypb"
)

// FuzzShimStats: whatever bytes a shim returns as stats decode or fail.
func FuzzShimStats(f *testing.F) {
	a, _ := typeurl.MarshalAnyToProto(&v1.Metrics{CPU: &v1.CPUStat{Usage: &v1.CPUUsage{Total: 5}}})
	f.Add(a.GetTypeUrl(), a.GetValue())
	f.Add("containerd.runhcs.v1.stats.Statistics", []byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, url string, value []byte) {
		any := &anypb.Any{TypeUrl: url, Value: value}
		FromShimMetrics(any, time.Now())
		var s ContainerSample
		SampleFromShimMetrics(any, &s)
		if c, vm, err := FromRunhcsStats(any, time.Now()); err == nil {
			NewSampler().WindowsContainerStats("c", nil, c, 1)
			_ = vm
		}
	})
}
