package runtime

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// Waits run before any undo, in the order added; undos run last first;
// a failing step does not stop the others; the caller's cancellation does
// not reach the steps.
func TestUndoListOrder(t *testing.T) {
	var u undoList
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u.undo("release name", func(context.Context) error { return nil })
	u.undo("delete record", func(context.Context) error { return errors.New("store closed") })
	u.wait("shim start", func() error { return nil })
	var teardownCtx error
	u.undo("tear down", func(ctx context.Context) error { teardownCtx = ctx.Err(); return nil })
	u.wait("CNI ADD", func() error { return errors.New("CNI failed") })
	got := u.run(ctx, "pod", "x")
	want := []string{"shim start", "CNI ADD", "tear down", "delete record", "release name"}
	if !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	if teardownCtx != nil {
		t.Fatalf("an undo step got the caller's cancelled context: %v", teardownCtx)
	}
}
