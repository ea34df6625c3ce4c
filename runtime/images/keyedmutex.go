package images

import (
	"context"
	"sync"
)

// keyedMutex is one mutex per key, taken with a context. The unpacker of
// every pull locks a layer's chain id with it while unpacking: a second pull
// of the same layers (another tag, a digest, a pod racing a pre-pull) waits
// for the first's unpack and finds the snapshot there, instead of unpacking
// the layer again (containerd's CRI keeps one the same way).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	ch   chan struct{} // holds a token while locked
	refs int
}

func newKeyedMutex() *keyedMutex { return &keyedMutex{locks: map[string]*keyedLock{}} }

// Lock takes key's mutex, or returns ctx's error.
func (k *keyedMutex) Lock(ctx context.Context, key string) error {
	k.mu.Lock()
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		k.release(key, l)
		return ctx.Err()
	}
}

// Unlock releases key's mutex.
func (k *keyedMutex) Unlock(key string) {
	k.mu.Lock()
	l := k.locks[key]
	k.mu.Unlock()
	if l == nil {
		return
	}
	<-l.ch
	k.release(key, l)
}

func (k *keyedMutex) release(key string, l *keyedLock) {
	k.mu.Lock()
	if l.refs--; l.refs == 0 {
		delete(k.locks, key)
	}
	k.mu.Unlock()
}
