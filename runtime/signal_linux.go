package runtime

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// stopSignal parses an image's StopSignal ("SIGQUIT", "QUIT", "3");
// SIGTERM when unset or unknown.
func stopSignal(s string) uint32 {
	if s == "" {
		return uint32(unix.SIGTERM)
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return uint32(n)
	}
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if sig := unix.SignalNum(s); sig != 0 {
		return uint32(sig)
	}
	return uint32(unix.SIGTERM)
}
