package server

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/Microsoft/go-winio"

	"github.com/wincri/wincri/runtime/winpipe"
)

// PipeSDDL admits only Administrators (BA) and SYSTEM (SY) to the pipe.
const PipeSDDL = "D:P(A;;GA;;;BA)(A;;GA;;;SY)"

// Listen opens the CRI endpoint: a named pipe (npipe:////./pipe/NAME) that
// only Administrators and SYSTEM may open. A pipe another live server
// answers on is not taken over.
func Listen(endpoint string) (net.Listener, error) {
	path, err := PipePath(endpoint)
	if err != nil {
		return nil, err
	}
	timeout := 500 * time.Millisecond
	if c, err := winio.DialPipe(path, &timeout); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s is served by another live process (another wincri?): refusing to take it over", path)
	}
	return winpipe.Listen(path, &winio.PipeConfig{
		SecurityDescriptor: PipeSDDL,
		InputBufferSize:    65536,
		OutputBufferSize:   65536,
	})
}

// PipePath turns npipe:////./pipe/NAME into \\.\pipe\NAME.
func PipePath(endpoint string) (string, error) {
	scheme, addr, err := splitEndpoint(endpoint, "npipe")
	if err != nil {
		return "", err
	}
	if scheme != "npipe" {
		return "", fmt.Errorf("endpoint %q: only npipe:// endpoints are served on Windows", endpoint)
	}
	p := strings.ReplaceAll(strings.TrimLeft(addr, "/"), "/", `\`)
	p = `\\` + p
	if !strings.HasPrefix(strings.ToLower(p), `\\.\pipe\`) || len(p) == len(`\\.\pipe\`) {
		return "", fmt.Errorf("endpoint %q is not a named pipe path like npipe:////./pipe/NAME", endpoint)
	}
	return p, nil
}
