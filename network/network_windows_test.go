package network

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/wincri/wincri/test/hcsemu"
)

type fakeHCN struct {
	namespaces map[string]bool
	next       int
	failCreate error
}

func (f *fakeHCN) CreateNamespace() (string, error) {
	if f.failCreate != nil {
		return "", f.failCreate
	}
	f.next++
	id := "ns-" + string(rune('0'+f.next))
	f.namespaces[id] = true
	return id, nil
}

func (f *fakeHCN) DeleteNamespace(id string) error { delete(f.namespaces, id); return nil }

func (f *fakeHCN) NamespaceExists(id string) (bool, error) { return f.namespaces[id], nil }

func (f *fakeHCN) EndpointStats(ns string) ([]EndpointStats, error) {
	if !f.namespaces[ns] {
		return nil, errors.New("no such namespace")
	}
	return []EndpointStats{{ID: "ep-" + ns, BytesReceived: 10, BytesSent: 20}}, nil
}

type fakeCNI struct{ added map[string]string }

func (f *fakeCNI) attach(_ context.Context, pod *Pod, ns string) (*Attachment, error) {
	f.added[pod.ID] = ns
	return &Attachment{Namespace: ns, IPs: []string{"10.244.1.5"}}, nil
}

func (f *fakeCNI) detach(_ context.Context, pod *Pod, _ string) error {
	delete(f.added, pod.ID)
	return nil
}

// TestPodNetworkFlow drives the Windows manager as the pod flow does, with
// HCN and the CNI plugins faked.
func TestPodNetworkFlow(t *testing.T) {
	h, c := &fakeHCN{namespaces: map[string]bool{}}, &fakeCNI{added: map[string]string{}}
	m := &windowsManager{hcn: h, cni: c}
	ctx := context.Background()
	pod := &Pod{ID: "p1", Name: "web", Namespace: "prod"}
	ns, err := m.NewNamespace(ctx, pod)
	if err != nil || !h.namespaces[ns] {
		t.Fatalf("namespace %q %v", ns, err)
	}
	att, err := m.Attach(ctx, pod, ns)
	if err != nil || c.added["p1"] != ns || att.IPs[0] != "10.244.1.5" {
		t.Fatalf("attach: %v %v (CNI got namespace %q)", att, err, c.added["p1"])
	}
	st, err := m.Stats(ns)
	if err != nil || len(st) != 1 || st[0].BytesSent != 20 {
		t.Fatalf("stats %v %v", st, err)
	}
	if err := m.Detach(ctx, pod, ns); err != nil || len(c.added) != 0 {
		t.Fatalf("detach: %v", err)
	}
	if err := m.RemoveNamespace(ctx, ns); err != nil || len(h.namespaces) != 0 {
		t.Fatalf("remove: %v", err)
	}
	if err := m.RemoveNamespace(ctx, ns); err != nil {
		t.Fatalf("removing a removed namespace: %v", err)
	}
	h.failCreate = errors.New("HNS is down")
	if _, err := m.NewNamespace(ctx, pod); err == nil {
		t.Fatal("namespace creation error swallowed")
	}
}

// TestRealHCN creates and deletes a namespace through computenetwork.dll:
// on a real Windows host HCN's own, under hack/windows-e2e.sh
// (WINCRI_HCSEMU=1) the emulated one, whose state is checked too.
func TestRealHCN(t *testing.T) {
	var emu *hcsemu.Server
	if os.Getenv("WINCRI_HCSEMU") == "1" {
		var err error
		if emu, err = hcsemu.Start(); err != nil {
			t.Fatal(err)
		}
		defer emu.Close()
	}
	if windows.NewLazySystemDLL("computenetwork.dll").Load() != nil || windows.NewLazySystemDLL("vmcompute.dll").Load() != nil {
		t.Skip("no Host Compute Network service here (e.g. under Wine): computenetwork.dll/vmcompute.dll missing")
	}
	id, err := realHCN{}.CreateNamespace()
	if err != nil {
		t.Fatal(err)
	}
	if emu != nil && !hasObject(emu.HCNObjects("namespace"), id) {
		t.Fatalf("namespace %s is not in the emulated HCN: %v", id, emu.HCNObjects("namespace"))
	}
	if err := (realHCN{}).DeleteNamespace(id); err != nil {
		t.Fatal(err)
	}
	if emu != nil && hasObject(emu.HCNObjects("namespace"), id) {
		t.Fatalf("namespace %s still in the emulated HCN", id)
	}
}

func hasObject(objs []map[string]any, id string) bool {
	for _, o := range objs {
		if strings.EqualFold(fmt.Sprint(o["ID"]), id) {
			return true
		}
	}
	return false
}

func TestNamespaceGone(t *testing.T) {
	h := &fakeHCN{namespaces: map[string]bool{}}
	m := &windowsManager{hcn: h}
	ns, _ := m.NewNamespace(context.Background(), &Pod{ID: "p"})
	if m.NamespaceGone(ns) || m.NamespaceGone("") {
		t.Fatal("a live namespace (or none) is not gone")
	}
	h.DeleteNamespace(ns) // HNS restarted
	if !m.NamespaceGone(ns) {
		t.Fatal("a deleted namespace is gone")
	}
}
