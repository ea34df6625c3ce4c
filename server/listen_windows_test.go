package server

import "testing"

func TestPipePath(t *testing.T) {
	for in, want := range map[string]string{
		"npipe:////./pipe/wincri": `\\.\pipe\wincri`,
		"npipe://./pipe/wincri":   `\\.\pipe\wincri`,
		`\\.\pipe\wincri`:         "",
		"unix:///run/wincri.sock": "",
		"npipe:////./notpipe/x":   "",
		"npipe:////./pipe/":       "",
	} {
		got, err := PipePath(in)
		if want == "" {
			if err == nil {
				t.Errorf("PipePath(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("PipePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
