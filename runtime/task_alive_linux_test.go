package runtime

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestTaskAlive(t *testing.T) {
	now := time.Now().UnixNano()
	self := uint32(os.Getpid())
	if !taskAlive(self, now) {
		t.Fatal("this test's own process is not alive")
	}
	// A process that started after the container did holds a reused pid.
	if taskAlive(self, bootTime().Add(-time.Hour).UnixNano()) {
		t.Fatal("a process started after the container counts as the container's")
	}
	if taskAlive(0, now) || taskAlive(self, 0) {
		t.Fatal("no pid or no start time counts as alive")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := uint32(cmd.Process.Pid)
	// Not reaped yet: a zombie once it has exited.
	deadline := time.Now().Add(10 * time.Second)
	for taskAlive(pid, time.Now().UnixNano()) {
		if time.Now().After(deadline) {
			t.Fatal("an exited, unreaped process still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Wait()
	if taskAlive(pid, time.Now().UnixNano()) {
		t.Fatal("a reaped process counts as alive")
	}
}
