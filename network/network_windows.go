package network

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

// windowsManager will create HCN namespaces and run the Windows CNI plugins
// (the Windows issue); until then it reports itself not ready.
type windowsManager struct{ cni cniRunner }

// New returns the platform's network manager.
func New(confDir string, binDirs []string, _ string) Manager {
	return &windowsManager{cni: cniRunner{confDir: confDir, binDirs: binDirs}}
}

func (m *windowsManager) Ready() error { return ConfigReady(m.cni.confDir) }

func (m *windowsManager) NewNamespace(context.Context, *Pod) (string, error) {
	return "", fmt.Errorf("HCN namespaces: %w", errdefs.ErrNotImplemented)
}

func (m *windowsManager) Attach(ctx context.Context, pod *Pod, ns string) (*Attachment, error) {
	return m.cni.attach(ctx, pod, ns)
}

func (m *windowsManager) Detach(ctx context.Context, pod *Pod, ns string) error {
	return m.cni.detach(ctx, pod, ns)
}

func (m *windowsManager) RemoveNamespace(context.Context, string) error { return nil }
