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

func defaultRuntimes() map[string]Runtime { return DefaultWindowsRuntimes() }
