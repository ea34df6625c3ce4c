package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdateContainerResources changes a container's resource limits.
func (s *RuntimeService) UpdateContainerResources(ctx context.Context, r *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	if r.GetContainerId() == "" {
		return nil, invalid("UpdateContainerResources: container_id must be set")
	}
	if err := s.rt.UpdateContainerResources(ctx, r.GetContainerId(), &runtimeapi.ContainerResources{Linux: r.GetLinux(), Windows: r.GetWindows()}); err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}

// ReopenContainerLog reopens a running container's log file.
func (s *RuntimeService) ReopenContainerLog(ctx context.Context, r *runtimeapi.ReopenContainerLogRequest) (*runtimeapi.ReopenContainerLogResponse, error) {
	if r.GetContainerId() == "" {
		return nil, invalid("ReopenContainerLog: container_id must be set")
	}
	if err := s.rt.ReopenContainerLog(ctx, r.GetContainerId()); err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.ReopenContainerLogResponse{}, nil
}
