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
	"github.com/wincri/wincri/runtime/statscache"
	"github.com/wincri/wincri/stats"
)

// taskUsage reads a task's CPU, memory and pids (see statscache). A task
// that is not there reads as invalid.
func (r *Runtime) taskUsage(ctx context.Context, podID, taskID string) stats.Usage {
	return r.stats.Usage.Get(ctx, taskID, func(ctx context.Context) (stats.Usage, bool) {
		u := r.readTaskUsage(ctx, podID, taskID)
		return u, u.Valid()
	})
}

// readTaskUsage reads a task's usage from its cgroup, else through its shim.
func (r *Runtime) readTaskUsage(ctx context.Context, podID, taskID string) stats.Usage {
	if u, ok := r.readTaskDirect(podID, taskID, time.Now()); ok {
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
	u, err := decodeShimStats(resp, time.Now())
	if err != nil {
		logErr(ctx, err, "decode task stats", "task", taskID)
		return stats.Usage{}
	}
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
			cs.Cpu = r.stats.Sampler.CPU(rec.Id, u)
			cs.Memory = u.Mem
		}
	}
	cs.WritableLayer = r.writableLayer(ctx, rec)
	return cs
}

// writableLayer measures a container's writable snapshot (see statscache;
// the answer is shared read-only between responses).
func (r *Runtime) writableLayer(ctx context.Context, rec *records.Container) *runtimeapi.FilesystemUsage {
	return r.stats.Layers.Get(ctx, rec.Id, func(ctx context.Context) (*runtimeapi.FilesystemUsage, bool) {
		fs := r.readWritableLayer(ctx, rec)
		return fs, fs != nil
	})
}

func (r *Runtime) readWritableLayer(ctx context.Context, rec *records.Container) *runtimeapi.FilesystemUsage {
	sn := r.Images.Client().SnapshotService(r.Images.Snapshotter())
	u, err := sn.Usage(nsCtx(ctx), rec.SnapshotKey)
	if err != nil {
		return nil
	}
	return &runtimeapi.FilesystemUsage{
		Timestamp:  time.Now().UnixNano(),
		FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: r.Images.SnapshotRoot()},
		UsedBytes:  &runtimeapi.UInt64Value{Value: uint64(u.Size)},
		InodesUsed: &runtimeapi.UInt64Value{Value: uint64(u.Inodes)},
	}
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

// primeStats reads a started container's usage, writable layer and pod
// network in the background, so that the first stats list after it does not
// wait for them.
func (r *Runtime) primeStats(podID string, rec *records.Container) {
	r.stats.Refresh("prime:"+rec.Id, func(ctx context.Context) {
		if u := r.readTaskUsage(ctx, podID, rec.Id); u.Valid() {
			r.stats.Usage.Put(rec.Id, u, false)
		}
		if fs := r.readWritableLayer(ctx, rec); fs != nil {
			r.stats.Layers.Put(rec.Id, fs, false)
		}
		r.primePodNetwork(podID, rec.Pid)
	})
}

// objectExists says whether id is a container or pod of this runtime: the
// stats cache keeps readings of those only.
func (r *Runtime) objectExists(id string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ctr := r.ctrs[id]
	_, pod := r.pods[id]
	return ctr || pod
}

// warmStats is one round of the stats cache's warm loop (KeepWarm): it
// re-reads what a stats list (or a container start) read before: the usage
// of running tasks (from their cgroups, else through their shims: Windows,
// systemd cgroups), pods' network counters, and writable layers once their
// reading is older than the layers' MaxAge.
func (r *Runtime) warmStats(ctx context.Context) {
	c := r.stats
	refresh := func(podID, taskID string) {
		ctx, cancel := context.WithTimeout(ctx, statscache.CollectInterval)
		defer cancel()
		if u := r.readTaskUsage(ctx, podID, taskID); u.Valid() {
			c.Usage.Put(taskID, u, true)
		}
	}
	for _, ctr := range r.allContainers() {
		rec := ctr.snapshot()
		if rec.State == records.ContainerState_CONTAINER_RUNNING && c.Usage.Has(rec.Id) {
			refresh(rec.PodId, rec.Id)
		}
		if age, ok := c.Layers.Age(rec.Id); ok && age >= c.Layers.MaxAge() {
			if fs := r.readWritableLayer(ctx, rec); fs != nil {
				c.Layers.Put(rec.Id, fs, true)
			}
		}
	}
	for _, p := range r.allPods() {
		rec := p.snapshot()
		if rec.State != records.PodState_POD_READY {
			continue
		}
		if !rec.NoPause && c.Usage.Has(rec.Id) {
			refresh(rec.Id, rec.Id)
		}
		if c.Nets.Has(rec.Id) {
			r.warmPodNetwork(rec)
		}
	}
}
