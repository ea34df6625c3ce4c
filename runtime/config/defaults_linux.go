package config

const (
	defaultRoot               = "/var/lib/wincri"
	defaultState              = "/run/wincri"
	defaultListen             = "unix:///run/wincri/wincri.sock"
	defaultRegistryConfigPath = "/etc/wincri/certs.d"
	defaultCNIConfDir         = "/etc/cni/net.d"
	defaultNRISocket          = `/var/run/nri/nri.sock`
	defaultNRIPluginPath      = `/opt/nri/plugins`
	defaultNRIConfPath        = `/etc/nri/conf.d`
	defaultRuntimeName        = "runc"
)

// Debian's containernetworking-plugins installs into /usr/lib/cni; upstream
// tarballs into /opt/cni/bin.
var defaultCNIBinDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}

func defaultRuntimes() map[string]Runtime {
	return map[string]Runtime{
		"runc": {Shim: "containerd-shim-runc-v2", Platform: "linux"},
	}
}
