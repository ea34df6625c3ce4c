package runtime

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/stats"
)

// statsMaxAge is how old a cached reading may be when answered as it is.
// Up to statsStaleAge it is still answered at once, and a fresh one is read
// in the background for the next list (as cAdvisor serves readings of its
// last housekeeping); older than that, the list waits for a new reading.
// Without this, the first list after a quiet second read every task of
// every pod through its shim while the caller waited: at 110 pods one list
// in twenty took ~0.9 s on 2 cores.
const (
	statsMaxAge   = time.Second
	statsStaleAge = 10 * time.Second
	// Writable-layer sizes walk the layer: re-measured in the background
	// after layerMaxAge, answered up to layerStaleAge old (cAdvisor
	// measures container disk usage once a minute).
	layerMaxAge   = 10 * time.Second
	layerStaleAge = time.Minute
)

// statsCache keeps each object's last reading, so that kubelet's and HPA's
// frequent lists do not all go to the shims. Writable-layer sizes are cached
// the same way: measuring walks the layer.
type statsCache struct {
	sampler *stats.Sampler
	mu      sync.Mutex
	usage   map[string]stats.Usage
	layers  map[string]layerUsage
	nets    map[string]netUsage // pod network readings, by pod id
	// refreshing are the ids being read in the background; refreshSlots
	// bounds how many such reads run at once.
	refreshing   map[string]bool
	refreshSlots chan struct{}
}

// fresh says whether a reading taken at may be answered, and whether it
// should be refreshed in the background, given how long it stays fresh
// (maxAge) and how long it may be answered stale (staleAge).
func fresh(at time.Time, maxAge, staleAge time.Duration) (answer, refresh bool) {
	age := time.Since(at)
	return age < staleAge, age >= maxAge
}

// refresh runs read for id in the background, once at a time per id.
func (c *statsCache) refresh(id string, read func(context.Context)) {
	c.mu.Lock()
	if c.refreshing[id] {
		c.mu.Unlock()
		return
	}
	c.refreshing[id] = true
	c.mu.Unlock()
	go func() {
		c.refreshSlots <- struct{}{}
		defer func() {
			<-c.refreshSlots
			c.mu.Lock()
			delete(c.refreshing, id)
			c.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		read(ctx)
	}()
}

type netUsage struct {
	at time.Time
	nu *runtimeapi.NetworkUsage
}

type layerUsage struct {
	at time.Time
	fs *runtimeapi.FilesystemUsage
}

func newStatsCache() *statsCache {
	return &statsCache{sampler: stats.NewSampler(), usage: map[string]stats.Usage{}, layers: map[string]layerUsage{}, nets: map[string]netUsage{},
		refreshing: map[string]bool{}, refreshSlots: make(chan struct{}, 1)}
}

// forget drops what is known of removed objects (container ids, pod ids).
func (c *statsCache) forget(ids ...string) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.usage, id)
		delete(c.layers, id)
		delete(c.nets, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		c.sampler.Forget(id)
	}
}

// taskUsage reads a task's CPU, memory and pids through its shim, from the
// cache when fresh. A task that is not there reads as invalid.
func (r *Runtime) taskUsage(ctx context.Context, podID, taskID string) stats.Usage {
	r.stats.mu.Lock()
	u, ok := r.stats.usage[taskID]
	r.stats.mu.Unlock()
	if ok {
		answer, refresh := fresh(u.At, statsMaxAge, statsStaleAge)
		if refresh {
			r.stats.refresh(taskID, func(ctx context.Context) { r.readTaskUsage(ctx, podID, taskID, true) })
		}
		if answer {
			return u
		}
	}
	return r.readTaskUsage(ctx, podID, taskID, false)
}

// readTaskUsage reads a task's usage through its shim into the cache; a
// background refresh (refreshing) stores it only if the task was not
// forgotten (removed) meanwhile.
func (r *Runtime) readTaskUsage(ctx context.Context, podID, taskID string, refreshing bool) stats.Usage {
	u, ok := r.readTaskDirect(podID, taskID, time.Now())
	if !ok {
		s := r.podShim(podID)
		if s == nil {
			return stats.Usage{}
		}
		resp, err := s.Task.Stats(ctx, &taskapi.StatsRequest{ID: taskID})
		if err != nil {
			return stats.Usage{}
		}
		if u, err = decodeShimStats(resp, time.Now()); err != nil {
			logErr(ctx, err, "decode task stats", "task", taskID)
			return stats.Usage{}
		}
	}
	r.stats.mu.Lock()
	if _, known := r.stats.usage[taskID]; known || !refreshing {
		r.stats.usage[taskID] = u
	}
	r.stats.mu.Unlock()
	return u
}

// ContainerStats reports one container's resource usage.
func (r *Runtime) ContainerStats(ctx context.Context, id string) (*runtimeapi.ContainerStats, error) {
	c, err := r.lookupContainer(id)
	if err != nil {
		return nil, err
	}
	return r.containerStats(ctx, c), nil
}

func (r *Runtime) containerStats(ctx context.Context, c *container) *runtimeapi.ContainerStats {
	rec := c.snapshot()
	cs := &runtimeapi.ContainerStats{Attributes: &runtimeapi.ContainerAttributes{
		Id: rec.Id, Metadata: c.cfg.GetMetadata(), Labels: c.cfg.GetLabels(), Annotations: c.cfg.GetAnnotations(),
	}}
	if rec.State == records.ContainerState_CONTAINER_CREATED || rec.State == records.ContainerState_CONTAINER_RUNNING {
		if u := r.taskUsage(ctx, rec.PodId, rec.Id); u.Valid() {
			cs.Cpu = r.stats.sampler.CPU(rec.Id, u)
			cs.Memory = u.Mem
		}
	}
	cs.WritableLayer = r.writableLayer(ctx, rec)
	return cs
}

