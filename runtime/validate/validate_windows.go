package validate

import (
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func validatePodPlatform(*runtimeapi.PodSandboxConfig) error { return nil }

// ContainerPlatform checks Windows resources: within within what HCS takes (CPU
// shares and maximum are out of 10000).
func ContainerPlatform(cfg *runtimeapi.ContainerConfig) error {
	r := cfg.GetWindows().GetResources()
	switch {
	case r == nil:
		return nil
	case r.CpuShares < 0 || r.CpuShares > 10000:
		return badField("windows.resources.cpu_shares", "%d, want 0 to 10000", r.CpuShares)
	case r.CpuMaximum < 0 || r.CpuMaximum > 10000:
		return badField("windows.resources.cpu_maximum", "%d, want 0 to 10000", r.CpuMaximum)
	case r.CpuCount < 0:
		return badField("windows.resources.cpu_count", "%d is negative", r.CpuCount)
	case r.MemoryLimitInBytes < 0:
		return badField("windows.resources.memory_limit_in_bytes", "%d is negative", r.MemoryLimitInBytes)
	case r.RootfsSizeInBytes < 0:
		return badField("windows.resources.rootfs_size_in_bytes", "%d is negative", r.RootfsSizeInBytes)
	}
	return nil
}
