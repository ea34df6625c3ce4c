package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
	var spec struct {
		Linux *struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	}
	if json.Unmarshal(b, &spec) != nil || spec.Linux == nil {
		return
	}
	p := spec.Linux.CgroupsPath
	// systemd's "slice:prefix:name" paths are units systemd removes.
	if p == "" || strings.Contains(p, ":") || !filepath.IsAbs(p) {
		return
	}
	roots := []string{"/sys/fs/cgroup"}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil { // v1
		roots, _ = filepath.Glob("/sys/fs/cgroup/*")
	}
	for _, root := range roots {
		os.Remove(filepath.Join(root, filepath.Clean(p)))
	}
}
