package network

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/containerd/v2/pkg/sys"
)

// linuxManager gives each pod a bind-mounted network namespace under
// netnsDir and runs CNI in it.
type linuxManager struct {
	netnsDir string
	cni      cniRunner
}

// New returns the platform's network manager.
func New(confDir string, binDirs []string, stateDir string) Manager {
	return &linuxManager{netnsDir: stateDir, cni: cniRunner{confDir: confDir, binDirs: binDirs}}
}

func (m *linuxManager) Ready() error { return ConfigReady(m.cni.confDir) }

func (m *linuxManager) NewNamespace(_ context.Context, pod *Pod) (string, error) {
	if err := os.MkdirAll(m.netnsDir, 0o711); err != nil {
		return "", err
	}
	if pod.UsernsUID == "" {
		ns, err := netns.NewNetNS(m.netnsDir)
		if err != nil {
			return "", err
		}
		return ns.GetPath(), nil
	}
	// Owned by the pod's user namespace, so the pod may mount sysfs in it.
	var ns *netns.NetNS
	err := sys.UnshareAfterEnterUserns(pod.UsernsUID, pod.UsernsGID, syscall.CLONE_NEWNET, func(pid int) error {
		var err error
		ns, err = netns.NewNetNSFromPID(m.netnsDir, uint32(pid))
		return err
	})
	if err != nil {
		return "", err
	}
	return ns.GetPath(), nil
}

func (m *linuxManager) Attach(ctx context.Context, pod *Pod, ns string) (*Attachment, error) {
	return m.cni.attach(ctx, pod, ns)
}

func (m *linuxManager) Detach(ctx context.Context, pod *Pod, ns string) error {
	if _, err := os.Stat(ns); errors.Is(err, os.ErrNotExist) {
		// Without the namespace the plugins still release IPs and host rules.
		ns = ""
	}
	return m.cni.detach(ctx, pod, ns)
}

func (m *linuxManager) RemoveNamespace(_ context.Context, ns string) error {
	if ns == "" {
		return nil
	}
	if _, err := os.Stat(ns); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return netns.LoadNetNS(ns).Remove()
}
