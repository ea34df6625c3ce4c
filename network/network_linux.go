package network

import (
	"context"
	"errors"
	"os"

	"github.com/containerd/containerd/v2/pkg/netns"
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

func (m *linuxManager) NewNamespace(_ context.Context, _ *Pod) (string, error) {
	if err := os.MkdirAll(m.netnsDir, 0o711); err != nil {
		return "", err
	}
	ns, err := netns.NewNetNS(m.netnsDir)
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
