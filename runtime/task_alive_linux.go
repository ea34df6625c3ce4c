package runtime

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's start time: 100 on
// every architecture Linux runs containers on.
const clockTicks = 100

// taskAlive says, without a round trip to its shim, that a container's
// process still runs: its pid exists, is no zombie, and started no later
// than the container did (a pid reused after the container's exit started
// after it). It errs only towards "not known alive", which costs a State
// call; a wrong "alive" is corrected by the Wait every container gets.
func taskAlive(pid uint32, startedAt int64) bool {
	if pid == 0 || startedAt == 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The command name, in parentheses, may hold spaces: fields are counted
	// from the last ")". Field 3 is the state, field 22 the start time.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || f[0][0] == 'Z' || f[0][0] == 'X' {
		return false
	}
	ticks, err := strconv.ParseInt(string(f[19]), 10, 64)
	boot := bootTime()
	if err != nil || boot.IsZero() {
		return false
	}
	started := boot.Add(time.Duration(ticks) * time.Second / clockTicks)
	// btime has a resolution of a second and follows changes of the wall
	// clock: allow that much.
	return !started.After(time.Unix(0, startedAt).Add(2 * time.Second))
}

// bootTime reads the boot time from /proc/stat once.
var bootTime = sync.OnceValue(func() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			if s, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); err == nil {
				return time.Unix(s, 0)
			}
		}
	}
	return time.Time{}
})
