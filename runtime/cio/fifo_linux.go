package cio

import (
	"context"
	"os"
	"path/filepath"

	"github.com/containerd/fifo"
	"golang.org/x/sys/unix"
)

// NewStreams names FIFOs for a process in dir: stdout always, stderr unless
// terminal (a TTY has one stream), stdin when asked.
func NewStreams(dir, _ string, stdin, terminal bool) (Streams, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Streams{}, err
	}
	s := Streams{Stdout: filepath.Join(dir, "stdout"), Terminal: terminal}
	if !terminal {
		s.Stderr = filepath.Join(dir, "stderr")
	}
	if stdin {
		s.Stdin = filepath.Join(dir, "stdin")
	}
	return s, nil
}

// OpenPipes opens this daemon's ends of the FIFOs (creating them).
func OpenPipes(ctx context.Context, s Streams) (*Pipes, error) {
	p := &Pipes{}
	var err error
	ctx = context.WithoutCancel(ctx)
	if s.Stdout != "" {
		if p.Stdout, err = fifo.OpenFifo(ctx, s.Stdout, unix.O_RDONLY|unix.O_CREAT|unix.O_NONBLOCK, 0o700); err != nil {
			p.Close()
			return nil, err
		}
	}
	if s.Stderr != "" {
		if p.Stderr, err = fifo.OpenFifo(ctx, s.Stderr, unix.O_RDONLY|unix.O_CREAT|unix.O_NONBLOCK, 0o700); err != nil {
			p.Close()
			return nil, err
		}
	}
	if s.Stdin != "" {
		if p.Stdin, err = fifo.OpenFifo(ctx, s.Stdin, unix.O_WRONLY|unix.O_CREAT|unix.O_NONBLOCK, 0o700); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}
