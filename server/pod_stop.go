package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StopPodSandbox stops a pod; an unknown or stopped pod is success.
func (s *RuntimeService) StopPodSandbox(ctx context.Context, r *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	if r.GetPodSandboxId() == "" {
		return nil, invalid("StopPodSandbox: pod_sandbox_id must be set")
	}
	if err := s.rt.StopPodSandbox(ctx, r.GetPodSandboxId()); err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

// RemovePodSandbox removes a pod and its containers; an unknown pod is success.
func (s *RuntimeService) RemovePodSandbox(ctx context.Context, r *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	if r.GetPodSandboxId() == "" {
		return nil, invalid("RemovePodSandbox: pod_sandbox_id must be set")
	}
	if err := s.rt.RemovePodSandbox(ctx, r.GetPodSandboxId()); err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}
