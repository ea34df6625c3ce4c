// Package config holds wincri's configuration: the TOML file, its defaults and
// their validation. Platform defaults live in defaults_linux.go and
// defaults_windows.go.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Config is the whole daemon configuration. Field tags are the TOML keys.
type Config struct {
	// Root is the persistent directory: images, snapshots, metadata.
	Root string `toml:"root" json:"rootDir"`
	// State is the runtime directory: sockets, bundles, fifos.
	State string `toml:"state" json:"stateDir"`
	// Listen is the CRI endpoint: unix:///path on Linux, npipe:////./pipe/NAME on Windows.
	Listen string `toml:"listen"`
	// LogLevel is one of trace, debug, info, warn, error.
	LogLevel string `toml:"log_level"`
	// LogFormat is text (logfmt) or json, both with nanosecond timestamps.
	LogFormat string `toml:"log_format"`
	// GCPercent is the Go garbage collector's target (GOGC): how far the
	// heap may grow above live data before a collection. The GOGC
	// environment variable, when set, wins.
	GCPercent int `toml:"gc_percent"`
	// SandboxImage is the pause image each pod sandbox runs; it is pinned.
	SandboxImage string `toml:"sandbox_image"`
	// DropInfra runs Linux pods without a pause process where none is needed
	// (as CRI-O's drop_infra_ctr): the pod's namespaces are held by bind
	// mounts. Pods sharing one PID namespace, with sysctls or with a user
	// namespace still get one; Windows pods always do.
	DropInfra bool `toml:"drop_infra"`
	// SpareShims keeps one started, idle shim per runtime handler in use,
	// which the next pod takes instead of waiting for its own to start
	// (Linux, containerd-shim-runc-v2 only: runhcs, kata and gVisor shims
	// read the pod's spec when they start).
	SpareShims bool `toml:"spare_shims"`
	// StrictResources fails a container that asks for a limit this node's
	// cgroups cannot enforce (hugepage limits without the hugetlb controller,
	// swap without swap accounting, cpuset without its controller, unified
	// keys on cgroup v1). Off, such limits are dropped with a log line, as
	// containerd's tolerate_missing_hugetlb_controller does for hugepages.
	StrictResources bool `toml:"strict_resources"`
	// DefaultRuntime names the handler used when a pod asks for none.
	DefaultRuntime string `toml:"default_runtime"`
	// Runtimes maps a RuntimeClass handler name to the shim that runs it.
	Runtimes map[string]Runtime `toml:"runtimes"`
	// Registry configures image pulls.
	Registry Registry `toml:"registry"`
	// CNI configures pod networking.
	CNI CNI `toml:"cni"`
	// Streaming configures the exec/attach/port-forward server.
	Streaming Streaming `toml:"streaming"`
	// Metrics configures the optional Prometheus endpoint.
	Metrics Metrics `toml:"metrics"`
	// NRI configures the Node Resource Interface plugin socket.
	NRI NRI `toml:"nri"`
}

// NRI configures NRI (github.com/containerd/nri): plugins observe and adjust
// pods and containers through a socket wincri serves.
type NRI struct {
	Enable           bool   `toml:"enable"`
	SocketPath       string `toml:"socket_path"`
	PluginPath       string `toml:"plugin_path"`
	PluginConfigPath string `toml:"plugin_config_path"`
}

// Runtime is one runtime handler.
type Runtime struct {
	// Shim is the runtime-v2 shim binary: a name looked up in PATH or a path.
	Shim string `toml:"shim"`
	// Platform is the OS the handler runs containers for: "linux" or "windows".
	Platform string `toml:"platform"`
	// Options are the shim's handler options, decoded into the shim's own
	// options type (runc: BinaryName, Root, SystemdCgroup; runhcs:
	// SandboxIsolation, VmProcessorCount, ...).
	Options map[string]any `toml:"options,omitempty"`
	// PodAnnotations and ContainerAnnotations are the pod and container
	// annotations (patterns as path.Match: "io.microsoft.container.*")
	// passed to the shim in the OCI spec; others are not (containerd's keys
	// of the same names). Pod annotations reach every container of the pod.
	PodAnnotations       []string `toml:"pod_annotations,omitempty"`
	ContainerAnnotations []string `toml:"container_annotations,omitempty"`
}

