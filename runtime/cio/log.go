// Package cio connects container and exec processes' standard streams:
// FIFOs (named pipes on Windows) the shim writes to, and the CRI log file
// kubelet reads.
package cio

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// maxLogLine is where a log line is split into partial (P) entries, as
// kubelet's and containerd's writers do; readBuf is what is read at once.
const (
	maxLogLine = 16 * 1024
	readBuf    = 4096
)

// LogFile is a CRI-format log file (`<RFC3339Nano> <stream> <P|F> <line>`)
// that can be reopened after kubelet rotates it.
type LogFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenLog opens (appending) or creates the CRI log at path.
func OpenLog(path string) (*LogFile, error) {
	l := &LogFile{path: path}
	if err := l.Reopen(); err != nil {
		return nil, err
	}
	return l, nil
}

// Reopen closes the file and opens path again (ReopenContainerLog). A
// LogFile without a path (the container has no log) discards output.
func (l *LogFile) Reopen() error {
	if l.path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
		return err
	}
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Close closes the file.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func (l *LogFile) writeEntry(stream string, partial bool, line []byte) {
	tag := " F "
	if partial {
		tag = " P "
	}
	buf := make([]byte, 0, len(line)+64)
	buf = time.Now().UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, ' ')
	buf = append(buf, stream...)
	buf = append(buf, tag...)
	buf = append(buf, line...)
	buf = append(buf, '\n')
	l.mu.Lock()
	if l.f != nil {
		l.f.Write(buf)
	}
	l.mu.Unlock()
}

// Copy writes every line read from r into the log as stream ("stdout" or
// "stderr") until r ends. Lines longer than maxLogLine become partial (P)
// entries, and so does what is left without a newline when r ends (as
// containerd's writer does: the kubelet joins P entries without a newline,
// so a container that printed "DONE" without one has "DONE" as its
// FallbackToLogsOnError termination message, not "DONE\n"). It reads
// through a small buffer and grows a line buffer only for long lines, so a
// quiet container costs little.
func (l *LogFile) Copy(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, readBuf)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if err == nil { // a whole line: drop its \n or \r\n
			chunk = chunk[:len(chunk)-1]
			if n := len(chunk); n > 0 && chunk[n-1] == '\r' {
				chunk = chunk[:n-1]
			}
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			l.writeEntry(stream, false, line)
		case errors.Is(err, bufio.ErrBufferFull):
			if len(line) < maxLogLine {
				continue
			}
			l.writeEntry(stream, true, line)
		default: // r ended (or failed): what is left has no newline
			if len(line) > 0 {
				l.writeEntry(stream, true, line)
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		line = line[:0]
	}
}
