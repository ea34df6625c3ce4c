package shim

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Listening reads which unix sockets of this network namespace listen
// (/proc/net/unix: the flag __SO_ACCEPTCON, 0x10000). A socket of a shim
// that exited is gone from it even when its file is left.
func Listening() (*Listeners, error) {
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseNetUnix(f)
}

func parseNetUnix(f io.Reader) (*Listeners, error) {
	l := &Listeners{paths: map[string]bool{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for first := true; sc.Scan(); first = false {
		// Num RefCount Protocol Flags Type St Inode Path
		fields := strings.Fields(sc.Text())
		if first || len(fields) < 8 {
			continue
		}
		flags, err := strconv.ParseUint(fields[3], 16, 32)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/unix: flags %q: %w", fields[3], err)
		}
		if flags&0x10000 != 0 {
			l.paths[strings.Join(fields[7:], " ")] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("/proc/net/unix: %w", err)
	}
	return l, nil
}
