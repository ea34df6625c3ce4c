package runtime

import "strconv"

// stopSignal: Windows containers get SIGTERM (15) unless a number is given;
// hcsshim turns it into a graceful shutdown.
func stopSignal(s string) uint32 {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return uint32(n)
	}
	return 15
}
