package runtime

import (
	"context"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/winspec"
)

// sandboxSpec builds a Windows pod's pause container spec (winspec).
func (r *Runtime) sandboxSpec(ctx context.Context, in specInput) (*specs.Spec, error) {
	return winspec.SandboxSpec(ctx, r.winInput(in, nil))
}

// containerSpec builds a Windows container's spec (winspec).
func (r *Runtime) containerSpec(ctx context.Context, in specInput, cfg *runtimeapi.ContainerConfig) (*specs.Spec, error) {
	return winspec.ContainerSpec(ctx, r.winInput(in, cfg))
}

func (r *Runtime) winInput(in specInput, cfg *runtimeapi.ContainerConfig) winspec.Input {
	return winspec.Input{
		SandboxID: in.podID, Pod: in.podCfg, Container: cfg, ContainerName: cfg.GetMetadata().GetName(),
		ImageName: imageNameOf(in, cfg, r.cfg.SandboxImage), Image: in.image.Spec.Config, NetNS: in.netns,
		PodAnnotations: []string{"io.microsoft.*"}, ContainerAnnotations: []string{"io.microsoft.*"},
		Host: hostFS{},
	}
}

func imageNameOf(in specInput, cfg *runtimeapi.ContainerConfig, sandboxImage string) string {
	if cfg == nil {
		return sandboxImage
	}
	return cfg.GetImage().GetImage()
}

// hostFS is the real filesystem for mount sources.
type hostFS struct{}

func (hostFS) Stat(p string) (os.FileInfo, error)           { return os.Stat(p) }
func (hostFS) MkdirAll(p string, perm os.FileMode) error    { return os.MkdirAll(p, perm) }
func (hostFS) ResolveSymbolicLink(p string) (string, error) { return filepath.EvalSymlinks(p) }

func mountPodShm(string, *runtimeapi.PodSandboxConfig) error { return nil }

func unmountPodShm(string) error { return nil }

func unmountAll(string) error { return nil }

// removeCgroup: Windows has no cgroups.
func removeCgroup(*specs.Spec) {}

func (r *Runtime) removeImageVolumes(context.Context, string) error { return nil }
