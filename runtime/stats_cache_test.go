package runtime

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/stats"
)

// Removed containers and pods must not stay in the stats cache, nor come
// back with a background read that ends after their removal.
func TestStatsCacheForget(t *testing.T) {
	c := newStatsCache()
	for _, id := range []string{"ctr", "pod", "pod:pod", "other"} {
		c.usage.put(c, id, stats.Usage{At: time.Now()}, false)
		c.layers.put(c, id, &runtimeapi.FilesystemUsage{}, false)
		c.nets.put(c, id, &runtimeapi.NetworkUsage{}, false)
	}
	c.forget("ctr", "pod", "pod:pod")
	if len(c.usage.m) != 1 || len(c.layers.m) != 1 || len(c.nets.m) != 1 {
		t.Fatalf("after forget: %d usages, %d layers, %d nets; want only %q left", len(c.usage.m), len(c.layers.m), len(c.nets.m), "other")
	}
	if !c.usage.has(c, "other") {
		t.Fatal("forget dropped an object that was not removed")
	}
	c.usage.put(c, "ctr", stats.Usage{}, true) // a background read finishing late
	if c.usage.has(c, "ctr") {
		t.Fatal("a background read brought a removed container back")
	}
}

// TestCachedReadings: fresh readings are answered as they are, stale ones
// at once with a new one read in the background, too old ones waited for.
func TestCachedReadings(t *testing.T) {
	c := newStatsCache()
	k := &cachedReadings[int]{name: "n", maxAge: time.Hour, staleAge: 2 * time.Hour}
	reads := 0
	read := func(context.Context) (int, bool) { reads++; return reads, true }
	if v := k.get(context.Background(), c, "a", read); v != 1 {
		t.Fatalf("first get: %d", v)
	}
	if v := k.get(context.Background(), c, "a", read); v != 1 || reads != 1 {
		t.Fatalf("fresh get read again: %d (%d reads)", v, reads)
	}
	k.m["a"] = reading[int]{at: time.Now().Add(-90 * time.Minute), v: 1} // stale
	done := make(chan int, 1)
	bg := func(context.Context) (int, bool) { done <- 2; return 2, true }
	if v := k.get(context.Background(), c, "a", bg); v != 1 {
		t.Fatalf("stale get must answer the cached reading at once, got %d", v)
	}
	<-done
	waitUntil(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return k.m["a"].v == 2 })
	k.m["a"] = reading[int]{at: time.Now().Add(-3 * time.Hour), v: 2} // too old
	if v := k.get(context.Background(), c, "a", func(context.Context) (int, bool) { return 3, true }); v != 3 {
		t.Fatalf("too old a reading must be read again, got %d", v)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
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
