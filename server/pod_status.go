package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodSandboxStatus reports one pod.
func (s *RuntimeService) PodSandboxStatus(ctx context.Context, r *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	if r.GetPodSandboxId() == "" {
		return nil, invalid("PodSandboxStatus: pod_sandbox_id must be set")
	}
	resp, err := s.rt.PodSandboxStatus(ctx, r.GetPodSandboxId(), r.GetVerbose())
	return resp, toStatus(err)
}

// ListPodSandbox lists pods matching the filter.
func (s *RuntimeService) ListPodSandbox(_ context.Context, r *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{Items: s.rt.ListPodSandbox(r.GetFilter())}, nil
}
