package images

import (
	"context"
	"sync"
)

// flights shares one run of a function among concurrent callers with the same
// key. The run's context ends when every caller waiting for it has given up,
// not when the first one does.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int
	val     string
	err     error
}

func (f *flights) do(ctx context.Context, key string, fn func(context.Context) (string, error)) (string, error) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]*flight{}
	}
	fl, ok := f.m[key]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		fl = &flight{done: make(chan struct{}), cancel: cancel}
		f.m[key] = fl
		go func() {
			fl.val, fl.err = fn(fctx)
			cancel()
			f.forget(key, fl)
			close(fl.done)
		}()
	}
	fl.waiters++
	f.mu.Unlock()

	select {
	case <-fl.done:
		return fl.val, fl.err
	case <-ctx.Done():
		f.mu.Lock()
		fl.waiters--
		last := fl.waiters == 0
		f.mu.Unlock()
		if last {
			fl.cancel()
			// A new caller must start afresh rather than join a dying run.
			f.forget(key, fl)
		}
		return "", ctx.Err()
	}
}

func (f *flights) forget(key string, fl *flight) {
	f.mu.Lock()
	if f.m[key] == fl {
		delete(f.m, key)
	}
	f.mu.Unlock()
}
