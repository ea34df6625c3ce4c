package runtime

import (
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
func podNetwork(rec *records.Pod) *runtimeapi.NetworkUsage {
	ifaces := podInterfaces(rec)
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
