package runtime

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wincri/wincri/network"
	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/runtime/store"
)

// goneNet is a network manager whose namespaces are all gone.
type goneNet struct{ network.Manager }

func (goneNet) NamespaceGone(ns string) bool { return ns != "" }

// TestPodNetworkGoneAtRestart: a ready pod whose network namespace
// disappeared while wincri was down is not ready after the restart; one
// without a namespace (host network) stays ready.
func TestPodNetworkGoneAtRestart(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := &Runtime{store: st, net: goneNet{}}
	lost := &pod{rec: &records.Pod{Id: "p1", State: records.PodState_POD_READY, NetnsPath: "ns-1"}}
	host := &pod{rec: &records.Pod{Id: "p2", State: records.PodState_POD_READY}}
	for _, p := range []*pod{lost, host} {
		r.checkPodNetwork(context.Background(), p)
	}
	if lost.rec.State != records.PodState_POD_NOTREADY || host.rec.State != records.PodState_POD_READY {
		t.Fatalf("states %v %v", lost.rec.State, host.rec.State)
	}
	if recs := st.Pods(); len(recs) != 1 || recs[0].State != records.PodState_POD_NOTREADY {
		t.Fatalf("persisted %v", recs)
	}
}
