// Package failpoint lets crash tests stop the daemon at a named point, the
// way a power cut or kill -9 would: WINCRI_FAILPOINTS=name[,name...] makes
// Crash(name) kill the process with SIGKILL. Unset, Crash does nothing.
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

// Crash kills this process at once if the named failpoint is enabled.
func Crash(name string) {
	if points[name] {
		kill()
	}
}
