package runtime

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// openFiles counts a process's open file descriptors and sockets.
func openFiles(pid uint32) (fds, sockets uint64) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range entries {
		fds++
		if target, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			sockets++
		}
	}
	return fds, sockets
}

// fsCapacity is the size and inodes of the filesystem holding dir.
func fsCapacity(dir string) (bytes, inodes, inodesFree uint64) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return 0, 0, 0
	}
	return st.Blocks * uint64(st.Bsize), st.Files, st.Ffree
}
