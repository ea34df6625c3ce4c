package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/stats"
)

// Removed containers and pods must not stay in the stats cache.
func TestStatsCacheForget(t *testing.T) {
	c := newStatsCache()
	now := time.Now()
	for _, id := range []string{"ctr", "pod", "pod:pod", "other"} {
		c.usage[id] = stats.Usage{At: now}
		c.layers[id] = layerUsage{at: now, fs: &runtimeapi.FilesystemUsage{}}
	}
	c.forget("ctr", "pod", "pod:pod")
	if len(c.usage) != 1 || len(c.layers) != 1 {
		t.Fatalf("after forget: %d usages, %d layers; want only %q left", len(c.usage), len(c.layers), "other")
	}
	if _, ok := c.usage["other"]; !ok {
		t.Fatal("forget dropped an object that was not removed")
	}
}

// A panic in one of parallel's goroutines reaches the caller, which the
// CRI server recovers from, instead of ending the process.
func TestParallelRaisesPanicInCaller(t *testing.T) {
	defer func() {
		if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "boom 7") {
			t.Errorf("recovered %v, want the panic of item 7", v)
		}
	}()
	parallel(20, func(i int) {
		if i == 7 {
			panic("boom 7")
		}
	})
	t.Error("parallel returned")
}
