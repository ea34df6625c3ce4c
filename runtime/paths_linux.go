package runtime

import "path/filepath"

func eventsAddress(state string) string { return filepath.Join(state, "events.sock") }

// shimSocketDir keeps shim sockets under the state dir when the path leaves
// room for a socket name (v2.4+ shims; older ones use /run/containerd/s).
func shimSocketDir(state string) string {
	d := filepath.Join(state, "s")
	if len(d) > 42 {
		return ""
	}
	return d
}
