package runtime

import (
	"path/filepath"
	"strings"

	"github.com/wincri/wincri/runtime/config"
)

// bundleDir is a container's OCI bundle (config.json, rootfs/).
func (r *Runtime) bundleDir(id string) string { return filepath.Join(r.cfg.State, "bundles", id) }

// ioDir holds a container's stream FIFOs.
func (r *Runtime) ioDir(id string) string { return filepath.Join(r.cfg.State, "io", id) }

// containerDir holds a container's persistent files: its image volumes.
func (r *Runtime) containerDir(id string) string { return filepath.Join(r.cfg.Root, "containers", id) }

// podDir holds a pod's hostname, hosts and resolv.conf files and /dev/shm.
func (r *Runtime) podDir(id string) string { return filepath.Join(r.cfg.Root, "pods", id) }

// shimAddress identifies this daemon to shims; they derive socket names from it.
func shimAddress(cfg *config.Config) string {
	_, addr, ok := strings.Cut(cfg.Listen, "://")
	if !ok {
		return cfg.Listen
	}
	return addr
}
