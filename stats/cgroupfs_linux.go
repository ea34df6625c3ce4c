package stats

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ReadCgroup reads a container's usage straight from cgroupfs (path is its
// cgroup below each hierarchy's root), as CRI-O does, instead of asking its
// shim: a handful of small files, where a shim round trip wakes a process
// per container. It returns false when a file it needs is missing (the
// cgroup is gone, or the node mounts its hierarchies elsewhere): the caller
// then asks the shim.
func ReadCgroup(root, path string, v2 bool, at time.Time) (Usage, bool) {
	r := cgroupReader{}
	if v2 {
		dir := filepath.Join(root, path)
		cpu := r.keyed(filepath.Join(dir, "cpu.stat"))
		mem := r.keyed(filepath.Join(dir, "memory.stat"))
		u := Usage{At: at, CPU: cpu["usage_usec"] * 1000, Pids: r.value(filepath.Join(dir, "pids.current")), valid: true}
		u.Mem = memoryUsage(at, r.value(filepath.Join(dir, "memory.current")), mem["inactive_file"],
			r.value(filepath.Join(dir, "memory.max")), mem["anon"], mem["pgfault"], mem["pgmajfault"])
		return u, !r.missing
	}
	memDir := filepath.Join(root, "memory", path)
	mem := r.keyed(filepath.Join(memDir, "memory.stat"))
	u := Usage{At: at, CPU: r.value(filepath.Join(root, "cpuacct", path, "cpuacct.usage")),
		Pids: r.value(filepath.Join(root, "pids", path, "pids.current")), valid: true}
	u.Mem = memoryUsage(at, r.value(filepath.Join(memDir, "memory.usage_in_bytes")), mem["total_inactive_file"],
		r.value(filepath.Join(memDir, "memory.limit_in_bytes")), mem["total_rss"], mem["total_pgfault"], mem["total_pgmajfault"])
	return u, !r.missing
}

// cgroupReader reads cgroup files, remembering whether one was missing.
type cgroupReader struct{ missing bool }

// read reads a small cgroup file with plain system calls: os.ReadFile
// registers every file with the poller (an fcntl and more per file), a
// cost that counts at hundreds of containers.
func (r *cgroupReader) read(p string) []byte {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		r.missing = true
		return nil
	}
	defer unix.Close(fd)
	var buf [4096]byte
	var out []byte
	for {
		n, err := unix.Read(fd, buf[:])
		if n > 0 {
			out = append(out, buf[:n]...)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			if err != nil {
				r.missing = true
			}
			return out
		}
	}
}

// value reads a one-number file ("max" reads as no limit, 0).
func (r *cgroupReader) value(p string) uint64 {
	n, _ := strconv.ParseUint(string(bytes.TrimSpace(r.read(p))), 10, 64)
	return n
}

// keyed reads a "key value" per line file.
func (r *cgroupReader) keyed(p string) map[string]uint64 {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(r.read(p)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			out[k], _ = strconv.ParseUint(v, 10, 64)
		}
	}
	return out
}
