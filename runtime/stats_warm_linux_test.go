package runtime

import (
	"context"
	"os"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/statscache"
)

// keepStatsWarm renews a ready pod's network counters, read through a
// running container of its, once a list has read them; a list then never
// waits for /proc of 110 pods (the cold first list after a quiet spell).
// Pods no list asked about, and pods that are not ready, are left alone.
func TestWarmStatsRenewsPodNetwork(t *testing.T) {
	r := &Runtime{pods: map[string]*pod{}, ctrs: map[string]*container{}}
	r.stats = statscache.New(r.objectExists)
	self := uint32(os.Getpid()) // this process's /proc/PID/net/dev stands in for the pod's
	for _, id := range []string{"listed", "unlisted", "notready"} {
		state := records.PodState_POD_READY
		if id == "notready" {
			state = records.PodState_POD_NOTREADY
		}
		r.pods[id] = &pod{rec: &records.Pod{Id: id, State: state, NetnsPath: "/var/run/netns/" + id, NoPause: true}}
		r.ctrs["c-"+id] = &container{podID: id, rec: &records.Container{Id: "c-" + id, PodId: id, Pid: self,
			State: records.ContainerState_CONTAINER_RUNNING}}
	}
	old := time.Now().Add(-time.Minute)
	stale := &runtimeapi.NetworkUsage{Timestamp: old.UnixNano()}
	r.stats.Nets.PutAt("listed", stale, old)
	r.stats.Nets.PutAt("notready", stale, old)

	r.warmStats(context.Background())

	if age, _ := r.stats.Nets.Age("listed"); age > 10*time.Second {
		t.Fatalf("listed pod's network reading still %s old after a warm round", age)
	}
	nu, _ := r.stats.Nets.Peek("listed")
	if nu == stale || nu.Timestamp <= old.UnixNano() {
		t.Fatalf("listed pod's network reading not renewed: %v", nu)
	}
	if r.stats.Nets.Has("unlisted") {
		t.Fatal("a warm round read a pod no list asked about")
	}
	if nu, _ := r.stats.Nets.Peek("notready"); nu != stale {
		t.Fatal("a warm round read a pod that is not ready")
	}
}
