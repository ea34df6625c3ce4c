package runtime

import (
	"context"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/network"
	"github.com/wincri/wincri/stats"
)

// podStats reports a Windows pod as containerd does: the pause container's
// reading plus its containers' (or the utility VM's figures for a Hyper-V
// pod), each container with its writable layer, the pod's process count,
// and the counters of its HCN endpoints.
func (r *Runtime) podStats(ctx context.Context, p *pod) *runtimeapi.PodSandboxStats {
	rec := p.snapshot()
	pod := stats.WindowsPod{ID: rec.Id, At: time.Now(), Attributes: &runtimeapi.PodSandboxAttributes{
		Id: rec.Id, Metadata: p.cfg.GetMetadata(), Labels: p.cfg.GetLabels(), Annotations: p.cfg.GetAnnotations(),
	}}
	if s := p.shim.Load(); s != nil {
		if resp, err := s.Task.Stats(ctx, &taskapi.StatsRequest{ID: rec.Id}); err == nil {
			pause, vm, err := stats.FromRunhcsStats(resp.GetStats(), pod.At)
			logErr(ctx, err, "decode pause stats", "pod", rec.Id)
			pod.Pause, pod.VM = pause, vm
		}
		if pids, err := s.Task.Pids(ctx, &taskapi.PidsRequest{ID: rec.Id}); err == nil {
			pod.Processes = uint64(len(pids.GetProcesses()))
		}
	}
	for _, c := range r.podContainers(rec.Id) {
		crec := c.snapshot()
		u := r.taskUsage(ctx, rec.Id, crec.Id)
		if !u.Valid() {
			continue
		}
		wu := &stats.WindowsUsage{At: u.At, CPU: u.CPU, WorkingSet: u.Mem.GetWorkingSetBytes().GetValue(), Commit: u.Mem.GetUsageBytes().GetValue()}
		attrs := &runtimeapi.ContainerAttributes{Id: crec.Id, Metadata: c.cfg.GetMetadata(), Labels: c.cfg.GetLabels(), Annotations: c.cfg.GetAnnotations()}
		limit := uint64(c.cfg.GetWindows().GetResources().GetMemoryLimitInBytes())
		cs := r.stats.Sampler.WindowsContainerStats(crec.Id, attrs, wu, limit)
		if l := r.writableLayer(ctx, crec); l != nil {
			cs.WritableLayer = &runtimeapi.WindowsFilesystemUsage{Timestamp: l.Timestamp, FsId: l.FsId, UsedBytes: l.UsedBytes}
		}
		pod.Containers = append(pod.Containers, cs)
	}
	if ns, ok := r.net.(interface {
		Stats(string) ([]network.EndpointStats, error)
	}); ok {
		eps, err := ns.Stats(rec.NetnsPath)
		logErr(ctx, err, "HCN endpoint stats", "pod", rec.Id)
		for _, e := range eps {
			pod.Endpoints = append(pod.Endpoints, stats.EndpointStats{Name: e.ID, BytesReceived: e.BytesReceived, BytesSent: e.BytesSent,
				DroppedPacketsIncoming: e.DroppedPacketsIncoming, DroppedPacketsOutgoing: e.DroppedPacketsOutgoing})
		}
	}
	return r.stats.Sampler.WindowsPodStats(pod)
}
