package config

// DefaultWindowsRuntimes are containerd 2.4's Windows handlers: process isolation,
// and Hyper-V isolation with CPU limits scaled to the utility VM; logs
// scrubbed of environment variables; only io.microsoft.container.* container
// annotations (and io.microsoft.virtualmachine.* pod ones on Hyper-V) reach
// the shim; beyond containerd's, stdio survives a wincri restart.
// ioRetryTimeoutInSec is how long the runhcs shim keeps reconnecting to a
// container's stdio pipes after wincri went away (a restart, an upgrade):
// without it (containerd's default, 0) the output written meanwhile is lost
// and the container's stdout is cut for good.
const ioRetryTimeoutInSec = 300

func DefaultWindowsRuntimes() map[string]Runtime {
	return map[string]Runtime{
		"runhcs-wcow-process": {
			Shim:                 "containerd-shim-runhcs-v1",
			Platform:             "windows",
			Options:              map[string]any{"SandboxIsolation": int64(0), "ScrubLogs": true, "IoRetryTimeoutInSec": int64(ioRetryTimeoutInSec)},
			ContainerAnnotations: []string{"io.microsoft.container.*"},
		},
		"runhcs-wcow-hypervisor": {
			Shim:                 "containerd-shim-runhcs-v1",
			Platform:             "windows",
			Options:              map[string]any{"SandboxIsolation": int64(1), "ScrubLogs": true, "ScaleCpuLimitsToSandbox": true, "IoRetryTimeoutInSec": int64(ioRetryTimeoutInSec)},
			PodAnnotations:       []string{"io.microsoft.virtualmachine.*"},
			ContainerAnnotations: []string{"io.microsoft.container.*"},
		},
	}
}
