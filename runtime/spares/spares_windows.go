package spares

import (
	"context"

	"github.com/wincri/wincri/runtime/shim"
)

// Pool keeps no spares on Windows: containerd-shim-runhcs-v1 reads the
// pod's spec when it starts (isolation, the utility VM) and Windows cannot
// rename the directory a running shim works in. Take never returns one.
type Pool struct{}

// Spare is never made on Windows.
type Spare struct{ Shim *shim.Shim }

// New returns a pool that keeps no spares.
func New(Config) *Pool { return &Pool{} }

// Take never returns a spare on Windows.
func (*Pool) Take(context.Context, Handler, string) *Spare { return nil }

// Adopt, Discard, Refill, Close and Reap have nothing to do on Windows.
func (*Pool) Adopt(context.Context, *Spare) error { return nil }
func (*Pool) Discard(context.Context, *Spare)     {}
func (*Pool) Refill(Handler)                      {}
func (*Pool) Close()                              {}
func (*Pool) Reap(context.Context)                {}
