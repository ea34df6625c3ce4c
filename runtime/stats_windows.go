package runtime

import (
	"fmt"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/stats"
)

// decodeShimStats for the runhcs shim's statistics comes with the Windows work.
func decodeShimStats(*taskapi.StatsResponse, time.Time) (stats.Usage, error) {
	return stats.Usage{}, fmt.Errorf("windows stats: %w", errdefs.ErrNotImplemented)
}

func podNetwork(uint32, bool) *runtimeapi.NetworkUsage { return nil }
