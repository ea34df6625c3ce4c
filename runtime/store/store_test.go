package store

import (
	"path/filepath"
	"testing"

	"github.com/wincri/wincri/proto/records"
)

func TestRecordsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutPod(&records.Pod{Id: "p1", State: records.PodState_POD_READY, Ips: []string{"10.0.0.2"}, CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	s.PutPod(&records.Pod{Id: "p2", CreatedAt: 2})
	s.PutContainer(&records.Container{Id: "c1", PodId: "p1", State: records.ContainerState_CONTAINER_RUNNING, ExitCode: 3})
	if err := s.DeletePod("p2"); err != nil {
		t.Fatal(err)
	}
	// Copies: changing what a reader got does not change the store.
	p, _ := s.Pod("p1")
	p.State = records.PodState_POD_NOTREADY
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pods := s.Pods()
	if len(pods) != 1 || pods[0].Id != "p1" || pods[0].State != records.PodState_POD_READY || pods[0].Ips[0] != "10.0.0.2" {
		t.Fatalf("pods after reopen: %v", pods)
	}
	c, ok := s.Container("c1")
	if !ok || c.ExitCode != 3 || c.PodId != "p1" {
		t.Fatalf("container after reopen: %v", c)
	}
	if err := s.DeleteContainer("missing"); err != nil {
		t.Fatalf("deleting a missing record: %v", err)
	}
}
