package runtime

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/stats"
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

// podInterfaces reads the pod's interface counters from /proc/PID/net/dev.
func podInterfaces(rec *records.Pod) []stats.InterfaceSample {
	if rec.Pid == 0 || rec.NetnsPath == "" {
		return nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/dev", rec.Pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []stats.InterfaceSample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		v := strings.Fields(rest)
		if !ok || len(v) < 16 || strings.TrimSpace(name) == "lo" {
			continue
		}
		n := func(i int) uint64 { x, _ := strconv.ParseUint(v[i], 10, 64); return x }
		out = append(out, stats.InterfaceSample{Name: strings.TrimSpace(name),
			RxBytes: n(0), RxPackets: n(1), RxErrors: n(2), RxDropped: n(3),
			TxBytes: n(8), TxPackets: n(9), TxErrors: n(10), TxDropped: n(11)})
	}
	return out
}
