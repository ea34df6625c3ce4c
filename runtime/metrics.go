package runtime

import (
	"context"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/stats"
)

// MetricDescriptors lists the cAdvisor-style metrics ListPodSandboxMetrics
// reports, so kubelet can serve /metrics/cadvisor from the runtime alone.
func (r *Runtime) MetricDescriptors() []*runtimeapi.MetricDescriptor { return stats.Descriptors() }

// ListPodSandboxMetrics reports the metrics of every ready pod and its
// running containers.
func (r *Runtime) ListPodSandboxMetrics(ctx context.Context) []*runtimeapi.PodSandboxMetrics {
	var out []*runtimeapi.PodSandboxMetrics
	for _, p := range r.allPods() {
		rec := p.snapshot()
		if rec.State != records.PodState_POD_READY {
			continue
		}
		md := p.cfg.GetMetadata()
		now := time.Now()
		pm := &runtimeapi.PodSandboxMetrics{
			PodSandboxId: rec.Id,
			Metrics:      stats.NetworkMetrics([]string{md.GetName(), md.GetNamespace(), "POD", rec.Id, ""}, podInterfaces(rec), now),
		}
		ctrs := r.podContainers(rec.Id)
		cms := make([]*runtimeapi.ContainerMetrics, len(ctrs))
		parallel(len(ctrs), func(i int) { cms[i] = r.containerMetrics(ctx, md, ctrs[i], now) })
		for _, cm := range cms {
			if cm != nil {
				pm.ContainerMetrics = append(pm.ContainerMetrics, cm)
			}
		}
		out = append(out, pm)
	}
	return out
}

// containerMetrics samples a running container (nil for others).
func (r *Runtime) containerMetrics(ctx context.Context, md *runtimeapi.PodSandboxMetadata, c *container, now time.Time) *runtimeapi.ContainerMetrics {
	rec := c.snapshot()
	s := r.podShim(rec.PodId)
	if rec.State != records.ContainerState_CONTAINER_RUNNING || s == nil {
		return nil
	}
	var sample stats.ContainerSample
	if resp, err := s.Task.Stats(ctx, &taskapi.StatsRequest{ID: rec.Id}); err == nil {
		logErr(ctx, stats.SampleFromShimMetrics(resp.GetStats(), &sample), "decode container metrics", "container", rec.Id)
	}
	if pids, err := s.Task.Pids(ctx, &taskapi.PidsRequest{ID: rec.Id}); err == nil {
		for _, p := range pids.GetProcesses() {
			fds, socks := openFiles(p.Pid)
			sample.FDs += fds
			sample.Sockets += socks
		}
	}
	if wl := r.writableLayer(ctx, rec); wl != nil {
		sample.FsUsage = wl.UsedBytes.GetValue()
	}
	sample.FsLimit, sample.FsInodesTotal, sample.FsInodesFree = fsCapacity(r.Images.SnapshotRoot())
	res := c.cfg.GetLinux().GetResources()
	sample.SpecCPUPeriod, sample.SpecCPUShares = uint64(res.GetCpuPeriod()), uint64(res.GetCpuShares())
	sample.SpecMemLimit, sample.SpecSwapLimit = uint64(res.GetMemoryLimitInBytes()), uint64(res.GetMemorySwapLimitInBytes())
	sample.StartTime = time.Unix(0, rec.StartedAt)
	labels := []string{md.GetName(), md.GetNamespace(), c.cfg.GetMetadata().GetName(), rec.Id, rec.ImageRef}
	return &runtimeapi.ContainerMetrics{ContainerId: rec.Id, Metrics: stats.ContainerMetrics(labels, &sample, now)}
}
