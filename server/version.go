package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime"
)

// kubeletAPIVersion is the CRI "Version" field kubelet expects.
const kubeletAPIVersion = "0.1.0"

// Version reports wincri's name and versions.
func (s *RuntimeService) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           kubeletAPIVersion,
		RuntimeName:       "wincri",
		RuntimeVersion:    runtime.Version,
		RuntimeApiVersion: "v1",
	}, nil
}
