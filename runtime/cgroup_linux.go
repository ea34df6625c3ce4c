package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// removeCgroup removes the cgroup a spec names, if it is empty, in every
// hierarchy. runc deletes the cgroups it recorded; this is for the ones it
// never did: a runc create cut short (a crash of ours or of the shim
// mid-create) leaves the directory and no state to delete it by. A cgroup
// that still holds processes is left alone (rmdir fails).
func removeCgroup(spec *specs.Spec) {
	p := cgroupPathOf(spec)
	if p == "" {
		return
	}
	for _, root := range cgroupRoots() {
		os.Remove(filepath.Join(root, p))
	}
}

// cgroupPathOf is the spec's cgroup path below each hierarchy's root, or ""
// when there is none to remove: systemd's "slice:prefix:name" paths are
// units systemd removes.
func cgroupPathOf(spec *specs.Spec) string {
	if spec == nil || spec.Linux == nil {
		return ""
	}
	p := spec.Linux.CgroupsPath
	if p == "" || strings.Contains(p, ":") || !filepath.IsAbs(p) {
		return ""
	}
	return filepath.Clean(p)
}

var (
	cgroupRootsOnce sync.Once
	cgroupRootList  []string
)

// cgroupRoots are the mounted cgroup hierarchies: the unified one, or each
// v1 controller's.
func cgroupRoots() []string {
	cgroupRootsOnce.Do(func() {
		cgroupRootList = []string{cgroupRoot}
		if !hostCgroups().v2 {
			cgroupRootList, _ = filepath.Glob(filepath.Join(cgroupRoot, "*"))
		}
	})
	return cgroupRootList
}
