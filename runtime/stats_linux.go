package runtime

import (
	"context"
	"strings"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/stats"
)

func decodeShimStats(resp *taskapi.StatsResponse, at time.Time) (stats.Usage, error) {
	return stats.FromShimMetrics(resp.GetStats(), at)
}

// podNetwork reports the pod's interface counters (podInterfaces, read from
// its pause process's /proc/net/dev); eth0 is the default interface.
// pid, when not 0, is a running container of the pod: it is in the pod's
// network namespace, so its /proc/PID/net/dev is read, without entering the
// namespace (for pods without pause).
func podNetwork(rec *records.Pod, pid uint32) *runtimeapi.NetworkUsage {
	var ifaces []stats.InterfaceSample
	if pid != 0 && rec.NetnsPath != "" {
		ifaces = netDevOf(pid)
	} else {
		ifaces = podInterfaces(rec)
	}
	if ifaces == nil {
		return nil
	}
	nu := &runtimeapi.NetworkUsage{Timestamp: time.Now().UnixNano()}
	for _, s := range ifaces {
		iface := &runtimeapi.NetworkInterfaceUsage{Name: s.Name,
			RxBytes: &runtimeapi.UInt64Value{Value: s.RxBytes}, RxErrors: &runtimeapi.UInt64Value{Value: s.RxErrors},
			TxBytes: &runtimeapi.UInt64Value{Value: s.TxBytes}, TxErrors: &runtimeapi.UInt64Value{Value: s.TxErrors}}
		if s.Name == "eth0" {
			nu.DefaultInterface = iface
		} else {
			nu.Interfaces = append(nu.Interfaces, iface)
		}
	}
	return nu
}

// readTaskDirect reads a task's usage from its cgroup (see stats.ReadCgroup),
// for cgroupfs paths; false sends the caller to the shim (systemd cgroups,
// an unusual hierarchy layout, a task whose cgroup is gone).
func (r *Runtime) readTaskDirect(podID, taskID string, at time.Time) (stats.Usage, bool) {
	p, err := r.lookupPod(podID)
	if err != nil {
		return stats.Usage{}, false
	}
	path := cgroupsPath(p.cfg.GetLinux().GetCgroupParent(), taskID)
	if strings.Contains(path, ":") {
		return stats.Usage{}, false
	}
	return stats.ReadCgroup(cgroupRoot, path, hostCgroups().v2, at)
}

// podNetworkUsage is the pod's network counters, cached (see statscache).
func (r *Runtime) podNetworkUsage(rec *records.Pod, pid uint32) *runtimeapi.NetworkUsage {
	return r.stats.Nets.Get(context.Background(), rec.Id, func(context.Context) (*runtimeapi.NetworkUsage, bool) {
		return podNetwork(rec, pid), true
	})
}

// primePodNetwork reads a pod's network counters through a process of its
// (pid), unless they are cached already.
func (r *Runtime) primePodNetwork(podID string, pid uint32) {
	if p, err := r.lookupPod(podID); err == nil && !r.stats.Nets.Has(podID) {
		r.stats.Nets.Put(podID, podNetwork(p.snapshot(), pid), false)
	}
}

// warmPodNetwork re-reads a pod's network counters (see warmStats)
// through one of its running containers, or its pause process.
func (r *Runtime) warmPodNetwork(rec *records.Pod) {
	if nu := podNetwork(rec, runningPid(r.podContainers(rec.Id))); nu != nil {
		r.stats.Nets.Put(rec.Id, nu, true)
	}
}
