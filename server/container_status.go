package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ContainerStatus reports one container.
func (s *RuntimeService) ContainerStatus(ctx context.Context, r *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	if r.GetContainerId() == "" {
		return nil, invalid("ContainerStatus: container_id must be set")
	}
	resp, err := s.rt.ContainerStatus(ctx, r.GetContainerId(), r.GetVerbose())
	return resp, toStatus(err)
}

// ListContainers lists containers matching the filter.
func (s *RuntimeService) ListContainers(_ context.Context, r *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	return &runtimeapi.ListContainersResponse{Containers: s.rt.ListContainers(r.GetFilter())}, nil
}
