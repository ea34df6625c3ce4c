package winspec

import (
	"context"
	"encoding/json"
	"github.com/containerd/errdefs"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The expected specs below were written by hand from containerd v2.4.2's
// internal/cri Windows code (podsandbox/sandbox_run_windows.go,
// container_create.go buildWindowsSpec, opts/spec_windows*.go) and
// pkg/oci's Windows defaults, for the same requests.

const (
	sandboxID  = "5a3e"
	pauseImage = "mcr.microsoft.com/oss/kubernetes/pause:3.10"
	appImage   = "mcr.microsoft.com/windows/servercore/iis:latest"
	logDir     = `C:\var\log\pods\prod_web_u1`
)

func pod(mod func(*runtimeapi.PodSandboxConfig)) *runtimeapi.PodSandboxConfig {
	p := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "prod", Uid: "u1"},
		Hostname:     "web-0",
		LogDirectory: logDir,
		Annotations: map[string]string{
			"io.microsoft.virtualmachine.computetopology.processor.count": "2",
			"kubernetes.io/config.source":                                 "api",
		},
		Windows: &runtimeapi.WindowsPodSandboxConfig{SecurityContext: &runtimeapi.WindowsSandboxSecurityContext{}},
	}
	if mod != nil {
		mod(p)
	}
	return p
}

func pauseConfig() imagespec.ImageConfig {
	return imagespec.ImageConfig{Env: []string{`PATH=C:\Windows\system32;C:\Windows`}, Entrypoint: []string{`C:\pause.exe`}, User: "ContainerUser"}
}

func iisConfig() imagespec.ImageConfig {
	return imagespec.ImageConfig{
		Env:        []string{`PATH=C:\Windows\system32;C:\Windows`},
		Cmd:        []string{"cmd", "/c", "ping -t localhost"},
		WorkingDir: `C:\inetpub`,
		User:       "ContainerUser",
	}
}

func u16(v uint16) *uint16 { return &v }
func u64(v uint64) *uint64 { return &v }

