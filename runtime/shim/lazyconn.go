package shim

import (
	"net"
	"sync"
	"time"
)

// lazyConn is a connection to a shim that is dialled on the first write.
// Reattaching after a restart then costs no round trip: each connection
// the shim accepts wakes its runtime, about a millisecond of CPU per shim,
// which 110 pods spend while the restarted daemon has yet to answer. Reads
// wait for the dial (ttrpc's receive loop reads at once); a failed dial
// fails the write and every read, so the client closes as on a shim that
// died.
type lazyConn struct {
	dial  func() (net.Conn, error)
	once  sync.Once
	ready chan struct{} // closed when conn or err is set

	mu     sync.Mutex
	conn   net.Conn
	err    error
	closed bool
}

func newLazyConn(dial func() (net.Conn, error)) *lazyConn {
	return &lazyConn{dial: dial, ready: make(chan struct{})}
}

// connect dials once; a Close before the dial leaves it undone.
func (l *lazyConn) connect() (net.Conn, error) {
	l.once.Do(func() {
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		var c net.Conn
		err := net.ErrClosed
		if !closed {
			c, err = l.dial()
		}
		l.mu.Lock()
		if l.closed && c != nil { // closed while dialling
			c.Close()
			c, err = nil, net.ErrClosed
		}
		l.conn, l.err = c, err
		l.mu.Unlock()
		close(l.ready)
	})
	<-l.ready
	return l.conn, l.err
}

func (l *lazyConn) Write(b []byte) (int, error) {
	c, err := l.connect()
	if err != nil {
		return 0, err
	}
	return c.Write(b)
}

func (l *lazyConn) Read(b []byte) (int, error) {
	<-l.ready
	if l.err != nil {
		return 0, l.err
	}
	return l.conn.Read(b)
}

func (l *lazyConn) Close() error {
	l.mu.Lock()
	l.closed = true
	c := l.conn
	l.mu.Unlock()
	if c != nil {
		return c.Close()
	}
	// Not dialled (or dialling): settle it, so that a pending read ends.
	if c, _ := l.connect(); c != nil {
		return c.Close()
	}
	return nil
}

// dialled is the connection once made (nil before).
func (l *lazyConn) dialled() net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn
}

type lazyAddr struct{}

func (lazyAddr) Network() string { return "unix" }
func (lazyAddr) String() string  { return "(not dialled)" }

func (l *lazyConn) LocalAddr() net.Addr {
	if c := l.dialled(); c != nil {
		return c.LocalAddr()
	}
	return lazyAddr{}
}

func (l *lazyConn) RemoteAddr() net.Addr {
	if c := l.dialled(); c != nil {
		return c.RemoteAddr()
	}
	return lazyAddr{}
}

// Deadlines need a connection, so setting one dials (ttrpc's client sets
// none).
func (l *lazyConn) withConn(f func(net.Conn) error) error {
	c, err := l.connect()
	if err != nil {
		return err
	}
	return f(c)
}

func (l *lazyConn) SetDeadline(t time.Time) error {
	return l.withConn(func(c net.Conn) error { return c.SetDeadline(t) })
}

func (l *lazyConn) SetReadDeadline(t time.Time) error {
	return l.withConn(func(c net.Conn) error { return c.SetReadDeadline(t) })
}

func (l *lazyConn) SetWriteDeadline(t time.Time) error {
	return l.withConn(func(c net.Conn) error { return c.SetWriteDeadline(t) })
}
