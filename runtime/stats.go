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

// statsMaxAge is how old a cached reading may be when answered.
const statsMaxAge = time.Second

// statsCache keeps each object's last reading for statsMaxAge, so that
// kubelet's and HPA's frequent lists do not all go to the shims.
// Writable-layer sizes are cached the same way: measuring walks the layer.
type statsCache struct {
	sampler *stats.Sampler
	mu      sync.Mutex
	usage   map[string]stats.Usage
	layers  map[string]layerUsage
}

type layerUsage struct {
	at time.Time
	fs *runtimeapi.FilesystemUsage
}

func newStatsCache() *statsCache {
	return &statsCache{sampler: stats.NewSampler(), usage: map[string]stats.Usage{}, layers: map[string]layerUsage{}}
}

// forget drops what is known of removed objects (container ids, pod ids).
func (c *statsCache) forget(ids ...string) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.usage, id)
		delete(c.layers, id)
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
	if ok && time.Since(u.At) < statsMaxAge {
		return u
	}
	s := r.podShim(podID)
	if s == nil {
		return stats.Usage{}
	}
	resp, err := s.Task.Stats(ctx, &taskapi.StatsRequest{ID: taskID})
	if err != nil {
		return stats.Usage{}
	}
	u, err = decodeShimStats(resp, time.Now())
	if err != nil {
		logErr(ctx, err, "decode task stats", "task", taskID)
		return stats.Usage{}
	}
	r.stats.mu.Lock()
	r.stats.usage[taskID] = u
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
	if ok && time.Since(l.at) < statsMaxAge {
		return l.fs
	}
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
	r.stats.layers[rec.Id] = layerUsage{at: now, fs: fs}
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
