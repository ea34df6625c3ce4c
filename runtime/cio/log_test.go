package cio

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var entry = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (stdout|stderr) ([PF]) (.*)$`)

func readEntries(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		m := entry.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a CRI log line: %q", l)
		}
		out = append(out, m[2:])
	}
	return out
}

func TestCopyWritesCRILogFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	l, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxLogLine+10)
	in := "hello\r\n\n" + long + "\nno newline at end"
	if err := l.Copy("stdout", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got := readEntries(t, path)
	want := [][]string{{"stdout", "F", "hello"}, {"stdout", "F", ""}, {"stdout", "P", long[:len(got[2][2])]}, {"stdout", "F", long[len(got[2][2]):]}, {"stdout", "P", "no newline at end"}}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i][0] != want[i][0] || got[i][1] != want[i][1] || got[i][2] != want[i][2] {
			t.Errorf("entry %d = %q %q (%d bytes), want %q %q (%d bytes)", i, got[i][0], got[i][1], len(got[i][2]), want[i][0], want[i][1], len(want[i][2]))
		}
	}
	if n := len(got[2][2]); n < maxLogLine || n > maxLogLine+readBuf {
		t.Errorf("partial entry of %d bytes, want about %d", n, maxLogLine)
	}
}

func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	l, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Copy("stderr", strings.NewReader("before\n"))
	// kubelet rotates: renames the open log (on Windows this needs the
	// log opened with FILE_SHARE_DELETE), then asks for a reopen.
	if err := os.Rename(path, path+".1"); err != nil {
		l.Close()
		t.Fatalf("rotating the open log: %v", err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Copy("stderr", strings.NewReader("after\n"))
	l.Close()
	if e := readEntries(t, path); len(e) != 1 || e[0][2] != "after" || e[0][0] != "stderr" {
		t.Errorf("new file: %q", e)
	}
	if e := readEntries(t, path+".1"); len(e) != 1 || e[0][2] != "before" {
		t.Errorf("rotated file: %q", e)
	}
	// A container without a log path discards its output.
	none, err := OpenLog("")
	if err != nil || none.Copy("stdout", strings.NewReader("x\n")) != nil || none.Reopen() != nil {
		t.Errorf("log without a path: %v", err)
	}
}