// writableLayer measures a container's writable snapshot, from the cache
// when fresh (the answer is shared read-only between responses).
func (r *Runtime) writableLayer(ctx context.Context, rec *records.Container) *runtimeapi.FilesystemUsage {
	r.stats.mu.Lock()
	l, ok := r.stats.layers[rec.Id]
	r.stats.mu.Unlock()
	if ok {
		answer, refresh := fresh(l.at, layerMaxAge, layerStaleAge)
		if refresh {
			r.stats.refresh("layer:"+rec.Id, func(ctx context.Context) { r.readWritableLayer(ctx, rec, true) })
		}
		if answer {
			return l.fs
		}
	}
	return r.readWritableLayer(ctx, rec, false)
}

// readWritableLayer measures a container's writable snapshot into the cache
// (a background refresh only while the container is still known).
func (r *Runtime) readWritableLayer(ctx context.Context, rec *records.Container, refreshing bool) *runtimeapi.FilesystemUsage {
	sn := r.Images.Client().SnapshotService(r.Images.Snapshotter())
	u, err := sn.Usage(nsCtx(ctx), rec.SnapshotKey)
	if err != nil {
		return nil
	}
	now := time.Now()
	fs := &runtimeapi.FilesystemUsage{
		Timestamp:  now.UnixNano(),
		FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: r.Images.SnapshotRoot()},
		UsedBytes:  &runtimeapi.UInt64Value{Value: uint64(u.Size)},
		InodesUsed: &runtimeapi.UInt64Value{Value: uint64(u.Inodes)},
	}
	r.stats.mu.Lock()
	if _, known := r.stats.layers[rec.Id]; known || !refreshing {
		r.stats.layers[rec.Id] = layerUsage{at: now, fs: fs}
	}
	r.stats.mu.Unlock()
	return fs
}

// ListContainerStats reports the containers matching the filter, reading
// their shims in parallel.
func (r *Runtime) ListContainerStats(ctx context.Context, f *runtimeapi.ContainerStatsFilter) []*runtimeapi.ContainerStats {
	var ctrs []*container
	r.mu.RLock()
	for _, c := range r.ctrs {
		if f.GetId() != "" && !strings.HasPrefix(c.rec.Id, f.GetId()) {
			continue
		}
		if f.GetPodSandboxId() != "" && !strings.HasPrefix(c.podID, f.GetPodSandboxId()) {
			continue
		}
		if !matchLabels(f.GetLabelSelector(), c.cfg.GetLabels()) {
			continue
		}
		ctrs = append(ctrs, c)
	}
	r.mu.RUnlock()
	out := make([]*runtimeapi.ContainerStats, len(ctrs))
	parallel(len(ctrs), func(i int) { out[i] = r.containerStats(ctx, ctrs[i]) })
	return out
}

// parallel runs fn(0..n-1) on up to 8 goroutines. A panic in fn is raised
// again in the caller's goroutine (where the CRI server turns it into an
// Internal error) instead of ending the daemon.
func parallel(n int, fn func(int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	var panicked atomic.Pointer[string]
	for w := 0; w < min(n, 8); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					msg := fmt.Sprintf("%v\n%s", v, debug.Stack())
					panicked.CompareAndSwap(nil, &msg)
					for range work { // let the feeder finish
					}
				}
			}()
			for i := range work {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if msg := panicked.Load(); msg != nil {
		panic(*msg)
	}
}

// primeStats reads a started container's usage and writable layer in the
// background, so that the first stats list after it does not wait for them.
func (r *Runtime) primeStats(podID string, rec *records.Container) {
	r.stats.refresh(rec.Id, func(ctx context.Context) {
		r.readTaskUsage(ctx, podID, rec.Id, false)
		r.readWritableLayer(ctx, rec, false)
		r.primePodNetwork(podID, rec.Pid)
		if _, err := r.lookupContainer(rec.Id); err != nil {
			r.stats.forget(rec.Id) // removed meanwhile
		}
		if _, err := r.lookupPod(podID); err != nil {
			r.stats.forget(podID)
		}
	})
}

// statsCollectInterval is how often keepStatsWarm re-reads what lists asked
// for before.
const statsCollectInterval = 5 * time.Second

// keepStatsWarm re-reads, every statsCollectInterval, the usage of every
// task a stats list asked for before, from its cgroup (cheap: a few small
// files), so that no list waits for a reading (cAdvisor's housekeeping does
// the same). Tasks only the shim can read (Windows, systemd cgroups) are left
// to the lists. It returns when stop is closed.
func (r *Runtime) keepStatsWarm(stop <-chan struct{}) {
	t := time.NewTicker(statsCollectInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for _, c := range r.allContainers() {
			if rec := c.snapshot(); rec.State == records.ContainerState_CONTAINER_RUNNING {
				r.refreshDirect(rec.PodId, rec.Id)
			}
		}
		for _, p := range r.allPods() {
			if rec := p.snapshot(); !rec.NoPause && rec.State == records.PodState_POD_READY {
				r.refreshDirect(rec.Id, rec.Id)
			}
		}
	}
}

// refreshDirect re-reads a known task's usage from its cgroup.
func (r *Runtime) refreshDirect(podID, taskID string) {
	r.stats.mu.Lock()
	_, known := r.stats.usage[taskID]
	r.stats.mu.Unlock()
	if !known {
		return
	}
	if u, ok := r.readTaskDirect(podID, taskID, time.Now()); ok {
		r.stats.mu.Lock()
		if _, known := r.stats.usage[taskID]; known {
			r.stats.usage[taskID] = u
		}
		r.stats.mu.Unlock()
	}
}
