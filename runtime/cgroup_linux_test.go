package runtime

import (
	"encoding/json"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestCgroupsPathOf(t *testing.T) {
	for _, want := range []string{"/kubepods/burstable/pod1/abc", "", "system.slice:cri:abc"} {
		spec := &specs.Spec{Version: specs.Version, Process: &specs.Process{Args: []string{"sh"}}}
		if want != "" {
			spec.Linux = &specs.Linux{CgroupsPath: want, Sysctl: map[string]string{"a": `"cgroupsPath":"x"`}}
		}
		// Annotations are the user's: a key that looks like the field
		// must not be taken for it.
		spec.Annotations = map[string]string{"cgroupsPath": "/elsewhere"}
		b, _ := json.Marshal(spec)
		if got := cgroupsPathOf(b); got != want {
			t.Errorf("cgroupsPathOf(%s) = %q, want %q", b, got, want)
		}
	}
}

func BenchmarkCgroupsPathOf(b *testing.B) {
	spec := &specs.Spec{Version: specs.Version, Process: &specs.Process{Args: []string{"sh"}, Env: make([]string, 30)},
		Mounts: make([]specs.Mount, 20), Annotations: map[string]string{"a": "b"}, Linux: &specs.Linux{CgroupsPath: "/kubepods/pod/x", MaskedPaths: make([]string, 15)}}
	buf, _ := json.Marshal(spec)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		cgroupsPathOf(buf)
	}
}
