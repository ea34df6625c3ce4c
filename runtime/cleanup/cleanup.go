// Package cleanup runs the removals a CRI call leaves to the background (a
// removed container's snapshot, bundle and cgroup) and retries each one
// that fails, with backoff, until it succeeds: a failed unmount or
// snapshot removal is not forgotten until the next daemon start. Removals
// are grouped (by pod), so a caller waits only for its own group's.
package cleanup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/log"
)

// Queue runs removals in the background.
type Queue struct {
	minBackoff, maxBackoff time.Duration

	mu     sync.Mutex
	groups map[string]map[*removal]bool // pending removals by group
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup

	retries atomic.Uint64
	pending atomic.Int64
}

// removal is one background removal: tried closes after its first attempt,
// done once it succeeded (or the queue closed); err is its last failure.
type removal struct {
	what        string
	tried, done chan struct{}
	mu          sync.Mutex
	err         error
}

// New returns a queue retrying failures from 200 ms, doubling up to 30 s.
func New() *Queue {
	return &Queue{minBackoff: 200 * time.Millisecond, maxBackoff: 30 * time.Second,
		groups: map[string]map[*removal]bool{}, stop: make(chan struct{})}
}

// Add runs fn (named what, in group) in the background until it succeeds.
// After Close it runs fn once, in the caller's goroutine.
func (q *Queue) Add(ctx context.Context, group, what string, fn func(context.Context) error) {
	ctx = context.WithoutCancel(ctx)
	rm := &removal{what: what, tried: make(chan struct{}), done: make(chan struct{})}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		if err := fn(ctx); err != nil {
			log.G(ctx).WithError(err).WithField("removal", what).Warn("background removal failed as the daemon stops; the next start sweeps it")
		}
		return
	}
	if q.groups[group] == nil {
		q.groups[group] = map[*removal]bool{}
	}
	q.groups[group][rm] = true
	q.pending.Add(1)
	q.wg.Add(1)
	q.mu.Unlock()
	go func() {
		defer q.wg.Done()
		defer func() {
			q.mu.Lock()
			delete(q.groups[group], rm)
			if len(q.groups[group]) == 0 {
				delete(q.groups, group)
			}
			q.mu.Unlock()
			q.pending.Add(-1)
			close(rm.done)
		}()
		q.run(ctx, rm, fn)
	}()
}

// run tries fn until it succeeds or the queue closes. The first failure
// is logged as a warning, later ones only at debug level, the success
// after failures once more.
func (q *Queue) run(ctx context.Context, rm *removal, fn func(context.Context) error) {
	backoff := q.minBackoff
	for n := 1; ; n++ {
		err := fn(ctx)
		rm.mu.Lock()
		rm.err = err
		rm.mu.Unlock()
		if n == 1 {
			close(rm.tried)
		}
		if err == nil {
			if n > 1 {
				log.G(ctx).WithField("removal", rm.what).WithField("attempts", n).Info("background removal succeeded after retries")
			}
			return
		}
		e := log.G(ctx).WithError(err).WithField("removal", rm.what)
		if n == 1 {
			e.Warn("background removal failed; retrying with backoff until it succeeds")
		} else {
			e.Debug("background removal failed again")
		}
		q.retries.Add(1)
		select {
		case <-q.stop:
			log.G(ctx).WithError(err).WithField("removal", rm.what).Warn("background removal still failing as the daemon stops; the next start sweeps it")
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, q.maxBackoff)
	}
}

// Wait waits until every removal of group added before it has succeeded
// or failed at least once, and returns the last errors of those still
// failing (they go on retrying). An empty group waits for every group.
func (q *Queue) Wait(ctx context.Context, group string) error {
	q.mu.Lock()
	var rms []*removal
	for g, set := range q.groups {
		if group != "" && g != group {
			continue
		}
		for rm := range set {
			rms = append(rms, rm)
		}
	}
	q.mu.Unlock()
	var errs []error
	for _, rm := range rms {
		select {
		case <-rm.tried:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-rm.done:
			continue
		default:
		}
		rm.mu.Lock()
		if err := rm.err; err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rm.what, err))
		}
		rm.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Close stops retrying (what still fails is left to the next start's
// sweep) and waits for the attempts under way.
func (q *Queue) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.stop)
	}
	q.mu.Unlock()
	q.wg.Wait()
}

// Retries is how many attempts failed and were retried, since the start.
func (q *Queue) Retries() uint64 { return q.retries.Load() }

// Pending is how many removals have not yet succeeded.
func (q *Queue) Pending() int { return int(q.pending.Load()) }
