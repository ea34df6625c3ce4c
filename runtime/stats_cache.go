package runtime

import (
	"context"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/stats"
)

// statsCache keeps each object's last readings, so that kubelet's and HPA's
// frequent lists do not all wait for cgroups, shims and layer walks. A
// reading younger than its maxAge is answered as it is; up to its staleAge it
// is still answered at once while a new one is read in the background for
// the next list (as cAdvisor answers from its last housekeeping); older, the
// list waits for a new reading. Without this, the first list after a quiet
// second read every task of every pod through its shim while the caller
// waited: at 110 pods, ~0.9 s on 2 cores.
type statsCache struct {
	sampler *stats.Sampler
	mu      sync.Mutex
	usage   cachedReadings[stats.Usage]                 // by task id
	layers  cachedReadings[*runtimeapi.FilesystemUsage] // writable layers, by container id
	nets    cachedReadings[*runtimeapi.NetworkUsage]    // by pod id
	// refreshing are the keys being read in the background; refreshSlots
	// bounds how many such reads run at once.
	refreshing   map[string]bool
	refreshSlots chan struct{}
}

func newStatsCache() *statsCache {
	return &statsCache{
		sampler: stats.NewSampler(),
		// keepStatsWarm renews usage and network readings every
		// statsCollectInterval: a list asks for a new reading only when that
		// has not happened, so 110 pods listed do not set off 330 reads that
		// the next list competes with. (Windows pods' network counters are
		// read by the lists: HCN endpoint statistics.)
		usage: cachedReadings[stats.Usage]{name: "usage", maxAge: statsCollectInterval + time.Second, staleAge: 15 * time.Second},
		// Writable-layer sizes walk the layer: cAdvisor measures container
		// disk usage once a minute.
		layers:       cachedReadings[*runtimeapi.FilesystemUsage]{name: "layer", maxAge: 10 * time.Second, staleAge: time.Minute},
		nets:         cachedReadings[*runtimeapi.NetworkUsage]{name: "net", maxAge: statsCollectInterval + time.Second, staleAge: 15 * time.Second},
		refreshing:   map[string]bool{},
		refreshSlots: make(chan struct{}, 1),
	}
}

// forget drops what is known of removed objects (container ids, pod ids).
func (c *statsCache) forget(ids ...string) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.usage.m, id)
		delete(c.layers.m, id)
		delete(c.nets.m, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		c.sampler.Forget(id)
	}
}

// refresh runs read for key in the background, once at a time per key.
func (c *statsCache) refresh(key string, read func(context.Context)) {
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

// cachedReadings are one kind of reading, by object id (guarded by the
// cache's mu).
type cachedReadings[T any] struct {
	name             string
	maxAge, staleAge time.Duration
	m                map[string]reading[T]
}

type reading[T any] struct {
	at time.Time
	v  T
}

// get answers id's reading as the cache's rules say (see statsCache); read
// takes a new one, reporting false when it got none (then nothing is kept).
func (k *cachedReadings[T]) get(ctx context.Context, c *statsCache, id string, read func(context.Context) (T, bool)) T {
	c.mu.Lock()
	r, ok := k.m[id]
	c.mu.Unlock()
	if ok {
		age := time.Since(r.at)
		if age >= k.maxAge {
			c.refresh(k.name+":"+id, func(ctx context.Context) {
				if v, ok := read(ctx); ok {
					k.put(c, id, v, true)
				}
			})
		}
		if age < k.staleAge {
			return r.v
		}
	}
	v, ok := read(ctx)
	if ok {
		k.put(c, id, v, false)
	}
	return v
}

// put keeps a reading of id; a background one (refreshing) only while id is
// still known: a removed object is not brought back.
func (k *cachedReadings[T]) put(c *statsCache, id string, v T, refreshing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, known := k.m[id]; known || !refreshing {
		if k.m == nil {
			k.m = map[string]reading[T]{}
		}
		k.m[id] = reading[T]{at: time.Now(), v: v}
	}
}

// has says whether a reading of id is kept.
func (k *cachedReadings[T]) has(c *statsCache, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := k.m[id]
	return ok
}

// age says how old id's reading is, if one is kept.
func (k *cachedReadings[T]) age(c *statsCache, id string) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := k.m[id]
	return time.Since(r.at), ok
}
