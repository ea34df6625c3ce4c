package shim

import (
	"bufio"
	"context"
	"io"
	"strings"

	"github.com/containerd/log"
)

// forwardShimLog drains a shim's log (a shim whose log nobody reads
// blocks): every line at debug level, else only the shim's warnings and
// errors. A small scanner per shim keeps a node with many pods light.
func forwardShimLog(ctx context.Context, id string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 2048), 1<<20)
	l := log.G(ctx).WithField("shim", id)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case log.GetLevel() >= log.DebugLevel:
			l.Debug(line)
		case strings.Contains(line, "level=error"), strings.Contains(line, "level=fatal"), strings.Contains(line, "level=panic"):
			l.Error(line)
		case strings.Contains(line, "level=warn"):
			l.Warn(line)
		}
	}
}
