//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/wincri/wincri/test/testutil"
)

// kubeletResources are resources as a kubelet v1.37 sends them for a
// Burstable container on a cgroup v1 node: hugepage limits for every page
// size the kernel lists (whether the hugetlb controller is mounted or not)
// and swap equal to the memory limit.
func kubeletResources() *runtimeapi.LinuxContainerResources {
	return &runtimeapi.LinuxContainerResources{
		CpuPeriod: 100000, CpuQuota: 50000, CpuShares: 512,
		MemoryLimitInBytes: 128 << 20, MemorySwapLimitInBytes: 128 << 20, OomScoreAdj: 1000,
		HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB"}, {PageSize: "1GB"}},
	}
}

// TestKubeletResourcesOnThisNode: a container with what kubelet sends starts
// and can be updated whatever the node lacks; with strict_resources a node
// without hugetlb refuses it with FailedPrecondition.
func TestKubeletResourcesOnThisNode(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("kubelet-res")
	id := e.createWith(podID, pod, "c", func(c *runtimeapi.ContainerConfig) { c.Linux.Resources = kubeletResources() })
	e.start(id)
	if st := e.status(id); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("container with kubelet's resources: state %v (%s)", st.State, st.Message)
	}
	up := kubeletResources()
	up.MemoryLimitInBytes, up.MemorySwapLimitInBytes = 256<<20, 256<<20
	if _, err := e.d.Runtime.UpdateContainerResources(testutil.Ctx(t), &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id, Linux: up}); err != nil {
		t.Fatalf("UpdateContainerResources with kubelet's resources: %v", err)
	}
	e.removeAll()
}

func TestStrictResources(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/hugetlb"); err == nil {
		t.Skip("this node has the hugetlb controller: nothing to refuse")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		t.Skip("cgroup v2: the hugetlb check reads cgroup.controllers; covered by the unit test")
	}
	e := newPodEnv(t)
	e.d.Stop(t)
	prependConfig(t, e.d, "strict_resources = true\n")
	e.d.Start(t)
	podID, pod := e.runPod("strict-res")
	_, err := e.d.Runtime.CreateContainer(testutil.Ctx(t), &runtimeapi.CreateContainerRequest{
		PodSandboxId: podID, SandboxConfig: pod, Config: e.containerConfig(pod, "c", func(c *runtimeapi.ContainerConfig) { c.Linux.Resources = kubeletResources() }),
	})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("strict_resources with hugepage limits on a node without hugetlb: want FailedPrecondition, got %v", err)
	}
	e.removeAll()
}

// prependConfig adds top-level keys to a stopped daemon's config.toml.
func prependConfig(t *testing.T, d *testutil.Daemon, keys string) {
	t.Helper()
	b, err := os.ReadFile(d.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.ConfigPath(), append([]byte(keys), b...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestContainerSeesItsLimitsAndGroups: a container finds its own cgroups,
// read-only, at /sys/fs/cgroup (on cgroup v1, runc mounts a tmpfs there and
// each controller read-only under it) (where .NET, the JVM and Go read their
// memory and CPU limits), and its user gets the supplementary groups the
// image's /etc/group gives it (root is in wheel), as with containerd.
func TestContainerSeesItsLimitsAndGroups(t *testing.T) {
	e := newPodEnv(t)
	podID, pod := e.runPod("limits")
	id := e.createWith(podID, pod, "c", func(c *runtimeapi.ContainerConfig) {
		c.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 96 << 20}
	})
	e.start(id)
	limitFile := "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		limitFile = "/sys/fs/cgroup/memory.max"
	}
	if got := strings.TrimSpace(e.exec(id, "/testproc", "cat", limitFile)); got != strconv.Itoa(96<<20) {
		t.Errorf("%s in the container: %q, want the container's limit %d", limitFile, got, 96<<20)
	}
	var cgroupMount string
	for _, l := range strings.Split(e.exec(id, "/testproc", "cat", "/proc/self/mountinfo"), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == filepath.Dir(limitFile) {
			cgroupMount = l
		}
	}
	if f := strings.Fields(cgroupMount); len(f) < 6 || !slices.Contains(strings.Split(f[5], ","), "ro") {
		t.Errorf("%s in the container is not mounted read-only: %q", filepath.Dir(limitFile), cgroupMount)
	}
	var groups string
	for _, l := range strings.Split(e.exec(id, "/testproc", "cat", "/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(l, "Groups:"); ok {
			groups = strings.Join(strings.Fields(v), " ")
		}
	}
	if groups != "0 10" {
		t.Errorf("supplementary groups of root in the container: %q, want \"0 10\" (root, wheel from the image's /etc/group)", groups)
	}
	e.removeAll()
}