// sandboxAnn and containerAnn are the CRI annotations containerd sets.
func sandboxAnn(extra map[string]string) map[string]string {
	a := map[string]string{
		"io.kubernetes.cri.sandbox-id": sandboxID, "io.kubernetes.cri.sandbox-namespace": "prod",
		"io.kubernetes.cri.sandbox-uid": "u1", "io.kubernetes.cri.sandbox-name": "web",
		"io.kubernetes.cri.sandbox-log-directory": logDir, "io.kubernetes.cri.podsandbox.image-name": pauseImage,
		"io.kubernetes.cri.container-type": "sandbox", "microsoft.com/hostprocess-container": "false",
		"io.microsoft.virtualmachine.computetopology.processor.count": "2",
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func containerAnn(extra map[string]string) map[string]string {
	a := map[string]string{
		"io.kubernetes.cri.sandbox-id": sandboxID, "io.kubernetes.cri.sandbox-namespace": "prod",
		"io.kubernetes.cri.sandbox-uid": "u1", "io.kubernetes.cri.sandbox-name": "web",
		"io.kubernetes.cri.container-name": "app", "io.kubernetes.cri.image-name": appImage,
		"io.kubernetes.cri.container-type": "container", "microsoft.com/hostprocess-container": "false",
		"io.microsoft.virtualmachine.computetopology.processor.count": "2",
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func user(name string) specs.User { return specs.User{Username: name, AdditionalGids: []uint32{0}} }

// fakeHost has C:\data, C:\cfg\app.ini and C:\link (-> C:\target); other
// paths do not exist until created.
type fakeHost struct{ made []string }

type fileInfo struct{ fs.FileInfo }

func (f *fakeHost) Stat(p string) (os.FileInfo, error) {
	switch p {
	case `C:\data`, `C:\cfg\app.ini`, `C:\link`, `C:\logs`:
		return fileInfo{}, nil
	}
	for _, m := range f.made {
		if m == p {
			return fileInfo{}, nil
		}
	}
	return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
}

func (f *fakeHost) MkdirAll(p string, _ os.FileMode) error { f.made = append(f.made, p); return nil }

func (f *fakeHost) ResolveSymbolicLink(p string) (string, error) {
	if p == `C:\link` {
		return `C:\target`, nil
	}
	return p, nil
}

func container(mod func(*runtimeapi.ContainerConfig)) *runtimeapi.ContainerConfig {
	c := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
		Image:    &runtimeapi.ImageSpec{Image: appImage},
		Envs:     []*runtimeapi.KeyValue{{Key: "FOO", Value: []byte("bar")}},
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func TestGoldenSpecs(t *testing.T) {
	gmsa := `{"CmsPlugins":["ActiveDirectory"],"DomainJoinConfig":{"DnsName":"contoso.com"}}`
	hostProcessPod := pod(func(p *runtimeapi.PodSandboxConfig) {
		p.Windows.SecurityContext = &runtimeapi.WindowsSandboxSecurityContext{HostProcess: true, RunAsUsername: `NT AUTHORITY\SYSTEM`}
		p.Windows.SecurityContext.NamespaceOptions = &runtimeapi.WindowsNamespaceOption{Network: runtimeapi.NamespaceMode_NODE}
	})
	baseContainer := specs.Spec{
		Version:  specs.Version,
		Hostname: "web-0",
		Process: &specs.Process{
			Cwd:  `C:\inetpub`,
			Env:  []string{`PATH=C:\Windows\system32;C:\Windows`, "FOO=bar"},
			Args: []string{"cmd", "/c", "ping -t localhost"},
			User: user("ContainerUser"),
		},
		Windows:     &specs.Windows{Network: &specs.WindowsNetwork{NetworkNamespace: "ns-1"}},
		Annotations: containerAnn(nil),
	}
	withC := func(mod func(*specs.Spec)) specs.Spec {
		b, _ := json.Marshal(baseContainer)
		var s specs.Spec
		json.Unmarshal(b, &s)
		mod(&s)
		return s
	}
	for _, tc := range []struct {
		name      string
		in        Input
		want      specs.Spec
		wantError string
	}{{
		name: "process-isolated pod sandbox",
		in:   Input{Pod: pod(nil), Image: pauseConfig(), ImageName: pauseImage, NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.*"}},
		want: specs.Spec{
			Version: specs.Version, Hostname: "web-0",
			Process: &specs.Process{Cwd: `C:\`, Env: []string{`PATH=C:\Windows\system32;C:\Windows`}, Args: []string{`C:\pause.exe`}, User: user("ContainerUser")},
			Windows: &specs.Windows{
				Network:   &specs.WindowsNetwork{NetworkNamespace: "ns-1"},
				Resources: &specs.WindowsResources{CPU: &specs.WindowsCPUResources{Shares: u16(2)}},
			},
			Annotations: sandboxAnn(nil),
		},
	}, {
		name: "Hyper-V pod sandbox passes the utility VM's annotations",
		in: Input{Pod: pod(func(p *runtimeapi.PodSandboxConfig) {
			p.Annotations["io.microsoft.virtualmachine.computetopology.memory.sizeinmb"] = "2048"
		}), Image: pauseConfig(), ImageName: pauseImage, NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.virtualmachine.*"}},
		want: specs.Spec{
			Version: specs.Version, Hostname: "web-0",
			Process: &specs.Process{Cwd: `C:\`, Env: []string{`PATH=C:\Windows\system32;C:\Windows`}, Args: []string{`C:\pause.exe`}, User: user("ContainerUser")},
			Windows: &specs.Windows{
				Network:   &specs.WindowsNetwork{NetworkNamespace: "ns-1"},
				Resources: &specs.WindowsResources{CPU: &specs.WindowsCPUResources{Shares: u16(2)}},
			},
			Annotations: sandboxAnn(map[string]string{"io.microsoft.virtualmachine.computetopology.memory.sizeinmb": "2048"}),
		},
	}, {
		name: "HostProcess pod sandbox",
		in:   Input{Pod: hostProcessPod, Image: pauseConfig(), ImageName: pauseImage, PodAnnotations: []string{"io.microsoft.*"}},
		want: specs.Spec{
			Version: specs.Version, Hostname: "web-0",
			Process: &specs.Process{Cwd: `C:\`, Env: []string{`PATH=C:\Windows\system32;C:\Windows`}, Args: []string{`C:\pause.exe`}, User: user(`NT AUTHORITY\SYSTEM`)},
			Windows: &specs.Windows{
				Network:   &specs.WindowsNetwork{},
				Resources: &specs.WindowsResources{CPU: &specs.WindowsCPUResources{Shares: u16(2)}},
			},
			Annotations: sandboxAnn(map[string]string{"microsoft.com/hostprocess-container": "true"}),
		},
	}, {
		name: "GMSA pod sandbox",
		in: Input{Pod: pod(func(p *runtimeapi.PodSandboxConfig) {
			p.Windows.SecurityContext = &runtimeapi.WindowsSandboxSecurityContext{CredentialSpec: gmsa, RunAsUsername: "ContainerAdministrator"}
		}), Image: pauseConfig(), ImageName: pauseImage, NetNS: "ns-1"},
		want: specs.Spec{
			Version: specs.Version, Hostname: "web-0",
			Process: &specs.Process{Cwd: `C:\`, Env: []string{`PATH=C:\Windows\system32;C:\Windows`}, Args: []string{`C:\pause.exe`}, User: user("ContainerAdministrator")},
			Windows: &specs.Windows{
				Network:        &specs.WindowsNetwork{NetworkNamespace: "ns-1"},
				Resources:      &specs.WindowsResources{CPU: &specs.WindowsCPUResources{Shares: u16(2)}},
				CredentialSpec: gmsa,
			},
			Annotations: func() map[string]string {
				a := sandboxAnn(nil)
				delete(a, "io.microsoft.virtualmachine.computetopology.processor.count") // no pass-through configured
				return a
			}(),
		},
	}, {
		name: "container with the image's command, env and working dir",
		in:   Input{Pod: pod(nil), Container: container(nil), Image: iisConfig(), ImageName: appImage, ContainerName: "app", NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.*"}},
		want: baseContainer,
	}, {
		name: "command and args override the image",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Command, c.Args, c.WorkingDir = []string{"powershell"}, []string{"-c", "Write-Host hi"}, `C:\work`
		}), Image: iisConfig(), ImageName: appImage, ContainerName: "app", NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.*"}},
		want: withC(func(s *specs.Spec) {
			s.Process.Args, s.Process.Cwd = []string{"powershell", "-c", "Write-Host hi"}, `C:\work`
		}),
	}, {
		name: "resources",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Windows = &runtimeapi.WindowsContainerConfig{Resources: &runtimeapi.WindowsContainerResources{
				CpuCount: 2, CpuShares: 500, CpuMaximum: 5000, MemoryLimitInBytes: 1 << 30,
				AffinityCpus: []*runtimeapi.WindowsCpuGroupAffinity{{CpuMask: 3, CpuGroup: 1}},
			}}
		}), Image: iisConfig(), ImageName: appImage, ContainerName: "app", NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.*"}},
		want: withC(func(s *specs.Spec) {
			s.Windows.Resources = &specs.WindowsResources{
				Memory: &specs.WindowsMemoryResources{Limit: u64(1 << 30)},
				CPU: &specs.WindowsCPUResources{Count: u64(2), Shares: u16(500), Maximum: u16(5000),
					Affinity: []specs.WindowsCPUGroupAffinity{{Mask: 3, Group: 1}}},
			}
		}),
	}, {
		name: "mounts: directory, read-only file, named pipe, drive, symlink, missing directory",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{
				{HostPath: `C:\cfg\app.ini`, ContainerPath: `\config\app.ini`, Readonly: true},
				{HostPath: `\\.\pipe\docker_engine`, ContainerPath: `\\.\pipe\docker_engine`},
				{HostPath: `C:\data`, ContainerPath: `C:\data`},
				{HostPath: `C:\logs`, ContainerPath: `D:`},
				{HostPath: `C:\link`, ContainerPath: `C:/shared/./link`},
				{HostPath: `C:\new`, ContainerPath: `C:\new`},
			}
		}), Image: iisConfig(), ImageName: appImage, ContainerName: "app", NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.*"}, Host: &fakeHost{}},
		want: withC(func(s *specs.Spec) {
			// Ordered by depth of the destination, stable within a depth.
			s.Mounts = []specs.Mount{
				{Source: `C:\logs`, Destination: `D:`, Options: []string{"rw"}},
				{Source: `C:\data`, Destination: `C:\data`, Options: []string{"rw"}},
				{Source: `C:\new`, Destination: `C:\new`, Options: []string{"rw"}},
				{Source: `C:\cfg\app.ini`, Destination: `C:\config\app.ini`, Options: []string{"ro"}},
				{Source: `C:\target`, Destination: `C:\shared\link`, Options: []string{"rw"}},
				{Source: `\\.\pipe\docker_engine`, Destination: `\\.\pipe\docker_engine`, Options: []string{"rw"}},
			}
		}),
	}, {
		name: "devices by interface class and location path",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Devices = []*runtimeapi.Device{{HostPath: "class/5B45201D-F2F2-4F3B-85BB-30FF1F953599"}, {HostPath: "vpci-location-path://PCIROOT(0)#PCI(0100)"}}
		}), Image: iisConfig(), ImageName: appImage, ContainerName: "app", NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.*"}},
		want: withC(func(s *specs.Spec) {
			s.Windows.Devices = []specs.WindowsDevice{
				{IDType: "class", ID: "5B45201D-F2F2-4F3B-85BB-30FF1F953599"},
				{IDType: "vpci-location-path", ID: "PCIROOT(0)#PCI(0100)"},
			}
		}),
	}, {
		name: "HostProcess container",
		in: Input{Pod: hostProcessPod, Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Windows = &runtimeapi.WindowsContainerConfig{SecurityContext: &runtimeapi.WindowsContainerSecurityContext{HostProcess: true, RunAsUsername: `NT AUTHORITY\Local service`}}
		}), Image: imagespec.ImageConfig{Cmd: []string{"agent.exe"}}, ImageName: appImage, ContainerName: "app", PodAnnotations: []string{"io.microsoft.*"}},
		want: withC(func(s *specs.Spec) {
			s.Process.Cwd, s.Process.Env, s.Process.Args = `C:\hpc`, []string{"FOO=bar"}, []string{"agent.exe"}
			s.Process.User = user(`NT AUTHORITY\Local service`)
			s.Windows.Network = &specs.WindowsNetwork{}
			s.Annotations["microsoft.com/hostprocess-container"] = "true"
		}),
	}, {
		name: "GMSA container runs as the given user",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Windows = &runtimeapi.WindowsContainerConfig{SecurityContext: &runtimeapi.WindowsContainerSecurityContext{RunAsUsername: "ContainerAdministrator", CredentialSpec: gmsa}}
		}), Image: iisConfig(), ImageName: appImage, ContainerName: "app", NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.*"}},
		want: withC(func(s *specs.Spec) {
			s.Process.User = user("ContainerAdministrator")
			s.Windows.CredentialSpec = gmsa
		}),
	}, {
		name: "TTY and container annotations passed through",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Tty = true
			c.Annotations = map[string]string{"io.microsoft.container.processdumplocation": `C:\dumps`, "other": "x"}
		}), Image: iisConfig(), ImageName: appImage, ContainerName: "app", NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.*"}, ContainerAnnotations: []string{"io.microsoft.container.*"}},
		want: withC(func(s *specs.Spec) {
			s.Process.Terminal = true // no TERM on Windows
			s.Annotations["io.microsoft.container.processdumplocation"] = `C:\dumps`
		}),
	}, {
		name: "ArgsEscaped image: a command line",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Args = []string{"a b", `q"x`}
		}), Image: imagespec.ImageConfig{Entrypoint: []string{`cmd /S /C app.exe --port 80`}, ArgsEscaped: true, WorkingDir: `C:\inetpub`, User: "ContainerUser", Env: []string{`PATH=C:\Windows\system32;C:\Windows`}},
			ImageName: appImage, ContainerName: "app", NetNS: "ns-1", PodAnnotations: []string{"io.microsoft.*"}},
		want: withC(func(s *specs.Spec) {
			s.Process.Args, s.Process.CommandLine = nil, `cmd /S /C app.exe --port 80 "a b" q\"x`
		}),
	}, {
		name: "HostProcess container in a pod that is not",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Windows = &runtimeapi.WindowsContainerConfig{SecurityContext: &runtimeapi.WindowsContainerSecurityContext{HostProcess: true}}
		}), Image: iisConfig()},
		wantError: "HostProcess",
	}, {
		name: "C: drive as a mount destination",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{HostPath: `C:\data`, ContainerPath: `c:`}}
		}), Image: iisConfig(), Host: &fakeHost{}},
		wantError: "C: drive",
	}, {
		name: "device with a container path",
		in: Input{Pod: pod(nil), Container: container(func(c *runtimeapi.ContainerConfig) {
			c.Devices = []*runtimeapi.Device{{HostPath: "class/x", ContainerPath: `C:\dev`}}
		}), Image: iisConfig()},
		wantError: "no container path",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.SandboxID = sandboxID
			build := SandboxSpec
			if tc.in.Container != nil {
				build = ContainerSpec
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := build(ctx, tc.in)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.MarshalIndent(got, "", "  ")
			w, _ := json.MarshalIndent(tc.want, "", "  ")
			if string(g) != string(w) {
				t.Errorf("spec differs from containerd's\ngot:  %s\nwant: %s", g, w)
			}
		})
	}
}

