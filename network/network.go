// Package network sets up pod networking: a network namespace and CNI on
// Linux, an HCN namespace and the Windows CNI plugins on Windows. The pod
// flow talks to it only through Manager, so it is the same on both.
package network

import (
	"context"
	"fmt"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// Pod is what the network of one pod is set up from.
type Pod struct {
	ID, Name, Namespace, UID string
	// HostNetwork pods get neither a namespace nor CNI.
	HostNetwork  bool
	PortMappings []PortMapping
	DNS          *DNS
	CgroupParent string
	// UsernsUID and UsernsGID ("container:host:size") ask for the network
	// namespace to be owned by a new user namespace with these mappings.
	UsernsUID, UsernsGID string
}

// PortMapping maps a host port to a pod port.
type PortMapping struct {
	Protocol      string // tcp, udp, sctp
	ContainerPort int32
	HostPort      int32
	HostIP        string
}

// DNS is the pod's resolver configuration.
type DNS struct {
	Servers, Searches, Options []string
}

// Attachment is a pod's network once set up.
type Attachment struct {
	// Namespace is the network namespace: a path on Linux, an HCN namespace id on Windows.
	Namespace string
	// IPs are the pod's addresses, primary first.
	IPs []string
}

// Manager sets pod networks up and tears them down.
type Manager interface {
	// Ready says why pod networks cannot be set up, or nil.
	Ready() error
	// NewNamespace creates the pod's network namespace (before its sandbox starts).
	NewNamespace(ctx context.Context, pod *Pod) (string, error)
	// Attach runs CNI ADD for the pod in namespace ns.
	Attach(ctx context.Context, pod *Pod, ns string) (*Attachment, error)
	// Detach runs CNI DEL; it succeeds when there is nothing to remove.
	Detach(ctx context.Context, pod *Pod, ns string) error
	// RemoveNamespace deletes the namespace; a missing one is not an error.
	RemoveNamespace(ctx context.Context, ns string) error
}

// ConfigReady reports whether confDir holds a CNI network configuration that
// loads, and says what is wrong when it does not.
func ConfigReady(confDir string) error {
	files, err := libcni.ConfFiles(confDir, []string{".conf", ".conflist", ".json"})
	if err != nil {
		return fmt.Errorf("read CNI config dir %s: %w", confDir, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("no network config found in %s", confDir)
	}
	var problems []string
	for _, f := range files {
		var err error
		if strings.HasSuffix(f, ".conflist") {
			_, err = libcni.ConfListFromFile(f)
		} else {
			_, err = libcni.ConfFromFile(f)
		}
		if err == nil {
			return nil
		}
		problems = append(problems, fmt.Sprintf("%s: %v", f, err))
	}
	return fmt.Errorf("no loadable network config in %s: %s", confDir, strings.Join(problems, "; "))
}

// cniLabels are the CNI_ARGS kubelet-era plugins read.
func cniLabels(pod *Pod) map[string]string {
	return map[string]string{
		"K8S_POD_NAMESPACE":          pod.Namespace,
		"K8S_POD_NAME":               pod.Name,
		"K8S_POD_INFRA_CONTAINER_ID": pod.ID,
		"K8S_POD_UID":                pod.UID,
		"IgnoreUnknown":              "1",
	}
}
