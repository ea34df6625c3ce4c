package runtime

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/stats"
)

func decodeShimStats(resp *taskapi.StatsResponse, at time.Time) (stats.Usage, error) {
	return stats.FromShimMetrics(resp.GetStats(), at)
}

// podNetwork reads the pod's interface counters from its pause process's
// view of /proc/net/dev (eth0 is the default interface).
func podNetwork(pausePid uint32, ownNetns bool) *runtimeapi.NetworkUsage {
	if pausePid == 0 || !ownNetns {
		return nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/dev", pausePid))
	if err != nil {
		return nil
	}
	defer f.Close()
	now := time.Now().UnixNano()
	nu := &runtimeapi.NetworkUsage{Timestamp: now}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		v := strings.Fields(rest)
		if name == "lo" || len(v) < 12 {
			continue
		}
		n := func(i int) *runtimeapi.UInt64Value {
			x, _ := strconv.ParseUint(v[i], 10, 64)
			return &runtimeapi.UInt64Value{Value: x}
		}
		iface := &runtimeapi.NetworkInterfaceUsage{Name: name, RxBytes: n(0), RxErrors: n(2), TxBytes: n(8), TxErrors: n(10)}
		if name == "eth0" {
			nu.DefaultInterface = iface
		} else {
			nu.Interfaces = append(nu.Interfaces, iface)
		}
	}
	return nu
}
