package statscache

import (
	"context"
	"time"
)

// Readings are one kind of reading, by object id (guarded by the cache's
// mu).
type Readings[T any] struct {
	c                *Cache
	name             string
	maxAge, staleAge time.Duration
	m                map[string]reading[T]
}

type reading[T any] struct {
	at time.Time
	v  T
}

func newReadings[T any](c *Cache, name string, maxAge, staleAge time.Duration) *Readings[T] {
	return &Readings[T]{c: c, name: name, maxAge: maxAge, staleAge: staleAge, m: map[string]reading[T]{}}
}

// MaxAge is how old a reading may be before a new one is read.
func (k *Readings[T]) MaxAge() time.Duration { return k.maxAge }

// Get answers id's reading as the cache's rules say (see the package doc);
// read takes a new one, reporting false when it got none (then nothing is
// kept).
func (k *Readings[T]) Get(ctx context.Context, id string, read func(context.Context) (T, bool)) T {
	c := k.c
	c.mu.Lock()
	r, ok := k.m[id]
	c.mu.Unlock()
	if ok {
		age := time.Since(r.at)
		if age >= k.maxAge {
			c.Refresh(k.name+":"+id, func(ctx context.Context) {
				if v, ok := read(ctx); ok {
					k.Put(id, v, true)
				}
			})
		}
		if age < k.staleAge {
			return r.v
		}
	}
	v, ok := read(ctx)
	if ok {
		k.Put(id, v, false)
	}
	return v
}

// Put keeps a reading of id while the object is live; a background one
// (refreshing) only while a reading of id is kept, so a warm round renews
// only what a list asked for.
func (k *Readings[T]) Put(id string, v T, refreshing bool) {
	c := k.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, known := k.m[id]; refreshing && !known {
		return
	}
	if !c.isLive(id) {
		return
	}
	k.m[id] = reading[T]{at: time.Now(), v: v}
}

// Has says whether a reading of id is kept.
func (k *Readings[T]) Has(id string) bool {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	_, ok := k.m[id]
	return ok
}

// Age says how old id's reading is, if one is kept.
func (k *Readings[T]) Age(id string) (time.Duration, bool) {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	r, ok := k.m[id]
	return time.Since(r.at), ok
}

// Peek returns id's reading without reading a new one.
func (k *Readings[T]) Peek(id string) (T, bool) {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	r, ok := k.m[id]
	return r.v, ok
}

// PutAt keeps v as id's reading taken at at (a test's aged reading).
func (k *Readings[T]) PutAt(id string, v T, at time.Time) {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	k.m[id] = reading[T]{at: at, v: v}
}

func (k *Readings[T]) drop(id string) { delete(k.m, id) }

func (k *Readings[T]) ids() []string {
	out := make([]string, 0, len(k.m))
	for id := range k.m {
		out = append(out, id)
	}
	return out
}
