package pgtest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoServer starts a line echo server on 127.0.0.1, stopped at cleanup.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); _, _ = io.Copy(c, c) })
		}
	})
	return ln.Addr().String()
}

// roundTrip sends one line over c and reads it back.
func roundTrip(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return errors.New("echo mismatch: " + line)
	}
	return nil
}

// dial connects to addr or fails the test.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxyCutRestore(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	live := dial(t, p.Addr())
	if err := roundTrip(live); err != nil {
		t.Fatalf("before cut: %v", err)
	}

	p.Cut()
	if err := roundTrip(live); err == nil {
		t.Fatal("live connection still works after Cut")
	}
	if err := roundTrip(dial(t, p.Addr())); err == nil {
		t.Fatal("new connection works while cut")
	}

	p.Restore()
	if err := roundTrip(dial(t, p.Addr())); err != nil {
		t.Fatalf("after restore: %v", err)
	}
}

func TestProxyURL(t *testing.T) {
	p := NewProxy(t, "postgres://u@127.0.0.1:5432/db?sslmode=disable")
	if p.target != "127.0.0.1:5432" {
		t.Fatalf("target = %q, want the URL's host:port", p.target)
	}
	want := "postgres://u@" + p.Addr() + "/db?sslmode=disable"
	if got := p.URL("postgres://u@127.0.0.1:5432/db?sslmode=disable"); got != want {
		t.Fatalf("URL = %q, want %q", got, want)
	}
}
