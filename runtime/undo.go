package runtime

import (
	"context"

	"github.com/containerd/log"
)

// undoList is what a failed multi-step operation (RunPodSandbox) undoes,
// in the order it runs, whatever order the steps were added in: first it
// waits for the work the operation started in the background (a shim's
// start, CNI ADD), in the order added, so that nothing is still being made
// while it is torn down; then it undoes what was made, the last made first.
// Every step runs even when one fails; failures are logged with the step's
// name.
type undoList struct {
	waits []undoStep
	undos []undoStep
}

type undoStep struct {
	name string
	fn   func(context.Context) error
}

// wait adds background work to finish before anything is undone.
func (u *undoList) wait(name string, fn func() error) {
	u.waits = append(u.waits, undoStep{name, func(context.Context) error { return fn() }})
}

// undo adds the undoing of a step that was made.
func (u *undoList) undo(name string, fn func(context.Context) error) {
	u.undos = append(u.undos, undoStep{name, fn})
}

// run runs the waits, then the undos last first, on a context that the
// caller's cancellation does not cut short; it returns the steps' names in
// the order they ran.
func (u *undoList) run(ctx context.Context, fields ...any) []string {
	ctx = context.WithoutCancel(ctx)
	var ran []string
	do := func(s undoStep, what string) {
		ran = append(ran, s.name)
		if err := s.fn(ctx); err != nil {
			e := log.G(ctx).WithError(err).WithField("step", s.name)
			for i := 0; i+1 < len(fields); i += 2 {
				e = e.WithField(fields[i].(string), fields[i+1])
			}
			e.Warn(what)
		}
	}
	for _, s := range u.waits {
		do(s, "undo: background work failed")
	}
	for i := len(u.undos) - 1; i >= 0; i-- {
		do(u.undos[i], "undo step failed")
	}
	return ran
}
