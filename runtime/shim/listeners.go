package shim

import "strings"

// Listeners is a snapshot of the local socket addresses a process listens
// on (see Listening): a shim that still listens is alive without a
// connection that would wake it.
type Listeners struct {
	paths map[string]bool
}

// Has says whether a shim address ("unix:///path", or an abstract name
// without the scheme) was listening when the snapshot was taken.
func (l *Listeners) Has(address string) bool {
	path, ok := strings.CutPrefix(address, "unix://")
	if !ok {
		path = "@" + address // abstract, as /proc/net/unix shows it
	}
	return l.paths[path]
}
