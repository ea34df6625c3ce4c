package cio

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/wincri/wincri/runtime/winpipe"
)

// NewStreams names the named pipes for a process (id must be unique): the
// shim connects to pipes this daemon serves, as with containerd.
func NewStreams(_ string, id string, stdin, terminal bool) (Streams, error) {
	base := `\\.\pipe\wincri-` + id
	s := Streams{Stdout: base + "-stdout", Terminal: terminal}
	if !terminal {
		s.Stderr = base + "-stderr"
	}
	if stdin {
		s.Stdin = base + "-stdin"
	}
	return s, nil
}

// OpenPipes listens on the named pipes; each end becomes usable once the
// shim connects.
func OpenPipes(_ context.Context, s Streams) (*Pipes, error) {
	p := &Pipes{}
	for _, e := range []struct {
		path string
		set  func(*pipeConn)
	}{
		{s.Stdout, func(c *pipeConn) { p.Stdout = c }},
		{s.Stderr, func(c *pipeConn) { p.Stderr = c }},
		{s.Stdin, func(c *pipeConn) { p.Stdin = c }},
	} {
		if e.path == "" {
			continue
		}
		l, err := winpipe.Listen(e.path, nil)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("listen %s: %w", e.path, err)
		}
		e.set(acceptOne(l))
	}
	return p, nil
}

// pipeConn is the first connection a listener accepts; reads and writes
// wait for it.
type pipeConn struct {
	l    net.Listener
	once sync.Once
	done chan struct{}
	c    net.Conn
	err  error
}

func acceptOne(l net.Listener) *pipeConn {
	pc := &pipeConn{l: l, done: make(chan struct{})}
	go func() {
		pc.c, pc.err = l.Accept()
		l.Close()
		close(pc.done)
	}()
	return pc
}

func (p *pipeConn) conn() (net.Conn, error) {
	<-p.done
	if p.err != nil {
		return nil, p.err
	}
	return p.c, nil
}

func (p *pipeConn) Read(b []byte) (int, error) {
	c, err := p.conn()
	if err != nil {
		return 0, io.EOF
	}
	return c.Read(b)
}

func (p *pipeConn) Write(b []byte) (int, error) {
	c, err := p.conn()
	if err != nil {
		return 0, err
	}
	return c.Write(b)
}

func (p *pipeConn) Close() error {
	p.l.Close()
	select {
	case <-p.done:
		if p.c != nil {
			return p.c.Close()
		}
	default:
	}
	return nil
}

// reopenPipes: the shim connects to named pipes again as it did first.
func reopenPipes(ctx context.Context, s Streams) (*Pipes, error) { return OpenPipes(ctx, s) }
