package runtime

import (
	"context"
	"encoding/json"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
)

// PodSandboxStatus reports a pod, with its containers' statuses when asked
// (verbose adds the internal record).
func (r *Runtime) PodSandboxStatus(_ context.Context, id string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	p, err := r.lookupPod(id)
	if err != nil {
		return nil, err
	}
	rec := p.snapshot()
	resp := &runtimeapi.PodSandboxStatusResponse{Status: podStatus(rec, p.cfg)}
	if verbose {
		info := map[string]any{"pid": rec.Pid, "netNamespace": rec.NetnsPath, "runtimeHandler": rec.RuntimeHandler, "image": rec.ImageId, "shim": rec.Shim, "config": p.cfg}
		b, _ := json.Marshal(info)
		resp.Info = map[string]string{"info": string(b)}
	}
	return resp, nil
}

func podStatus(rec *records.Pod, cfg *runtimeapi.PodSandboxConfig) *runtimeapi.PodSandboxStatus {
	st := &runtimeapi.PodSandboxStatus{
		Id:             rec.Id,
		Metadata:       cfg.GetMetadata(),
		State:          podState(rec.State),
		CreatedAt:      rec.CreatedAt,
		Labels:         cfg.GetLabels(),
		Annotations:    cfg.GetAnnotations(),
		RuntimeHandler: rec.RuntimeHandler,
		Network:        &runtimeapi.PodSandboxNetworkStatus{},
		Linux: &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{
			Options: cfg.GetLinux().GetSecurityContext().GetNamespaceOptions(),
		}},
	}
	if len(rec.Ips) > 0 {
		st.Network.Ip = rec.Ips[0]
		for _, ip := range rec.Ips[1:] {
			st.Network.AdditionalIps = append(st.Network.AdditionalIps, &runtimeapi.PodIP{Ip: ip})
		}
	}
	return st
}

func podState(s records.PodState) runtimeapi.PodSandboxState {
	if s == records.PodState_POD_READY {
		return runtimeapi.PodSandboxState_SANDBOX_READY
	}
	return runtimeapi.PodSandboxState_SANDBOX_NOTREADY
}

// ListPodSandbox lists pods matching the filter (id prefix, state, labels).
func (r *Runtime) ListPodSandbox(f *runtimeapi.PodSandboxFilter) []*runtimeapi.PodSandbox {
	var out []*runtimeapi.PodSandbox
	for _, p := range r.allPods() {
		rec := p.snapshot()
		if f.GetId() != "" && !strings.HasPrefix(rec.Id, f.GetId()) {
			continue
		}
		if f.GetState() != nil && f.GetState().State != podState(rec.State) {
			continue
		}
		if !matchLabels(f.GetLabelSelector(), p.cfg.GetLabels()) {
			continue
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id: rec.Id, Metadata: p.cfg.GetMetadata(), State: podState(rec.State), CreatedAt: rec.CreatedAt,
			Labels: p.cfg.GetLabels(), Annotations: p.cfg.GetAnnotations(), RuntimeHandler: rec.RuntimeHandler,
		})
	}
	return out
}
