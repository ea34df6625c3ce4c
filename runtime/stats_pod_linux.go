package runtime

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/stats"
)

// podStats sums the pod's containers and pause process (if any), and reads its
// network from the pod's namespace.
func (r *Runtime) podStats(ctx context.Context, p *pod) *runtimeapi.PodSandboxStats {
	rec := p.snapshot()
	ps := &runtimeapi.PodSandboxStats{Attributes: &runtimeapi.PodSandboxAttributes{
		Id: rec.Id, Metadata: p.cfg.GetMetadata(), Labels: p.cfg.GetLabels(), Annotations: p.cfg.GetAnnotations(),
	}}
	ctrs := r.podContainers(rec.Id)
	cstats := make([]*runtimeapi.ContainerStats, len(ctrs))
	parallel(len(ctrs), func(i int) { cstats[i] = r.containerStats(ctx, ctrs[i]) })
	// The pod's total includes the pause process, where it has one (its
	// rate is sampled under the pod's id).
	var members []stats.Member
	if !rec.NoPause {
		members = append(members, stats.Member{ID: rec.Id, Usage: r.taskUsage(ctx, rec.Id, rec.Id)})
	}
	for _, c := range ctrs {
		members = append(members, stats.Member{ID: c.rec.Id, Usage: r.taskUsage(ctx, rec.Id, c.rec.Id)})
	}
	total, cpu := r.stats.Sampler.PodUsage(members, time.Now())
	ps.Linux = &runtimeapi.LinuxPodSandboxStats{
		Cpu:        cpu,
		Memory:     total.Mem,
		Process:    &runtimeapi.ProcessUsage{Timestamp: total.At.UnixNano(), ProcessCount: &runtimeapi.UInt64Value{Value: total.Pids}},
		Containers: cstats,
		Network:    r.podNetworkUsage(rec, runningPid(ctrs)),
	}
	return ps
}

// runningPid is the pid of the first running container of ctrs, 0 if none:
// it is in the pod's network namespace, for the network counters.
func runningPid(ctrs []*container) uint32 {
	for _, c := range ctrs {
		if crec := c.snapshot(); crec.State == records.ContainerState_CONTAINER_RUNNING {
			return crec.Pid
		}
	}
	return 0
}
