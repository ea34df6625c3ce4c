package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// flushDisks writes dirty pages out, so that one measurement does not pay
// for the writeback of the one before.
func flushDisks() { syscall.Sync() }

// cpuSeconds is the CPU time process pid has used in user and in system
// (kernel) mode, from /proc/PID/stat; false when it cannot be read.
func cpuSeconds(pid int) (cpuTime, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTime{}, false
	}
	// The command name (field 2) may hold spaces: count from after it.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return cpuTime{}, false
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return cpuTime{}, false
	}
	return cpuTime{user: float64(utime) / 100, system: float64(stime) / 100}, true // USER_HZ
}
