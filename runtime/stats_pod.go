package runtime

import (
	"context"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodSandboxStats reports a pod's usage: its containers', their sum, and
// its network.
func (r *Runtime) PodSandboxStats(ctx context.Context, id string) (*runtimeapi.PodSandboxStats, error) {
	p, err := r.lookupPod(id)
	if err != nil {
		return nil, err
	}
	return r.podStats(ctx, p), nil
}

// ListPodSandboxStats reports the pods matching the filter.
func (r *Runtime) ListPodSandboxStats(ctx context.Context, f *runtimeapi.PodSandboxStatsFilter) []*runtimeapi.PodSandboxStats {
	var pods []*pod
	r.mu.RLock()
	for _, p := range r.pods {
		if f.GetId() != "" && !strings.HasPrefix(p.rec.Id, f.GetId()) {
			continue
		}
		if !matchLabels(f.GetLabelSelector(), p.cfg.GetLabels()) {
			continue
		}
		pods = append(pods, p)
	}
	r.mu.RUnlock()
	out := make([]*runtimeapi.PodSandboxStats, len(pods))
	parallel(len(pods), func(i int) { out[i] = r.podStats(ctx, pods[i]) })
	return out
}
