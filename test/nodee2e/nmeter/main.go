// Command nmeter stands in for busybox's nmeter applet, which Debian's busybox
// (the base of the node e2e suite's busybox stand-in) is built without. It
// does only what the suite asks of it: `nmeter -d0 '%3t'` prints the time of
// day with N digits of fraction (%Nt, N 0-9, like busybox's %t) as fast as it
// is read; any other format directive or option is refused.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	args := os.Args[1:]
	delay := time.Second
	if len(args) > 0 && strings.HasPrefix(args[0], "-d") {
		var ms int
		if _, err := fmt.Sscanf(args[0], "-d%d", &ms); err != nil || ms < 0 {
			fail("bad option %q", args[0])
		}
		delay = time.Duration(ms) * time.Millisecond
		args = args[1:]
	}
	if len(args) != 1 {
		fail("usage: nmeter [-dMSEC] FORMAT")
	}
	format, err := parse(args[0])
	if err != nil {
		fail("%v", err)
	}
	w := bufio.NewWriter(os.Stdout)
	for {
		fmt.Fprintln(w, format(time.Now()))
		if w.Flush() != nil {
			return // the reader is gone (head -n1)
		}
		time.Sleep(delay)
	}
}

// parse turns FORMAT into a function of the time: literal text and %Nt only.
func parse(f string) (func(time.Time) string, error) {
	var parts []func(time.Time) string
	for len(f) > 0 {
		i := strings.IndexByte(f, '%')
		if i < 0 {
			lit := f
			parts = append(parts, func(time.Time) string { return lit })
			break
		}
		if i > 0 {
			lit := f[:i]
			parts = append(parts, func(time.Time) string { return lit })
		}
		f = f[i+1:]
		digits := 0
		if len(f) > 0 && f[0] >= '0' && f[0] <= '9' {
			digits, f = int(f[0]-'0'), f[1:]
		}
		if len(f) == 0 || f[0] != 't' {
			return nil, fmt.Errorf("format directive %%%s is not supported by this stand-in", f)
		}
		f = f[1:]
		layout := "15:04:05"
		if digits > 0 {
			layout += "." + strings.Repeat("0", digits)
		}
		parts = append(parts, func(t time.Time) string { return t.Format(layout) })
	}
	return func(t time.Time) string {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p(t))
		}
		return b.String()
	}, nil
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "nmeter: "+format+"\n", a...)
	os.Exit(1)
}
