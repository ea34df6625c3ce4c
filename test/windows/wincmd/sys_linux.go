package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// command runs program p with the rest of a command line split into words.
func command(p, rest string) *exec.Cmd { return exec.Command(p, strings.Fields(rest)...) }

// processNames are the running processes' names (/proc/*/comm).
func processNames() ([]string, error) {
	comms, err := filepath.Glob("/proc/[0-9]*/comm")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range comms {
		if b, err := os.ReadFile(c); err == nil {
			names = append(names, strings.TrimSpace(string(b)))
		}
	}
	return names, nil
}
