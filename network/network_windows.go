package network

import (
	"context"
	"errors"
	"fmt"

	"github.com/Microsoft/hcsshim"
	"github.com/Microsoft/hcsshim/hcn"
)

// hcnAPI is what the pod flow needs of the Host Compute Network service;
// the real one calls HCN, tests use a fake.
type hcnAPI interface {
	CreateNamespace() (string, error)
	// DeleteNamespace succeeds when the namespace is already gone.
	DeleteNamespace(id string) error
	// NamespaceExists says whether HCN still has the namespace.
	NamespaceExists(id string) (bool, error)
	EndpointStats(namespaceID string) ([]EndpointStats, error)
}

// EndpointStats are an HCN endpoint's counters.
type EndpointStats struct {
	ID                                             string
	BytesReceived, BytesSent                       uint64
	DroppedPacketsIncoming, DroppedPacketsOutgoing uint64
}

// cniAPI runs the Windows CNI plugins (win-bridge, win-overlay, l2bridge,
// OVN-based ones) with the HCN namespace id as the network namespace.
type cniAPI interface {
	attach(ctx context.Context, pod *Pod, ns string) (*Attachment, error)
	detach(ctx context.Context, pod *Pod, ns string) error
}

// windowsManager gives each pod an HCN namespace; the CNI plugins create the
// pod's endpoint and attach it to that namespace, where kube-proxy (winkernel)
// finds it. HostProcess and host-network pods get neither.
type windowsManager struct {
	confDir string
	hcn     hcnAPI
	cni     cniAPI
}

// New returns the platform's network manager.
func New(confDir string, binDirs []string, _ string) Manager {
	return &windowsManager{confDir: confDir, hcn: realHCN{}, cni: &cniRunner{confDir: confDir, binDirs: binDirs}}
}

func (m *windowsManager) Ready() error { return ConfigReady(m.confDir) }

func (m *windowsManager) NewNamespace(context.Context, *Pod) (string, error) {
	id, err := m.hcn.CreateNamespace()
	if err != nil {
		return "", fmt.Errorf("create HCN namespace: %w", err)
	}
	return id, nil
}

func (m *windowsManager) Attach(ctx context.Context, pod *Pod, ns string) (*Attachment, error) {
	return m.cni.attach(ctx, pod, ns)
}

func (m *windowsManager) Detach(ctx context.Context, pod *Pod, ns string) error {
	return m.cni.detach(ctx, pod, ns)
}

// NamespaceGone says whether a pod's HCN namespace disappeared (HNS
// restarted, or someone deleted it): such a pod has no network any more.
// An error asking counts as not gone.
func (m *windowsManager) NamespaceGone(ns string) bool {
	if ns == "" {
		return false
	}
	ok, err := m.hcn.NamespaceExists(ns)
	return err == nil && !ok
}

func (m *windowsManager) RemoveNamespace(_ context.Context, ns string) error {
	if ns == "" {
		return nil
	}
	if err := m.hcn.DeleteNamespace(ns); err != nil {
		return fmt.Errorf("delete HCN namespace %s: %w", ns, err)
	}
	return nil
}

// Stats reads the counters of the endpoints in a pod's namespace.
func (m *windowsManager) Stats(ns string) ([]EndpointStats, error) {
	if ns == "" {
		return nil, nil
	}
	return m.hcn.EndpointStats(ns)
}

// realHCN calls the Host Compute Network service through hcsshim.
type realHCN struct{}

func (realHCN) CreateNamespace() (string, error) {
	ns, err := (&hcn.HostComputeNamespace{}).Create()
	if err != nil {
		return "", err
	}
	return ns.Id, nil
}

func (realHCN) NamespaceExists(id string) (bool, error) {
	if _, err := hcn.GetNamespaceByID(id); err != nil {
		if hcn.IsNotFoundError(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (realHCN) DeleteNamespace(id string) error {
	ns, err := hcn.GetNamespaceByID(id)
	if err != nil {
		if hcn.IsNotFoundError(err) {
			return nil
		}
		return err
	}
	if err := ns.Delete(); err != nil && !hcn.IsNotFoundError(err) {
		return err
	}
	return nil
}

func (realHCN) EndpointStats(namespaceID string) ([]EndpointStats, error) {
	ids, err := hcn.GetNamespaceEndpointIds(namespaceID)
	if err != nil {
		return nil, err
	}
	// One endpoint that fails (removed meanwhile, HNS busy) costs only its
	// own figures: the others are reported, with the error.
	var out []EndpointStats
	var errs []error
	for _, id := range ids {
		s, err := hcsshim.GetHNSEndpointStats(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("endpoint %s stats: %w", id, err))
			continue
		}
		out = append(out, EndpointStats{ID: id, BytesReceived: s.BytesReceived, BytesSent: s.BytesSent,
			DroppedPacketsIncoming: s.DroppedPacketsIncoming, DroppedPacketsOutgoing: s.DroppedPacketsOutgoing})
	}
	return out, errors.Join(errs...)
}
