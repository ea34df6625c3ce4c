package server

import (
	"context"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ExecSync runs a command in a container and returns its output.
func (s *RuntimeService) ExecSync(ctx context.Context, r *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	if r.GetContainerId() == "" || len(r.GetCmd()) == 0 {
		return nil, invalid("ExecSync: container_id and cmd must be set")
	}
	if r.GetTimeout() < 0 {
		return nil, invalid(fmt.Sprintf("ExecSync: timeout %d s is negative (0: none)", r.GetTimeout()))
	}
	res, err := s.rt.ExecSync(ctx, r.GetContainerId(), r.GetCmd(), time.Duration(r.GetTimeout())*time.Second)
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.ExecSyncResponse{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode}, nil
}