// Registry configures image pulls.
type Registry struct {
	// ConfigPath is a directory in containerd's hosts.toml layout:
	// <dir>/<host>/hosts.toml, and <dir>/_default/hosts.toml for every host.
	ConfigPath string `toml:"config_path"`
	// PullProgressTimeout cancels a pull that has neither downloaded nor
	// extracted a byte for this long ("0" disables).
	PullProgressTimeout Duration `toml:"pull_progress_timeout"`
	// PullProgressInterval is how often a running pull logs its download
	// and extraction progress.
	PullProgressInterval Duration `toml:"pull_progress_interval"`
	// MaxConcurrentDownloads bounds layer downloads per pull.
	MaxConcurrentDownloads int `toml:"max_concurrent_downloads"`
	// MaxConcurrentUnpacks bounds the layers extracted at once, across
	// pulls; above 1 the overlay snapshotter extracts an image's layers in
	// parallel.
	MaxConcurrentUnpacks int `toml:"max_concurrent_unpacks"`
}

// CNI configures pod networking.
type CNI struct {
	BinDirs []string `toml:"bin_dirs"`
	ConfDir string   `toml:"conf_dir"`
}

// Streaming configures the exec/attach/port-forward server.
type Streaming struct {
	// Address is host:port; port 0 picks a free port.
	Address string `toml:"address"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Address is host:port; empty disables the endpoint.
	Address string `toml:"address"`
	// Pprof also serves Go's /debug/pprof/ there.
	Pprof bool `toml:"pprof"`
}

// Duration is a time.Duration written as a Go duration string in TOML.
type Duration struct{ time.Duration }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		Root:           defaultRoot,
		State:          defaultState,
		Listen:         defaultListen,
		LogLevel:       "info",
		LogFormat:      "text",
		GCPercent:      50,
		SandboxImage:   "registry.k8s.io/pause:3.10.2", // containerd 2.4.2's DefaultSandboxImage
		DropInfra:      true,
		SpareShims:     true,
		DefaultRuntime: defaultRuntimeName,
		Runtimes:       defaultRuntimes(),
		Registry: Registry{
			ConfigPath:             defaultRegistryConfigPath,
			PullProgressTimeout:    Duration{5 * time.Minute},
			PullProgressInterval:   Duration{10 * time.Second},
			MaxConcurrentDownloads: 3,
			MaxConcurrentUnpacks:   defaultConcurrentUnpacks(),
		},
		CNI: CNI{
			BinDirs: defaultCNIBinDirs,
			ConfDir: defaultCNIConfDir,
		},
		Streaming: Streaming{Address: "127.0.0.1:0"},
		NRI:       NRI{SocketPath: defaultNRISocket, PluginPath: defaultNRIPluginPath, PluginConfigPath: defaultNRIConfPath},
	}
}

// Load reads a TOML file over the defaults: keys the file does not set keep
// their default. Unknown keys are an error, so a typo is not silently ignored.
func Load(path string) (*Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := Decode(b, c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Decode decodes TOML into c, refusing unknown keys.
func Decode(b []byte, c *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			return errors.New(strings.TrimSpace(strict.String()))
		}
		return err
	}
	return nil
}

// Validate checks the configuration for mistakes a daemon cannot start with.
func (c *Config) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("root must be set"))
	}
	if c.State == "" {
		errs = append(errs, errors.New("state must be set"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("listen must be set"))
	}
	if _, ok := c.Runtimes[c.DefaultRuntime]; !ok {
		errs = append(errs, fmt.Errorf("default_runtime %q is not in [runtimes]", c.DefaultRuntime))
	}
	for name, r := range c.Runtimes {
		if r.Shim == "" {
			errs = append(errs, fmt.Errorf("runtimes.%s: shim must be set", name))
		}
		if r.Platform != "linux" && r.Platform != "windows" {
			errs = append(errs, fmt.Errorf("runtimes.%s: platform must be linux or windows, not %q", name, r.Platform))
		}
	}
	if c.Registry.PullProgressTimeout.Duration < 0 {
		errs = append(errs, errors.New("registry.pull_progress_timeout must not be negative"))
	}
	if c.Registry.PullProgressInterval.Duration <= 0 {
		errs = append(errs, errors.New("registry.pull_progress_interval must be positive"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log_format must be text or json, not %q", c.LogFormat))
	}
	if c.GCPercent < -1 || c.GCPercent == 0 {
		errs = append(errs, errors.New("gc_percent must be positive, or -1 to disable GC"))
	}
	if c.Registry.MaxConcurrentDownloads < 1 {
		errs = append(errs, errors.New("registry.max_concurrent_downloads must be at least 1"))
	}
	if c.Registry.MaxConcurrentUnpacks < 1 {
		errs = append(errs, errors.New("registry.max_concurrent_unpacks must be at least 1"))
	}
	return errors.Join(errs...)
}

// RuntimeNames returns the configured handler names, sorted.
func (c *Config) RuntimeNames() []string {
	names := make([]string, 0, len(c.Runtimes))
	for n := range c.Runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultTOML renders the default configuration as commented TOML. Decoding
// its output yields Default() again (a test holds it to that).
func DefaultTOML() string {
	var buf bytes.Buffer
	if err := defaultTemplate.Execute(&buf, Default()); err != nil {
		panic(err) // the template is a constant; a failure is a programming error
	}
	return buf.String()
}

var defaultTemplate = template.Must(template.New("config").Funcs(template.FuncMap{
	"q": func(s string) string {
		b, _ := toml.Marshal(map[string]string{"v": s})
		return strings.TrimSpace(strings.TrimPrefix(string(b), "v = "))
	},
	"qs": func(ss []string) string {
		b, _ := toml.Marshal(map[string][]string{"v": ss})
		return strings.TrimSpace(strings.TrimPrefix(string(b), "v = "))
	},
	"opts": func(m map[string]any) string {
		if len(m) == 0 {
			return ""
		}
		b, _ := toml.Marshal(m)
		return strings.TrimSpace(string(b))
	},
}).Parse(`# wincri configuration. Every key is optional: a key left out keeps the
# default shown here. Flags (--listen, --root, --state, --log-level) override it.

# Persistent directory: images, snapshots, metadata. Must survive reboots.
root = {{q .Root}}
# Runtime directory: sockets, bundles, fifos. May be cleared on reboot.
state = {{q .State}}
# CRI endpoint kubelet connects to: unix:///path (Linux) or npipe:////./pipe/NAME (Windows).
listen = {{q .Listen}}
# trace, debug (logs every CRI call with its latency), info, warn, error.
log_level = {{q .LogLevel}}
# text (logfmt) or json, both with nanosecond timestamps.
log_format = {{q .LogFormat}}
# Go GC target (GOGC; Go's default is 100): the heap may grow this many percent
# above live data before a collection. 50 keeps the daemon ~15 % smaller at 110
# pods for a little more GC work; the GOGC environment variable wins; -1 disables GC.
gc_percent = {{.GCPercent}}
# The pause image each pod sandbox runs. It is pinned: kubelet's image GC keeps it.
sandbox_image = {{q .SandboxImage}}
# Linux pods run without a pause process when they need none (no shared PID
# namespace, no sysctls, no user namespace): their network, IPC and UTS
# namespaces are held by bind mounts instead. false gives every pod a pause.
drop_infra = {{.DropInfra}}
# Keep one started, idle containerd-shim-runc-v2 per runtime handler in use
# (Linux): the next pod takes it instead of waiting 50-100 ms for its own.
spare_shims = {{.SpareShims}}
# Linux: a container asking for a limit this node's cgroups cannot enforce
# (hugepage limits without the hugetlb controller, swap limits without swap
# accounting, cpuset without its controller, unified keys on cgroup v1) starts
# with that limit dropped and a log line (false, as containerd's
# tolerate_missing_hugetlb_controller), or fails with FailedPrecondition (true).
strict_resources = {{.StrictResources}}
# The runtime handler for pods whose RuntimeClass names none.
default_runtime = {{q .DefaultRuntime}}

[registry]
  # Registry hosts directory in containerd's hosts.toml format:
  #   <config_path>/<host>/hosts.toml   mirrors, TLS and capabilities for one registry
  #   <config_path>/_default/hosts.toml applies to every registry without its own file
  config_path = {{q .Registry.ConfigPath}}
  # A pull that neither downloads nor extracts a byte for this long is cancelled ("0s" never cancels).
  pull_progress_timeout = {{q .Registry.PullProgressTimeout.String}}
  # How often a running pull logs what it has downloaded and extracted.
  pull_progress_interval = {{q .Registry.PullProgressInterval.String}}
  # Layers downloaded at once per pull.
  max_concurrent_downloads = {{.Registry.MaxConcurrentDownloads}}
  # Layers extracted at once, across pulls (default: the CPUs, at most 4). Above 1,
  # overlayfs extracts the layers of an image in parallel and stacks them after.
  max_concurrent_unpacks = {{.Registry.MaxConcurrentUnpacks}}

[cni]
  # Directories searched for CNI plugin binaries, in order.
  bin_dirs = {{qs .CNI.BinDirs}}
  # Directory holding the CNI network configuration (*.conflist, *.conf).
  conf_dir = {{q .CNI.ConfDir}}

[streaming]
  # host:port of the exec / attach / port-forward server (port 0: any free port).
  address = {{q .Streaming.Address}}

[metrics]
  # host:port of the Prometheus /metrics endpoint; empty turns it off.
  address = {{q .Metrics.Address}}
  # Also serve Go's profiler at /debug/pprof/ on that address.
  pprof = {{.Metrics.Pprof}}

[nri]
  # Serve NRI (Node Resource Interface) so plugins can observe and adjust pods
  # and containers, as on containerd and CRI-O. Off by default.
  enable = {{.NRI.Enable}}
  socket_path = {{q .NRI.SocketPath}}
  # Plugins started by wincri, and their configuration.
  plugin_path = {{q .NRI.PluginPath}}
  plugin_config_path = {{q .NRI.PluginConfigPath}}

# Runtime handlers: [runtimes.NAME] is the RuntimeClass handler NAME.
#   shim     runtime-v2 shim binary (name in PATH or a path)
#   platform "linux" or "windows"
#   options  the shim's own handler options
#   pod_annotations, container_annotations  annotation patterns passed to the
#            shim (e.g. "io.microsoft.container.*"); no others reach it
{{- range $name, $r := .Runtimes}}
[runtimes.{{$name}}]
  shim = {{q $r.Shim}}
  platform = {{q $r.Platform}}
{{- with $r.PodAnnotations}}
  pod_annotations = [{{range $i, $a := .}}{{if $i}}, {{end}}{{q $a}}{{end}}]
{{- end}}
{{- with $r.ContainerAnnotations}}
  container_annotations = [{{range $i, $a := .}}{{if $i}}, {{end}}{{q $a}}{{end}}]
{{- end}}
{{- with opts $r.Options}}
  [runtimes.{{$name}}.options]
{{.}}
{{- end}}
{{- end}}
`))

// defaultConcurrentUnpacks: extraction is CPU-bound (gunzip, digests), so
// one layer per CPU, but no more than 4 at once.
func defaultConcurrentUnpacks() int { return min(runtime.NumCPU(), 4) }
