package images

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
)

// TestPullErrorClasses: only network failures are Unavailable; an errno
// from unpacking (a full disk, a call the OS lacks) is not "registry
// unreachable", though syscall.Errno satisfies net.Error.
func TestPullErrorClasses(t *testing.T) {
	extract := fmt.Errorf("failed to extract layer: write x: %w", syscall.ENOSPC)
	if err := pullError("r/x:1", "linux/amd64", extract); errdefs.IsUnavailable(err) {
		t.Fatalf("extraction errno classed as unavailable: %v", err)
	}
	dial := fmt.Errorf("resolve: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	if err := pullError("r/x:1", "linux/amd64", dial); !errdefs.IsUnavailable(err) {
		t.Fatalf("dial error not unavailable: %v", err)
	}
	dns := &net.DNSError{Err: "no such host", Name: "r"}
	if err := pullError("r/x:1", "linux/amd64", dns); !errdefs.IsUnavailable(err) {
		t.Fatalf("DNS error not unavailable: %v", err)
	}
}