func TestEscapeArg(t *testing.T) {
	for in, want := range map[string]string{
		"": `""`, "plain": "plain", "a b": `"a b"`, `q"x`: `q\"x`, `a\b`: `a\b`,
		`tail\ `: `"tail\ "`, `a b\`: `"a b\\"`, `x\"y`: `x\\\"y`,
	} {
		if got := escapeArg(in); got != want {
			t.Errorf("escapeArg(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		`C:/a/../b`: `C:\b`, `\data\.\x`: `\data\x`, `D:`: `D:`, `\\.\pipe\p`: `\\.\pipe\p`, `C:\`: `C:\`, `a\..\..\b`: `..\b`,
	} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNumericUser: a numeric image user or run-as user name is
// InvalidArgument before anything is built (containerd 2.4's WithUser
// panics on it), for pods and containers.
func TestNumericUser(t *testing.T) {
	img := iisConfig()
	img.User = "1000"
	_, err := ContainerSpec(context.Background(), Input{Pod: pod(nil), Container: container(nil), Image: img, ImageName: appImage, ContainerName: "app"})
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("numeric image user: %v", err)
	}
	p := pod(func(p *runtimeapi.PodSandboxConfig) {
		p.Windows = &runtimeapi.WindowsPodSandboxConfig{SecurityContext: &runtimeapi.WindowsSandboxSecurityContext{RunAsUsername: "0:0"}}
	})
	if _, err := SandboxSpec(context.Background(), Input{Pod: p, Image: pauseConfig(), ImageName: pauseImage}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("numeric run-as user name: %v", err)
	}
}

// TestUNCAndVolumeMounts: UNC and volume GUID host paths reach the shim
// exactly as given (cleaning took their leading backslash).
func TestUNCAndVolumeMounts(t *testing.T) {
	for _, src := range []string{`\\fileserver\share\data`, `\\?\Volume{5b1e0c1a-0000-0000-0000-100000000000}\data`} {
		m, err := parseMount(&fakeHost{}, &runtimeapi.Mount{HostPath: src, ContainerPath: `C:\data`})
		if err != nil {
			t.Fatal(err)
		}
		if m.Source != src {
			t.Errorf("mount source %q, want %q", m.Source, src)
		}
	}
}
