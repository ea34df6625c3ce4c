package winspec

import (
	"context"
	"github.com/containerd/errdefs"
	"io/fs"
	"os"
	"testing"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
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
