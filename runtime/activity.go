package runtime

import (
	"sync/atomic"
	"time"
)

// activity tracks the calls that start or stop pods and containers, so
// that optional background work which competes with them for the CPUs and
// the kernel's cgroup locks (starting a spare shim) waits for a quiet
// moment instead of slowing them down.
type activity struct {
	inflight atomic.Int32
	last     atomic.Int64 // when the last call ended, unix nanoseconds
}

// begin marks a call in flight; the returned function ends it.
func (a *activity) begin() func() {
	a.inflight.Add(1)
	return func() {
		a.last.Store(time.Now().UnixNano())
		a.inflight.Add(-1)
	}
}

// quietFor says whether no call has been in flight for d.
func (a *activity) quietFor(d time.Duration) bool {
	return a.inflight.Load() == 0 && time.Since(time.Unix(0, a.last.Load())) >= d
}
