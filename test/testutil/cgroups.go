//go:build linux

package testutil

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// cgroupRoots are the hierarchies a cgroup path lives in: each v1
// controller's (with the hybrid "unified" one), or the single v2 one.
func cgroupRoots() []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	var out []string
	for _, r := range roots {
		if fi, err := os.Lstat(r); err == nil && fi.IsDir() {
			out = append(out, r)
		}
	}
	return out
}

// CgroupsBelow lists the cgroups under parent, in every hierarchy.
func CgroupsBelow(parent string) []string {
	var out []string
	for _, root := range cgroupRoots() {
		entries, _ := os.ReadDir(filepath.Join(root, parent))
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, filepath.Join(root, parent, e.Name()))
			}
		}
	}
	return out
}

// RemoveCgroup removes an empty cgroup (and what is below it) everywhere.
func RemoveCgroup(parent string) {
	for _, c := range CgroupsBelow(parent) {
		os.Remove(c)
	}
	for _, root := range cgroupRoots() {
		os.Remove(filepath.Join(root, parent))
	}
}

// KillCgroupTree kills (SIGKILL) every process in parent and below, what
// a failed test left behind, and returns their pids.
func KillCgroupTree(parent string) []int {
	seen := map[int]bool{}
	for _, root := range cgroupRoots() {
		filepath.WalkDir(filepath.Join(root, parent), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
	var pids []int
	for pid := range seen {
		pids = append(pids, pid)
	}
	return pids
}

// RemoveCgroupTree removes parent and every cgroup below it, deepest first,
// in every hierarchy; it returns the cgroups that could not be removed
// (still holding processes).
func RemoveCgroupTree(parent string) []string {
	var left []string
	for _, root := range cgroupRoots() {
		var dirs []string
		filepath.WalkDir(filepath.Join(root, parent), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				left = append(left, d)
			}
		}
	}
	return left
}
