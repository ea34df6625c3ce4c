package cio

import (
	"context"
	"io"
	"os"
	"sync"
)

// Streams are the paths of a process's standard streams, as the shim is
// given them ("" for a stream the process does not have).
type Streams struct {
	Stdin, Stdout, Stderr string
	Terminal              bool
}

// Pipes are this daemon's ends of a process's streams.
type Pipes struct {
	Stdin          io.WriteCloser
	Stdout, Stderr io.ReadCloser
}

// Close closes every end.
func (p *Pipes) Close() {
	for _, c := range []io.Closer{p.Stdin, p.Stdout, p.Stderr} {
		if c != nil && c != (io.Closer)(nil) {
			c.Close()
		}
	}
}

// Logger copies a container's output into its CRI log until the process's
// streams close.
type Logger struct {
	Log   *LogFile
	pipes *Pipes
	wg    sync.WaitGroup
}

// StartLogger opens the stream ends for s and copies output into log.
func StartLogger(ctx context.Context, s Streams, log *LogFile) (*Logger, error) {
	p, err := OpenPipes(ctx, s)
	if err != nil {
		return nil, err
	}
	l := &Logger{Log: log, pipes: p}
	for stream, r := range map[string]io.ReadCloser{"stdout": p.Stdout, "stderr": p.Stderr} {
		if r == nil {
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			log.Copy(stream, r)
		}()
	}
	return l, nil
}

// Stdin is the write end of the container's stdin, or nil.
func (l *Logger) Stdin() io.WriteCloser { return l.pipes.Stdin }

// Wait waits until the output streams are drained (after the process exited).
func (l *Logger) Wait() { l.wg.Wait() }

// Close stops copying and closes the log.
func (l *Logger) Close() {
	l.pipes.Close()
	l.Log.Close()
}

// RemoveStreams removes what NewStreams created in dir.
func RemoveStreams(dir string) error { return os.RemoveAll(dir) }
