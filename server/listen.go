package server

import (
	"fmt"
	"strings"
)

// splitEndpoint splits "scheme://address" into its parts. A bare address
// takes the platform's scheme.
func splitEndpoint(ep, defaultScheme string) (scheme, addr string, err error) {
	scheme, addr, ok := strings.Cut(ep, "://")
	if !ok {
		scheme, addr = defaultScheme, ep
	}
	if addr == "" {
		return "", "", fmt.Errorf("endpoint %q has no address", ep)
	}
	return scheme, addr, nil
}
