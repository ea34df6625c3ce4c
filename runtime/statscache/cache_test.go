package statscache

import (
	"context"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/stats"
)

// objects stands in for the runtime's containers and pods.
type objects struct {
	mu sync.Mutex
	m  map[string]bool
}

func (o *objects) live(id string) bool { o.mu.Lock(); defer o.mu.Unlock(); return o.m[id] }
func (o *objects) remove(id string)    { o.mu.Lock(); delete(o.m, id); o.mu.Unlock() }

func newObjects(ids ...string) *objects {
	o := &objects{m: map[string]bool{}}
	for _, id := range ids {
		o.m[id] = true
	}
	return o
}

// Removed containers and pods must not stay in the cache, nor come back
// with a background read that ends after their removal.
func TestForget(t *testing.T) {
	o := newObjects("ctr", "pod", "other")
	c := New(o.live)
	for _, id := range []string{"ctr", "pod", "other"} {
		c.Usage.Put(id, stats.Usage{At: time.Now()}, false)
		c.Layers.Put(id, &runtimeapi.FilesystemUsage{}, false)
		c.Nets.Put(id, &runtimeapi.NetworkUsage{}, false)
	}
	o.remove("ctr")
	o.remove("pod")
	c.Forget("ctr", "pod", "pod:pod")
	if len(c.Usage.m) != 1 || len(c.Layers.m) != 1 || len(c.Nets.m) != 1 {
		t.Fatalf("after forget: %d usages, %d layers, %d nets; want only %q left", len(c.Usage.m), len(c.Layers.m), len(c.Nets.m), "other")
	}
	if !c.Usage.Has("other") {
		t.Fatal("forget dropped an object that was not removed")
	}
	c.Usage.Put("ctr", stats.Usage{}, true) // a background read finishing late
	if c.Usage.Has("ctr") {
		t.Fatal("a background read brought a removed container back")
	}
}

// A list's own read (not a background one) that was in flight while its
// container was removed must not put the container back: nothing would
// ever remove it again.
func TestReadInFlightAtRemoval(t *testing.T) {
	o := newObjects("ctr")
	c := New(o.live)
	reading, removed := make(chan struct{}), make(chan struct{})
	done := make(chan stats.Usage)
	go func() {
		done <- c.Usage.Get(context.Background(), "ctr", func(context.Context) (stats.Usage, bool) {
			close(reading)
			<-removed
			return stats.Usage{At: time.Now()}, true
		})
	}()
	<-reading
	o.remove("ctr")
	c.Forget("ctr")
	close(removed)
	<-done
	if c.Usage.Has("ctr") {
		t.Fatal("a read in flight at the container's removal put its reading back")
	}
	for _, k := range []func(){
		func() { c.Layers.Put("ctr", &runtimeapi.FilesystemUsage{}, false) },
		func() { c.Nets.Put("ctr", &runtimeapi.NetworkUsage{}, false) },
	} {
		k()
	}
	if c.Layers.Has("ctr") || c.Nets.Has("ctr") {
		t.Fatal("a reading of a removed object was kept")
	}
}

// Prune drops readings and CPU samples of objects that are gone, whatever
// put them there (a sampler's rate computed by a list after the removal).
func TestPrune(t *testing.T) {
	o := newObjects("ctr", "pod")
	c := New(o.live)
	c.Usage.Put("ctr", stats.Usage{At: time.Now()}, false)
	c.Sampler.Rate("ctr", stats.CPUSample{At: time.Now(), Usage: 1})
	c.Sampler.Rate("pod:pod", stats.CPUSample{At: time.Now(), Usage: 1})
	o.remove("ctr")
	o.remove("pod")
	c.Sampler.Rate("ctr", stats.CPUSample{At: time.Now().Add(time.Second), Usage: 2}) // after the removal
	c.Prune()
	if c.Usage.Has("ctr") || c.Sampler.Len() != 0 {
		t.Fatalf("after prune: usage kept %v, %d sampler entries; want none", c.Usage.Has("ctr"), c.Sampler.Len())
	}
}

// Fresh readings are answered as they are, stale ones at once with a new
// one read in the background, too old ones waited for.
func TestCachedReadings(t *testing.T) {
	c := New(newObjects("a").live)
	k := newReadings[int](c, "n", time.Hour, 2*time.Hour)
	reads := 0
	read := func(context.Context) (int, bool) { reads++; return reads, true }
	if v := k.Get(context.Background(), "a", read); v != 1 {
		t.Fatalf("first get: %d", v)
	}
	if v := k.Get(context.Background(), "a", read); v != 1 || reads != 1 {
		t.Fatalf("fresh get read again: %d (%d reads)", v, reads)
	}
	k.PutAt("a", 1, time.Now().Add(-90*time.Minute)) // stale
	done := make(chan int, 1)
	bg := func(context.Context) (int, bool) { done <- 2; return 2, true }
	if v := k.Get(context.Background(), "a", bg); v != 1 {
		t.Fatalf("stale get must answer the cached reading at once, got %d", v)
	}
	<-done
	waitUntil(t, func() bool { v, _ := k.Peek("a"); return v == 2 })
	k.PutAt("a", 2, time.Now().Add(-3*time.Hour)) // too old
	if v := k.Get(context.Background(), "a", func(context.Context) (int, bool) { return 3, true }); v != 3 {
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
