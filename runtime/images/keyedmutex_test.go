package images

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyedMutex(t *testing.T) {
	k := newKeyedMutex()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := k.Lock(context.Background(), "a"); err != nil {
				t.Error(err)
				return
			}
			if n := inside.Add(1); n > most.Load() {
				most.Store(n)
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			k.Unlock("a")
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders at once", most.Load())
	}
	// Another key is free while "a" is held; a waiter gives up with its context.
	k.Lock(context.Background(), "a")
	if err := k.Lock(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := k.Lock(ctx, "a"); err == nil {
		t.Fatal("took a held lock")
	}
	k.Unlock("a")
	k.Unlock("b")
	if len(k.locks) != 0 {
		t.Fatalf("locks left: %v", k.locks)
	}
}
