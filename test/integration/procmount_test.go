//go:build linux

package integration

import (
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The masked and read-only paths of /proc are exactly what the request
// names, as in containerd: the kubelet sends its defaults, and none for a
// pod whose procMount is Unmasked. An empty list reaches the runtime as no
// list at all (proto3), so "none named" must mean none.
func TestProcPathsAsRequested(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("procmount")
	masked := e.createWith(podID, pod, "masked", func(c *runtimeapi.ContainerConfig) {
		c.Args = []string{"sleep", "3600"}
		c.Linux.SecurityContext.MaskedPaths = []string{"/proc/timer_list"}
		c.Linux.SecurityContext.ReadonlyPaths = []string{"/proc/sys"}
	})
	unmasked := e.create(podID, pod, "unmasked", "sleep", "3600")
	e.start(masked)
	e.start(unmasked)

	if out := e.exec(masked, "/testproc", "cat", "/proc/timer_list"); out != "" {
		t.Errorf("masked /proc/timer_list reads %d bytes, want none", len(out))
	}
	if out := e.exec(unmasked, "/testproc", "cat", "/proc/timer_list"); out == "" {
		t.Error("/proc/timer_list, which the request does not mask, reads empty: masked anyway")
	}
	if !readOnlyMount(e.exec(masked, "/testproc", "cat", "/proc/self/mountinfo"), "/proc/sys") {
		t.Error("/proc/sys, named read-only, is not a read-only mount")
	}
	if readOnlyMount(e.exec(unmasked, "/testproc", "cat", "/proc/self/mountinfo"), "/proc/sys") {
		t.Error("/proc/sys, which the request does not name, is a read-only mount")
	}
}

// readOnlyMount says whether mountinfo has a mount at path with "ro" among
// its mount options.
func readOnlyMount(mountinfo, path string) bool {
	for _, l := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(l)
		if len(f) > 5 && f[4] == path && strings.Contains(","+f[5]+",", ",ro,") {
			return true
		}
	}
	return false
}
