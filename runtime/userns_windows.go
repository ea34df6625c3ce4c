package runtime

import (
	"github.com/containerd/containerd/v2/core/snapshots"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// userns: Windows pods have no Linux user namespaces.
type userns struct{}

func podUserns(*runtimeapi.PodSandboxConfig) (*userns, error) { return nil, nil }

func (u *userns) snapshotOpts() []snapshots.Opt { return nil }

func (u *userns) netMaps() (uid, gid string) { return "", "" }

func pinUserns(string, string) (string, error) { return "", nil }
