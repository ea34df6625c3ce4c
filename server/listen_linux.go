package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Listen opens the CRI endpoint: a unix socket of mode 0600. A stale socket
// left by a dead daemon is replaced; a socket a live server answers on is not.
func Listen(endpoint string) (net.Listener, error) {
	scheme, path, err := splitEndpoint(endpoint, "unix")
	if err != nil {
		return nil, err
	}
	if scheme != "unix" {
		return nil, fmt.Errorf("endpoint %q: only unix:// endpoints are served on Linux", endpoint)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is served by another live process (another wincri?): refusing to take it over", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// Create the socket 0600 from the start, not chmod it after a window
	// in which anyone could connect.
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
