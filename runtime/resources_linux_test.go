package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func touch(t *testing.T, root string, p ...string) {
	t.Helper()
	f := filepath.Join(append([]string{root}, p...)...)
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte("cpuset cpu io memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func kubeletResources() *specs.LinuxResources {
	limit, swap := int64(64<<20), int64(64<<20)
	return &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: &limit, Swap: &swap},
		CPU:            &specs.LinuxCPU{Cpus: "0", Mems: "0"},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}, {Pagesize: "1GB"}},
		Unified:        map[string]string{"memory.high": "100000000", "hugetlb.2MB.max": "0"},
	}
}

func TestProbeCgroupsV1(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "memory", "memory.limit_in_bytes")
	touch(t, root, "cpuset", "cpuset.cpus")
	n := probeCgroups(root, "/")
	if n.v2 || n.hugetlb || n.swap || !n.cpuset {
		t.Fatalf("v1 without hugetlb and memsw: got %+v", n)
	}
	res := kubeletResources()
	dropped, err := n.fit(res, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.HugepageLimits != nil || res.Memory.Swap != nil || res.Unified != nil {
		t.Fatalf("hugepages, swap and unified must be dropped on this node: %+v", res)
	}
	if *res.Memory.Limit != 64<<20 || res.CPU.Cpus != "0" {
		t.Fatalf("what the node enforces must stay: %+v", res)
	}
	if len(dropped) != 4 { // hugepages, swap, two unified keys
		t.Fatalf("dropped %q", dropped)
	}
	if _, err := n.fit(kubeletResources(), true); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("strict: want FailedPrecondition, got %v", err)
	}

	touch(t, root, "hugetlb", "hugetlb.2MB.limit_in_bytes")
	touch(t, root, "memory", "memory.memsw.limit_in_bytes")
	n = probeCgroups(root, "/")
	res = kubeletResources()
	if _, err := n.fit(res, true); err == nil {
		t.Fatal("unified keys on cgroup v1 must fail a strict fit")
	}
	if len(res.HugepageLimits) != 2 || res.Memory.Swap == nil {
		t.Fatalf("with hugetlb and memsw, hugepage and swap limits stay: %+v", res)
	}
}

func TestProbeCgroupsV2(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "cgroup.controllers") // cpuset cpu io memory pids: no hugetlb
	touch(t, root, "wincri", "memory.swap.max")
	n := probeCgroups(root, "/wincri")
	if !n.v2 || n.hugetlb || !n.swap || !n.cpuset {
		t.Fatalf("v2: got %+v", n)
	}
	res := kubeletResources()
	if _, err := n.fit(res, false); err != nil {
		t.Fatal(err)
	}
	if res.HugepageLimits != nil || res.Memory.Swap == nil || res.Unified["memory.high"] == "" {
		t.Fatalf("v2 without hugetlb: hugepages dropped, swap and memory.high kept: %+v", res)
	}
	if _, ok := res.Unified["hugetlb.2MB.max"]; ok {
		t.Fatal("a unified key of a missing controller must be dropped")
	}
	if dropped, err := n.fit(nil, true); err != nil || dropped != nil {
		t.Fatal("no resources: nothing to fit")
	}
}

func TestCgroupsPath(t *testing.T) {
	for parent, want := range map[string]string{
		"":                                   "/wincri/c1",
		"/kubepods/burstable/pod1":           "/kubepods/burstable/pod1/c1",
		"kubepods-besteffort-pod1.slice":     "kubepods-besteffort-pod1.slice:wincri:c1",
		"/kubepods.slice/kubepods-pod.slice": "kubepods-pod.slice:wincri:c1",
	} {
		if got := cgroupsPath(parent, "c1"); got != want {
			t.Errorf("cgroupsPath(%q) = %q, want %q", parent, got, want)
		}
	}
}

func TestApparmorOpt(t *testing.T) {
	local := &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "my-profile"}
	def := &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	for _, tc := range []struct {
		sp      *runtimeapi.SecurityProfile
		legacy  string
		enabled bool
		opt     bool
		code    error
	}{
		{def, "", false, false, nil},
		{nil, "runtime/default", false, false, nil},
		{local, "", false, false, errdefs.ErrFailedPrecondition},
		{nil, "localhost/my-profile", false, false, errdefs.ErrFailedPrecondition},
		{nil, "bogus", false, false, errdefs.ErrInvalidArgument},
		{&runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost}, "", true, false, errdefs.ErrInvalidArgument},
		{local, "", true, true, nil},
		{def, "", true, true, nil},
		{nil, "unconfined", true, false, nil},
	} {
		opt, err := apparmorOpt(tc.sp, tc.legacy, tc.enabled)
		if tc.code != nil && !errors.Is(err, tc.code) || tc.code == nil && err != nil || (opt != nil) != tc.opt {
			t.Errorf("apparmorOpt(%v, %q, %v) = %v, %v", tc.sp, tc.legacy, tc.enabled, opt != nil, err)
		}
	}
}
