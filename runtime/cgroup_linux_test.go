package runtime

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestCgroupPathOf(t *testing.T) {
	for _, tc := range []struct {
		spec *specs.Spec
		want string
	}{
		{&specs.Spec{Linux: &specs.Linux{CgroupsPath: "/kubepods/burstable/pod1/abc"}}, "/kubepods/burstable/pod1/abc"},
		{&specs.Spec{Linux: &specs.Linux{CgroupsPath: "/wincri/../x"}}, "/x"},
		{&specs.Spec{Linux: &specs.Linux{CgroupsPath: "system.slice:cri:abc"}}, ""},
		{&specs.Spec{Linux: &specs.Linux{CgroupsPath: "relative/abc"}}, ""},
		{&specs.Spec{}, ""},
		{nil, ""},
	} {
		if got := cgroupPathOf(tc.spec); got != tc.want {
			t.Errorf("cgroupPathOf(%+v) = %q, want %q", tc.spec, got, tc.want)
		}
	}
}
