package config

// DefaultWindowsRuntimes are containerd 2.4's Windows handlers: process isolation,
// and Hyper-V isolation with CPU limits scaled to the utility VM; logs
// scrubbed of environment variables; only io.microsoft.container.* container
// annotations (and io.microsoft.virtualmachine.* pod ones on Hyper-V) reach
// the shim.
func DefaultWindowsRuntimes() map[string]Runtime {
	return map[string]Runtime{
		"runhcs-wcow-process": {
			Shim:                 "containerd-shim-runhcs-v1",
			Platform:             "windows",
			Options:              map[string]any{"SandboxIsolation": int64(0), "ScrubLogs": true},
			ContainerAnnotations: []string{"io.microsoft.container.*"},
		},
		"runhcs-wcow-hypervisor": {
			Shim:                 "containerd-shim-runhcs-v1",
			Platform:             "windows",
			Options:              map[string]any{"SandboxIsolation": int64(1), "ScrubLogs": true, "ScaleCpuLimitsToSandbox": true},
			PodAnnotations:       []string{"io.microsoft.virtualmachine.*"},
			ContainerAnnotations: []string{"io.microsoft.container.*"},
		},
	}
}
