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
	if p.Stdin != nil {
		p.Stdin.Close()
	}
	if p.Stdout != nil {
		p.Stdout.Close()
	}
	if p.Stderr != nil {
		p.Stderr.Close()
	}
}

// Logger copies a container's output into its CRI log until the process's
// streams close, and to attached clients while they are attached.
type Logger struct {
	Log   *LogFile
	pipes *Pipes
	wg    sync.WaitGroup

	mu       sync.Mutex
	attached map[*attachment]struct{}
}

type attachment struct{ stdout, stderr io.Writer }

// StartLogger opens the stream ends for s and copies output into log.
func StartLogger(ctx context.Context, s Streams, log *LogFile) (*Logger, error) {
	p, err := OpenPipes(ctx, s)
	if err != nil {
		return nil, err
	}
	return startLogger(p, log), nil
}

// ReattachLogger is StartLogger for a process whose shim already holds its
// streams (a running container after a restart of this daemon): its output
// ends are opened without waiting for a writer, and one with no writer left
// reads as output that has ended.
func ReattachLogger(ctx context.Context, s Streams, log *LogFile) (*Logger, error) {
	p, err := reopenPipes(ctx, s)
	if err != nil {
		return nil, err
	}
	return startLogger(p, log), nil
}

func startLogger(p *Pipes, log *LogFile) *Logger {
	l := &Logger{Log: log, pipes: p, attached: map[*attachment]struct{}{}}
	for stream, r := range map[string]io.ReadCloser{"stdout": p.Stdout, "stderr": p.Stderr} {
		if r == nil {
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			log.Copy(stream, &teeReader{r: r, l: l, stderr: stream == "stderr"})
		}()
	}
	return l
}

// Attach sends the container's output, as it comes, to stdout and stderr
// (nil to skip one) until detach is called.
func (l *Logger) Attach(stdout, stderr io.Writer) (detach func()) {
	a := &attachment{stdout: stdout, stderr: stderr}
	l.mu.Lock()
	l.attached[a] = struct{}{}
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.attached, a)
		l.mu.Unlock()
	}
}

// teeReader hands each chunk read to the attached clients before the log
// splits it into lines.
type teeReader struct {
	r      io.Reader
	l      *Logger
	stderr bool
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.l.mu.Lock()
		for a := range t.l.attached {
			w := a.stdout
			if t.stderr {
				w = a.stderr
			}
			if w != nil {
				w.Write(p[:n])
			}
		}
		t.l.mu.Unlock()
	}
	return n, err
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
