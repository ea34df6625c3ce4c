package shim

import "testing"

// FuzzParseStartResponse: whatever a shim prints at start, parsing gives a
// result or an error.
func FuzzParseStartResponse(f *testing.F) {
	f.Add([]byte("unix:///run/containerd/s/abc\n"))
	f.Add([]byte(`{"version":3,"address":"unix:///x","protocol":"ttrpc"}`))
	f.Add([]byte{0x0a, 0x05, 't', 't', 'r', 'p', 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := parseStartResponse(b); err == nil && r.Address == "" {
			t.Fatalf("no address and no error for %q", b)
		}
	})
}
