package runtime

import (
	"fmt"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/stats"
)

// decodeShimStats reads the runhcs shim's statistics into the shared shape:
// CPU time, working set (and commit as usage).
func decodeShimStats(resp *taskapi.StatsResponse, at time.Time) (stats.Usage, error) {
	c, _, err := stats.FromRunhcsStats(resp.GetStats(), at)
	if err != nil {
		return stats.Usage{}, err
	}
	if c == nil {
		return stats.Usage{}, fmt.Errorf("runhcs stats without a Windows container reading")
	}
	return stats.WindowsToUsage(c), nil
}

// readTaskDirect: Windows statistics come from the shim (HCS) only.
func (r *Runtime) readTaskDirect(string, string, time.Time) (stats.Usage, bool) {
	return stats.Usage{}, false
}

// primePodNetwork: a Windows pod's HCN endpoint counters are read by the lists.
func (r *Runtime) primePodNetwork(string, uint32) {}

// warmPodNetwork: a Windows pod's HCN endpoint counters are read by the lists.
func (r *Runtime) warmPodNetwork(*records.Pod) {}
