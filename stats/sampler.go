// Package stats turns what shims report (cgroup metrics on Linux, HCS
// statistics on Windows) into CRI stats, and derives CPU rates
// (usageNanoCores) from successive samples.
package stats

import (
	"sync"
	"time"
)

// CPUSample is a cumulative CPU time reading.
type CPUSample struct {
	At    time.Time
	Usage uint64 // cumulative CPU time, nanoseconds
}

// Sampler remembers the last CPU reading of each object and turns the next
// one into a rate. It is safe for concurrent use.
type Sampler struct {
	mu   sync.Mutex
	last map[string]sampled
}

// sampled is an object's last reading and the rate it gave.
type sampled struct {
	CPUSample
	rate uint64
	ok   bool
}

// NewSampler returns an empty sampler.
func NewSampler() *Sampler { return &Sampler{last: map[string]sampled{}} }

// Rate records s for id and returns the CPU rate in nanocores since the
// previous reading, and false when there is none yet (the first reading,
// or a reset: the counter went backwards because the object restarted).
// A reading no newer than the last one (the stats cache answers one reading
// to several lists) returns the last rate unchanged.
func (p *Sampler) Rate(id string, s CPUSample) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, ok := p.last[id]
	if ok && !s.At.After(prev.At) {
		return prev.rate, prev.ok
	}
	cur := sampled{CPUSample: s}
	if ok && s.Usage >= prev.Usage {
		cur.rate, cur.ok = uint64(float64(s.Usage-prev.Usage)/s.At.Sub(prev.At).Seconds()), true
	}
	p.last[id] = cur
	return cur.rate, cur.ok
}

// Forget drops what is known of id (it was removed).
func (p *Sampler) Forget(id string) {
	p.mu.Lock()
	delete(p.last, id)
	p.mu.Unlock()
}

// KeepIf drops every id for which live is false.
func (p *Sampler) KeepIf(live func(id string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.last {
		if !live(id) {
			delete(p.last, id)
		}
	}
}

// Len is how many objects the sampler remembers.
func (p *Sampler) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.last)
}
