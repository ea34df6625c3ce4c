package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CreateContainer creates a container in a pod.
func (s *RuntimeService) CreateContainer(ctx context.Context, r *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	if r.GetPodSandboxId() == "" || r.GetConfig() == nil {
		return nil, invalid("CreateContainer: pod_sandbox_id and config must be set")
	}
	id, err := s.rt.CreateContainer(ctx, r.GetPodSandboxId(), r.GetConfig())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

// StartContainer starts a created container.
func (s *RuntimeService) StartContainer(ctx context.Context, r *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	if r.GetContainerId() == "" {
		return nil, invalid("StartContainer: container_id must be set")
	}
	if err := s.rt.StartContainer(ctx, r.GetContainerId()); err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

// StopContainer stops a container; an unknown or stopped one is success.
func (s *RuntimeService) StopContainer(ctx context.Context, r *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	if r.GetContainerId() == "" {
		return nil, invalid("StopContainer: container_id must be set")
	}
	if err := s.rt.StopContainer(ctx, r.GetContainerId(), r.GetTimeout()); err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.StopContainerResponse{}, nil
}

// RemoveContainer removes a container; an unknown one is success.
func (s *RuntimeService) RemoveContainer(ctx context.Context, r *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	if r.GetContainerId() == "" {
		return nil, invalid("RemoveContainer: container_id must be set")
	}
	if err := s.rt.RemoveContainer(ctx, r.GetContainerId()); err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.RemoveContainerResponse{}, nil
}
