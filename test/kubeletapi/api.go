// Package kubeletapi is what the kubelet tests (test/kubelet on Linux, the
// Windows kubelet in test/windows) read of an unmodified kubelet's own API:
// the parts of /pods and /stats/summary they check (k8s.io/api's and
// k8s.io/kubelet's stats types, by their JSON names) and a client for it.
package kubeletapi

type PodList struct {
	Items []Pod `json:"items"`
}

type Pod struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		UID       string `json:"uid"`
	} `json:"metadata"`
	Status struct {
		Phase             string            `json:"phase"`
		PodIP             string            `json:"podIP"`
		Conditions        []Condition       `json:"conditions"`
		ContainerStatuses []ContainerStatus `json:"containerStatuses"`
	} `json:"status"`
}

type Condition struct {
	Type   string `json:"type"`
	Status string `json:"status"`
}

type ContainerStatus struct {
	Name         string         `json:"name"`
	Ready        bool           `json:"ready"`
	RestartCount int            `json:"restartCount"`
	ContainerID  string         `json:"containerID"`
	State        ContainerState `json:"state"`
	LastState    ContainerState `json:"lastState"`
}

// ContainerState is one of running, waiting and terminated.
type ContainerState struct {
	Running *struct {
		StartedAt string `json:"startedAt"`
	} `json:"running"`
	Waiting *struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"waiting"`
	Terminated *struct {
		Reason   string `json:"reason"`
		ExitCode int    `json:"exitCode"`
	} `json:"terminated"`
}

// Ready says whether the pod runs with every container ready.
func (p Pod) Ready() bool {
	if p.Status.Phase != "Running" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" && c.Status != "True" {
			return false
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready || c.State.Running == nil {
			return false
		}
	}
	return len(p.Status.ContainerStatuses) > 0
}

type Summary struct {
	Node struct {
		Runtime struct {
			ImageFs *FsStats `json:"imageFs"`
		} `json:"runtime"`
	} `json:"node"`
	Pods []PodStats `json:"pods"`
}

type PodStats struct {
	PodRef struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"podRef"`
	CPU        *CPUStats        `json:"cpu"`
	Memory     *MemoryStats     `json:"memory"`
	Containers []ContainerStats `json:"containers"`
}

type ContainerStats struct {
	Name   string       `json:"name"`
	CPU    *CPUStats    `json:"cpu"`
	Memory *MemoryStats `json:"memory"`
	Rootfs *FsStats     `json:"rootfs"`
	Logs   *FsStats     `json:"logs"`
}

type CPUStats struct {
	UsageNanoCores       *uint64 `json:"usageNanoCores"`
	UsageCoreNanoSeconds *uint64 `json:"usageCoreNanoSeconds"`
}

type MemoryStats struct {
	WorkingSetBytes *uint64 `json:"workingSetBytes"`
	UsageBytes      *uint64 `json:"usageBytes"`
}

type FsStats struct {
	UsedBytes *uint64 `json:"usedBytes"`
}

// Val is *p, or 0 for nil.
func Val(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// StatsComplete says whether the pod and its n containers have CPU
// (usageNanoCores included) and memory figures.
func StatsComplete(s Summary, name string, n int) bool {
	for _, p := range s.Pods {
		if p.PodRef.Name != name {
			continue
		}
		if p.CPU == nil || p.CPU.UsageNanoCores == nil || p.Memory == nil || Val(p.Memory.WorkingSetBytes) == 0 || len(p.Containers) != n {
			return false
		}
		for _, c := range p.Containers {
			if c.CPU == nil || c.CPU.UsageNanoCores == nil || Val(c.CPU.UsageCoreNanoSeconds) == 0 || c.Memory == nil || Val(c.Memory.WorkingSetBytes) == 0 {
				return false
			}
		}
		return true
	}
	return false
}
