// Package spares keeps started, idle runtime-v2 shims that the next pod
// takes instead of waiting for its own to start (see Pool).
package spares

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/wincri/wincri/runtime/shim"
)

// Config is what a Pool needs of its runtime.
type Config struct {
	// Dir holds the spares' directories (<state>/spares).
	Dir string
	// Enabled keeps spares (the config's spare_shims).
	Enabled bool
	// Shims starts and connects to shims.
	Shims *shim.Manager
	// Quiet says whether no pod or container has started or stopped for d.
	Quiet func(d time.Duration) bool
	// Handler finds a runtime handler by name (for spares a crash left).
	Handler func(name string) (Handler, error)
}

// Handler is a runtime handler: its name, shim binary and shim options.
type Handler struct {
	Name, Shim string
	Opts       proto.Message
}
