package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// removeBundleCgroup removes the cgroup a bundle's spec names, if it is
// empty, in every hierarchy. runc deletes the cgroups it recorded; this is
// for the ones it never did: a runc create cut short (a crash of ours or of
// the shim mid-create) leaves the directory and no state to delete it by.
// A cgroup that still holds processes is left alone (rmdir fails).
func removeBundleCgroup(bundle string) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return
	}
	p := cgroupsPathOf(b)
	// systemd's "slice:prefix:name" paths are units systemd removes.
	if p == "" || strings.Contains(p, ":") || !filepath.IsAbs(p) {
		return
	}
	for _, root := range cgroupRoots() {
		os.Remove(filepath.Join(root, filepath.Clean(p)))
	}
}

// cgroupsPathOf reads linux.cgroupsPath from a spec's JSON (decoding
// only that field: other fields are skipped).
func cgroupsPathOf(spec []byte) string {
	var s struct {
		Linux *struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	}
	if json.Unmarshal(spec, &s) != nil || s.Linux == nil {
		return ""
	}
	return s.Linux.CgroupsPath
}

var (
	cgroupRootsOnce sync.Once
	cgroupRootList  []string
)

// cgroupRoots are the mounted cgroup hierarchies: the unified one, or each
// v1 controller's.
func cgroupRoots() []string {
	cgroupRootsOnce.Do(func() {
		cgroupRootList = []string{"/sys/fs/cgroup"}
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil { // v1
			cgroupRootList, _ = filepath.Glob("/sys/fs/cgroup/*")
		}
	})
	return cgroupRootList
}
