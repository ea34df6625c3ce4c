package shim

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestLazyConnDialsOnFirstWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dials atomic.Int32
	l := newLazyConn(func() (net.Conn, error) {
		dials.Add(1)
		return net.Dial("tcp", ln.Addr().String())
	})
	defer l.Close()
	read := make(chan string, 1)
	go func() { // as ttrpc's receive loop: a read before anything is written
		b := make([]byte, 4)
		_, err := io.ReadFull(l, b)
		if err != nil {
			read <- "error: " + err.Error()
			return
		}
		read <- string(b)
	}()
	time.Sleep(100 * time.Millisecond)
	if n := dials.Load(); n != 0 {
		t.Fatalf("%d dials before the first write, want 0", n)
	}
	if _, err := l.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	b := make([]byte, 4)
	if _, err := io.ReadFull(srv, b); err != nil || string(b) != "ping" {
		t.Fatalf("server read %q, %v", b, err)
	}
	srv.Write([]byte("pong"))
	select {
	case got := <-read:
		if got != "pong" {
			t.Fatalf("read %q, want pong", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read waiting for the dial never returned")
	}
	l.Write([]byte("more"))
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d dials, want 1", n)
	}
}

func TestLazyConnClosedBeforeDial(t *testing.T) {
	var dials atomic.Int32
	l := newLazyConn(func() (net.Conn, error) { dials.Add(1); return nil, errors.New("dialled") })
	done := make(chan error, 1)
	go func() { _, err := l.Read(make([]byte, 1)); done <- err }()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a pending read outlived Close")
	}
	if _, err := l.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("a closed connection dialled %d times", n)
	}
}

func TestLazyConnDialFails(t *testing.T) {
	refused := errors.New("connection refused")
	l := newLazyConn(func() (net.Conn, error) { return nil, refused })
	if _, err := l.Write([]byte("x")); !errors.Is(err, refused) {
		t.Fatalf("write: %v, want the dial's error", err)
	}
	if _, err := l.Read(make([]byte, 1)); !errors.Is(err, refused) {
		t.Fatalf("read: %v, want the dial's error", err)
	}
}
