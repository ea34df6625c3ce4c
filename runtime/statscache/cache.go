// Package statscache keeps each object's last stats readings, so that
// kubelet's and HPA's frequent lists do not all wait for cgroups, shims and
// layer walks. A reading younger than its MaxAge is answered as it is; up to
// its StaleAge it is still answered at once while a new one is read in the
// background for the next list (as cAdvisor answers from its last
// housekeeping); older, the list waits for a new reading. Without this, the
// first list after a quiet second read every task of every pod through its
// shim while the caller waited: at 110 pods, ~0.9 s on 2 cores.
//
// Only live objects are kept: the cache asks its owner (Live) before it
// keeps a reading, so a reading that was in flight when its object was
// removed does not bring it back, and Prune drops whatever the owner no
// longer knows.
package statscache

import (
	"context"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/stats"
)

// CollectInterval is how often the owner's warm round (KeepWarm) re-reads
// what lists asked for before.
const CollectInterval = 5 * time.Second

// Cache holds the readings of one runtime's objects.
type Cache struct {
	// Sampler turns successive CPU readings into rates; its keys are the
	// cache's ids (a pod's id for its pause), and "pod:"+id for a Hyper-V
	// pod's utility VM.
	Sampler *stats.Sampler
	// Usage is tasks' CPU, memory and pids, by task id.
	Usage *Readings[stats.Usage]
	// Layers is containers' writable layers, by container id.
	Layers *Readings[*runtimeapi.FilesystemUsage]
	// Nets is pods' network counters, by pod id.
	Nets *Readings[*runtimeapi.NetworkUsage]

	live func(id string) bool
	mu   sync.Mutex
	// refreshing are the keys being read in the background; refreshSlots
	// bounds how many such reads run at once.
	refreshing   map[string]bool
	refreshSlots chan struct{}
}

// New returns an empty cache. live says whether an object (a container or
// pod id) still exists; a reading of one that does not is never kept.
func New(live func(id string) bool) *Cache {
	c := &Cache{
		Sampler:      stats.NewSampler(),
		live:         live,
		refreshing:   map[string]bool{},
		refreshSlots: make(chan struct{}, 1),
	}
	// The warm round renews usage and network readings every
	// CollectInterval: a list asks for a new reading only when that has not
	// happened, so 110 pods listed do not set off 330 reads that the next
	// list competes with. (Windows pods' network counters are read by the
	// lists: HCN endpoint statistics.)
	c.Usage = newReadings[stats.Usage](c, "usage", CollectInterval+time.Second, 15*time.Second)
	// Writable-layer sizes walk the layer: cAdvisor measures container disk
	// usage once a minute.
	c.Layers = newReadings[*runtimeapi.FilesystemUsage](c, "layer", 10*time.Second, time.Minute)
	c.Nets = newReadings[*runtimeapi.NetworkUsage](c, "net", CollectInterval+time.Second, 15*time.Second)
	return c
}

// Forget drops what is known of removed objects (container ids, pod ids,
// sampler keys). The owner calls it after the object is gone from what
// live answers.
func (c *Cache) Forget(ids ...string) {
	c.mu.Lock()
	for _, id := range ids {
		c.Usage.drop(id)
		c.Layers.drop(id)
		c.Nets.drop(id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		c.Sampler.Forget(id)
	}
}

// Prune drops the readings and CPU samples of every object live no longer
// knows (what a removal's Forget could not catch).
func (c *Cache) Prune() {
	c.mu.Lock()
	keep := map[string]bool{}
	for _, k := range []interface{ ids() []string }{c.Usage, c.Layers, c.Nets} {
		for _, id := range k.ids() {
			keep[id] = c.isLive(id)
		}
	}
	for id, ok := range keep {
		if !ok {
			c.Usage.drop(id)
			c.Layers.drop(id)
			c.Nets.drop(id)
		}
	}
	c.mu.Unlock()
	c.Sampler.KeepIf(c.isLive)
}

// isLive asks the owner about id (a sampler's "pod:" key names its pod).
func (c *Cache) isLive(id string) bool {
	return c.live == nil || c.live(strings.TrimPrefix(id, "pod:"))
}

// Refresh runs read for key in the background, once at a time per key.
func (c *Cache) Refresh(key string, read func(context.Context)) {
	c.mu.Lock()
	if c.refreshing[key] {
		c.mu.Unlock()
		return
	}
	c.refreshing[key] = true
	c.mu.Unlock()
	go func() {
		c.refreshSlots <- struct{}{}
		defer func() {
			<-c.refreshSlots
			c.mu.Lock()
			delete(c.refreshing, key)
			c.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		read(ctx)
	}()
}

// KeepWarm calls round every CollectInterval, then prunes what was removed,
// until stop is closed: so no list waits for a reading, and none is
// answered from a reading much older than the interval, however seldom
// kubelet lists (cAdvisor's housekeeping does the same).
func (c *Cache) KeepWarm(stop <-chan struct{}, round func(context.Context)) {
	t := time.NewTicker(CollectInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		round(context.Background())
		c.Prune()
	}
}
