// Package failpoint lets crash tests stop the daemon at a named point, the
// way a power cut or kill -9 would: WINCRI_FAILPOINTS=name[,name...] makes
// Crash(name) kill the process with SIGKILL, and Panic(name) panic. Unset,
// they do nothing.
package failpoint

import (
	"os"
	"strings"
)

var points = parse(os.Getenv("WINCRI_FAILPOINTS"))

func parse(v string) map[string]bool {
	if v == "" {
		return nil
	}
	m := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		m[strings.TrimSpace(p)] = true
	}
	return m
}

// Panic panics if the named failpoint is enabled: tests use it to check
// that a handler's panic becomes an Internal error, not a dead daemon (or
// a dead containerd, in plugin mode).
func Panic(name string) {
	if points[name] {
		panic("failpoint " + name)
	}
}

// Crash kills this process at once if the named failpoint is enabled.
func Crash(name string) {
	if points[name] {
		kill()
	}
}
