package images

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestFlightsShareOneRun(t *testing.T) {
	var f flights
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (string, error) {
		runs.Add(1)
		<-release
		return "id", nil
	}
	res := make(chan string, 5)
	for range 5 {
		go func() { v, _ := f.do(context.Background(), "k", fn); res <- v }()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	for range 5 {
		if v := <-res; v != "id" {
			t.Fatalf("got %q", v)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d runs for 5 concurrent callers, want 1", n)
	}
}

func TestFlightsCancelOnlyWhenEveryCallerGaveUp(t *testing.T) {
	var f flights
	started := make(chan struct{})
	release := make(chan struct{})
	fn := func(ctx context.Context) (string, error) {
		close(started)
		select {
		case <-release:
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	quitter, quit := context.WithCancel(context.Background())
	quitErr := make(chan error, 1)
	go func() { _, err := f.do(quitter, "k", fn); quitErr <- err }()
	<-started
	stayed := make(chan string, 1)
	go func() { v, _ := f.do(context.Background(), "k", fn); stayed <- v }()
	time.Sleep(20 * time.Millisecond)
	quit()
	if err := <-quitErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("caller that gave up got %v", err)
	}
	close(release)
	if v := <-stayed; v != "done" {
		t.Fatalf("the caller still waiting got %q: the run was cancelled under it", v)
	}

	// A lone caller giving up cancels the run.
	cancelled := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go f.do(ctx, "k2", func(ctx context.Context) (string, error) {
		<-ctx.Done()
		cancelled <- ctx.Err()
		return "", ctx.Err()
	})
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("run not cancelled after its only caller gave up")
	}
}
