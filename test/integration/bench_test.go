//go:build linux

package integration

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

// BenchmarkListPodSandboxStats measures ListPodSandboxStats with N running
// pods of one container each (N from WINCRI_BENCH_PODS, default 100), as
// kubelet's summary API and HPA call it. Run with `make bench`.
func BenchmarkListPodSandboxStats(b *testing.B) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("WINCRI_BENCH_PODS")); err == nil && v > 0 {
		n = v
	}
	e := newPodEnv(b)
	defer e.removeAllB(b)
	start := time.Now()
	for i := range n {
		id, cfg := e.runPod(fmt.Sprintf("bench-%d", i))
		e.start(e.create(id, cfg, "sleeper", "sleep", "3600"))
	}
	b.Logf("started %d pods in %s", n, time.Since(start).Round(time.Millisecond))
	ctx := testutil.Ctx(b)
	b.ResetTimer()
	for range b.N {
		resp, err := e.d.Runtime.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{})
		if err != nil || len(resp.Stats) != n {
			b.Fatalf("ListPodSandboxStats: %d stats, %v", len(resp.GetStats()), err)
		}
	}
}

func (e *podEnv) removeAllB(b *testing.B) {
	b.StopTimer()
	e.removeAll()
}
