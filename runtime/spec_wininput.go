package runtime

import (
	"os"
	"path/filepath"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/runtime/winspec"
)

// winInput is what winspec builds a Windows pod's or container's spec from
// (built on every platform, so the comparison with containerd's specs runs
// on Linux too).
func (r *Runtime) winInput(in specInput, cfg *runtimeapi.ContainerConfig) winspec.Input {
	image := r.cfg.SandboxImage
	if cfg != nil {
		image = criImageName(cfg, in.image)
	}
	return winspec.Input{
		SandboxID: in.podID, Pod: in.podCfg, Container: cfg, ContainerName: cfg.GetMetadata().GetName(),
		ImageName: image, Image: in.image.Spec.Config, NetNS: in.netns,
		PodAnnotations: in.handler.podAnnotations, ContainerAnnotations: in.handler.containerAnnotations,
		Host: hostFS{},
	}
}

// hostFS is the real filesystem for mount sources.
type hostFS struct{}

func (hostFS) Stat(p string) (os.FileInfo, error)           { return os.Stat(p) }
func (hostFS) MkdirAll(p string, perm os.FileMode) error    { return os.MkdirAll(p, perm) }
func (hostFS) ResolveSymbolicLink(p string) (string, error) { return filepath.EvalSymlinks(p) }
