package runtime

import (
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/stats"
)

// needsPause: a Windows pod is an HCS compute system whose pause container
// holds the HCN namespace (or the utility VM): it always has one.
func (r *Runtime) needsPause(*runtimeapi.PodSandboxConfig, *userns) string {
	return "Windows pods are compute systems"
}

func pinPodNamespaces(string, *runtimeapi.PodSandboxConfig) error { return nil }

func unpinPodNamespaces(string) error { return nil }

func podNamespacesAlive(*records.Pod, string) bool { return true }

func podInterfaces(*records.Pod) []stats.InterfaceSample { return nil }

func podNamespacePaths(*records.Pod, string) map[string]string { return nil }

// networkBeforePause: CNI ADD finishes before the pause container starts,
// as containerd does: the endpoint is in the HCN namespace when HCS creates
// the compute system (hot-adding one to a Hyper-V pod is not the same path).
const networkBeforePause = true
