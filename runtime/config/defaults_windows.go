package config

const (
	defaultRoot               = `C:\ProgramData\wincri\root`
	defaultState              = `C:\ProgramData\wincri\state`
	defaultListen             = "npipe:////./pipe/wincri"
	defaultRegistryConfigPath = `C:\ProgramData\wincri\certs.d`
	defaultCNIConfDir         = `C:\ProgramData\wincri\cni\conf`
	defaultNRISocket          = `\\.\pipe\nri`
	defaultNRIPluginPath      = `C:\ProgramData\wincri\nri\plugins`
	defaultNRIConfPath        = `C:\ProgramData\wincri\nri\conf.d`
	defaultRuntimeName        = "runhcs-wcow-process"
)

var defaultCNIBinDirs = []string{`C:\ProgramData\wincri\cni\bin`}

// defaultRuntimes are containerd 2.4's Windows handlers: process isolation,
// and Hyper-V isolation with CPU limits scaled to the utility VM; logs
// scrubbed of environment variables; only io.microsoft.container.* container
// annotations (and io.microsoft.virtualmachine.* pod ones on Hyper-V) reach
// the shim.
func defaultRuntimes() map[string]Runtime {
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
