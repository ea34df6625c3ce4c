package cio

import (
	"context"
	"errors"
	"io"
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

// reopenPipes opens this daemon's ends of a running process's FIFOs again.
// Its output ends are opened without waiting: containerd/fifo's open (a
// blocking one in a goroutine, through an O_PATH handle and /proc lookups)
// was most of this daemon's work in a restart on a full node.
func reopenPipes(ctx context.Context, s Streams) (*Pipes, error) {
	p := &Pipes{}
	for _, e := range []struct {
		path string
		end  *io.ReadCloser
	}{{s.Stdout, &p.Stdout}, {s.Stderr, &p.Stderr}} {
		if e.path == "" {
			continue
		}
		f, err := OpenFifoNow(e.path, unix.O_RDONLY)
		if err != nil {
			p.Close()
			return nil, err
		}
		*e.end = f
	}
	if s.Stdin != "" {
		in, err := OpenPipes(ctx, Streams{Stdin: s.Stdin})
		if err != nil {
			p.Close()
			return nil, err
		}
		p.Stdin = in.Stdin
	}
	return p, nil
}

// OpenFifoNow opens the FIFO at path (creating it) with flag, without
// waiting for its other end: a reading end with no writer reads as ended.
func OpenFifoNow(path string, flag int) (*os.File, error) {
	if err := unix.Mkfifo(path, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, err
	}
	return os.OpenFile(path, flag|unix.O_NONBLOCK, 0)
}
