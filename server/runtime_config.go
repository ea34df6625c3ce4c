package server

import (
	"context"
	"fmt"
	"net"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RuntimeConfig tells kubelet the cgroup driver: wincri uses cgroupfs paths.
func (s *RuntimeService) RuntimeConfig(context.Context, *runtimeapi.RuntimeConfigRequest) (*runtimeapi.RuntimeConfigResponse, error) {
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: runtimeapi.CgroupDriver_CGROUPFS}}, nil
}

// UpdateRuntimeConfig accepts kubelet's pod CIDR (the CNI config owns
// addressing), after checking it is one.
func (s *RuntimeService) UpdateRuntimeConfig(_ context.Context, r *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	for _, c := range strings.Split(r.GetRuntimeConfig().GetNetworkConfig().GetPodCidr(), ",") {
		if _, _, err := net.ParseCIDR(strings.TrimSpace(c)); c != "" && err != nil {
			return nil, invalid(fmt.Sprintf("UpdateRuntimeConfig: pod_cidr %q is not a CIDR", c))
		}
	}
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}
