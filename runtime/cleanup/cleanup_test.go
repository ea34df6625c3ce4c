package cleanup

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func fastQueue() *Queue {
	q := New()
	q.minBackoff, q.maxBackoff = time.Millisecond, 5*time.Millisecond
	return q
}

// A failing removal is retried until it succeeds and counted; while it
// fails, a wait for its group returns its error.
func TestRetriesUntilSuccess(t *testing.T) {
	q := fastQueue()
	defer q.Close()
	var fail atomic.Bool
	fail.Store(true)
	var calls atomic.Int32
	q.Add(context.Background(), "pod", "ctr", func(context.Context) error {
		calls.Add(1)
		if fail.Load() {
			return errors.New("device or resource busy")
		}
		return nil
	})
	if err := q.Wait(context.Background(), "pod"); err == nil {
		t.Fatal("wait for a failing removal returned no error")
	}
	for calls.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	if q.Retries() < 2 || q.Pending() != 1 {
		t.Fatalf("after 3 failed attempts: %d retries counted, %d pending", q.Retries(), q.Pending())
	}
	fail.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for q.Pending() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the removal did not succeed once it could")
		}
		time.Sleep(time.Millisecond)
	}
	if err := q.Wait(context.Background(), "pod"); err != nil {
		t.Fatalf("wait after the removal succeeded: %v", err)
	}
}

// A wait for one pod's removals does not wait for another pod's.
func TestWaitPerGroup(t *testing.T) {
	q := fastQueue()
	release := make(chan struct{})
	q.Add(context.Background(), "slow", "a", func(context.Context) error { <-release; return nil })
	q.Add(context.Background(), "quick", "b", func(context.Context) error { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := q.Wait(ctx, "quick"); err != nil {
		t.Fatalf("wait for pod quick: %v (it waited for pod slow)", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := q.Wait(short, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for pod slow while its removal runs: %v", err)
	}
	if err := q.Wait(short, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for every pod while one removal runs: %v", err)
	}
	close(release)
	if err := q.Wait(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	q.Close()
}

// Close stops retrying and waits for the attempt under way; a removal
// added afterwards runs once, at once.
func TestClose(t *testing.T) {
	q := fastQueue()
	q.Add(context.Background(), "pod", "x", func(context.Context) error { return errors.New("no") })
	q.Close()
	if q.Pending() != 0 {
		t.Fatalf("%d removals still pending after close", q.Pending())
	}
	ran := false
	q.Add(context.Background(), "pod", "y", func(context.Context) error { ran = true; return nil })
	if !ran {
		t.Fatal("a removal added after close did not run")
	}
}
