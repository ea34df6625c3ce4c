package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ContainerStats reports one container's resource usage.
func (s *RuntimeService) ContainerStats(ctx context.Context, r *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	if r.GetContainerId() == "" {
		return nil, invalid("ContainerStats: container_id must be set")
	}
	st, err := s.rt.ContainerStats(ctx, r.GetContainerId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.ContainerStatsResponse{Stats: st}, nil
}

// ListContainerStats reports the usage of the containers matching the filter.
func (s *RuntimeService) ListContainerStats(ctx context.Context, r *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	return &runtimeapi.ListContainerStatsResponse{Stats: s.rt.ListContainerStats(ctx, r.GetFilter())}, nil
}

// PodSandboxStats reports one pod's resource usage.
func (s *RuntimeService) PodSandboxStats(ctx context.Context, r *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	if r.GetPodSandboxId() == "" {
		return nil, invalid("PodSandboxStats: pod_sandbox_id must be set")
	}
	st, err := s.rt.PodSandboxStats(ctx, r.GetPodSandboxId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: st}, nil
}

// ListPodSandboxStats reports the usage of the pods matching the filter.
func (s *RuntimeService) ListPodSandboxStats(ctx context.Context, r *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	return &runtimeapi.ListPodSandboxStatsResponse{Stats: s.rt.ListPodSandboxStats(ctx, r.GetFilter())}, nil
}
