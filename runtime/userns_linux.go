package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/containerd/v2/pkg/sys"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// userns is a pod's user namespace: nil for none (mode NODE or unset).
type userns struct {
	uid, gid specs.LinuxIDMapping
}

// parseUserns validates CRI's user namespace options: mode POD with exactly
// one UID and one GID mapping starting at container ID 0, or mode NODE
// without mappings.
func parseUserns(o *runtimeapi.UserNamespace) (*userns, error) {
	if o == nil {
		return nil, nil
	}
	switch o.GetMode() {
	case runtimeapi.NamespaceMode_NODE:
		if len(o.GetUids()) != 0 || len(o.GetGids()) != 0 {
			return nil, fmt.Errorf("user namespace mode NODE takes no ID mappings: %w", errdefs.ErrInvalidArgument)
		}
		return nil, nil
	case runtimeapi.NamespaceMode_POD:
	default:
		return nil, fmt.Errorf("user namespace mode %s is not supported (POD or NODE): %w", o.GetMode(), errdefs.ErrInvalidArgument)
	}
	one := func(kind string, ms []*runtimeapi.IDMapping) (specs.LinuxIDMapping, error) {
		if len(ms) != 1 || ms[0] == nil {
			return specs.LinuxIDMapping{}, fmt.Errorf("user namespace needs exactly one %s mapping, got %d: %w", kind, len(ms), errdefs.ErrInvalidArgument)
		}
		if ms[0].ContainerId != 0 || ms[0].Length == 0 {
			return specs.LinuxIDMapping{}, fmt.Errorf("user namespace %s mapping must map container ID 0 (got %d, length %d): %w", kind, ms[0].ContainerId, ms[0].Length, errdefs.ErrInvalidArgument)
		}
		return specs.LinuxIDMapping{ContainerID: 0, HostID: ms[0].HostId, Size: ms[0].Length}, nil
	}
	u, err := one("UID", o.GetUids())
	if err != nil {
		return nil, err
	}
	g, err := one("GID", o.GetGids())
	if err != nil {
		return nil, err
	}
	return &userns{uid: u, gid: g}, nil
}

// podUserns is the user namespace a pod's config asks for.
func podUserns(cfg *runtimeapi.PodSandboxConfig) (*userns, error) {
	return parseUserns(cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions())
}

// snapshotOpts idmaps the rootfs snapshot to the user namespace.
func (u *userns) snapshotOpts() []snapshots.Opt {
	if u == nil {
		return nil
	}
	return []snapshots.Opt{containerd.WithRemapperLabels(0, u.uid.HostID, 0, u.gid.HostID, u.uid.Size)}
}

// specOpt puts the process in the user namespace at path (a new one with
// the mappings when path is empty).
func (u *userns) specOpt(path string) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *specs.Spec) error {
		if u == nil {
			delNamespace(s, specs.UserNamespace)
			return nil
		}
		if err := oci.WithUserNamespace([]specs.LinuxIDMapping{u.uid}, []specs.LinuxIDMapping{u.gid})(ctx, cl, c, s); err != nil {
			return err
		}
		setNamespace(s, specs.UserNamespace, path)
		return nil
	}
}

// netMaps renders the mappings for the network layer ("container:host:size").
func (u *userns) netMaps() (uid, gid string) {
	if u == nil {
		return "", ""
	}
	f := func(m specs.LinuxIDMapping) string { return fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size) }
	return f(u.uid), f(u.gid)
}

// pinUserns bind-mounts the user namespace that owns the pod's network
// namespace onto podDir/userns, for the pause container to join.
func pinUserns(podDir, netnsPath string) (string, error) {
	pin := filepath.Join(podDir, "userns")
	f, err := os.OpenFile(pin, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	f.Close()
	nsf, err := os.Open(netnsPath)
	if err != nil {
		return "", err
	}
	defer nsf.Close()
	uf, err := sys.GetUsernsForNamespace(nsf.Fd())
	if err != nil {
		return "", fmt.Errorf("user namespace of %s: %w", netnsPath, err)
	}
	defer uf.Close()
	if err := unix.Mount(uf.Name(), pin, "none", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("pin user namespace: %w", err)
	}
	return pin, nil
}
