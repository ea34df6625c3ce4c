package runtime

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/core/mount"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// defaultShmSize is /dev/shm's size in a pod, as Docker and containerd use.
const defaultShmSize = "size=65536k"

// mountPodShm mounts the tmpfs the pod's containers share as /dev/shm
// (not for host-IPC pods, which use the host's).
func mountPodShm(podDir string, cfg *runtimeapi.PodSandboxConfig) error {
	if cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetIpc() == runtimeapi.NamespaceMode_NODE {
		return nil
	}
	dir := filepath.Join(podDir, "shm")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return unix.Mount("shm", dir, "tmpfs", unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,"+defaultShmSize)
}

// unmountPodShm undoes mountPodShm; nothing mounted is not an error.
func unmountPodShm(podDir string) error { return unmountAll(filepath.Join(podDir, "shm")) }

// unmountAll lazily unmounts everything mounted at dir; nothing mounted, or
// no dir, is not an error.
func unmountAll(dir string) error {
	if err := mount.UnmountAll(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
