// Package runtime is wincri's engine behind the CRI facade: images, pods,
// containers and their shims, and the state that survives restarts.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/wincri/wincri/network"
	"github.com/wincri/wincri/runtime/config"
	"github.com/wincri/wincri/runtime/images"
)

// Version is wincri's version, set at build time with
// -ldflags "-X github.com/wincri/wincri/runtime.Version=...".
var Version = "0.1.0-dev"

// Runtime owns everything the CRI server acts on.
type Runtime struct {
	cfg    *config.Config
	Images *images.Store
}

// New opens the stores under the configured root and state directories.
func New(ctx context.Context, cfg *config.Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.Root, cfg.State} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}
	pinned := []string{}
	if ref, err := images.NormalizeRef(cfg.SandboxImage); err == nil {
		pinned = append(pinned, ref)
	}
	is, err := images.Open(ctx, images.Options{
		Root:                   cfg.Root,
		RegistryConfigPath:     cfg.Registry.ConfigPath,
		PinnedImages:           pinned,
		PullProgressTimeout:    cfg.Registry.PullProgressTimeout.Duration,
		MaxConcurrentDownloads: cfg.Registry.MaxConcurrentDownloads,
	})
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return &Runtime{cfg: cfg, Images: is}, nil
}

// Config returns the configuration the runtime runs with.
func (r *Runtime) Config() *config.Config { return r.cfg }

// Close releases the stores.
func (r *Runtime) Close() error {
	return r.Images.Close()
}

// RuntimeReady says why pods cannot run, or nil when they can: every
// configured handler's shim must be found.
func (r *Runtime) RuntimeReady() error {
	var errs []error
	for _, name := range r.cfg.RuntimeNames() {
		h := r.cfg.Runtimes[name]
		if _, err := exec.LookPath(h.Shim); err != nil {
			errs = append(errs, fmt.Errorf("runtime handler %s: shim %s not found", name, h.Shim))
		}
	}
	return errors.Join(errs...)
}

// NetworkReady says why pod networking is not ready, or nil when it is.
func (r *Runtime) NetworkReady() error {
	return network.ConfigReady(r.cfg.CNI.ConfDir)
}
