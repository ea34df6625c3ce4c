package runtime

import (
	"context"

	"github.com/wincri/wincri/runtime/shim"
)

// spareShims keeps no spares on Windows: containerd-shim-runhcs-v1 reads the
// pod's spec when it starts (isolation, the utility VM) and Windows cannot
// rename the directory a running shim works in. take never returns one.
type spareShims struct{}

type spare struct{ s *shim.Shim }

func newSpareShims(*Runtime) *spareShims                         { return &spareShims{} }
func (*spareShims) take(context.Context, handler, string) *spare { return nil }
func (*spareShims) adopt(context.Context, *spare) error          { return nil }
func (*spareShims) discard(context.Context, *spare)              {}
func (*spareShims) refill(handler)                               {}
func (*spareShims) close()                                       {}
func (*spareShims) reap(context.Context)                         {}
