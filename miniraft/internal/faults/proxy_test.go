// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes every line back.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through c and waits up to timeout for its echo.
func roundTrip(c net.Conn, r *bufio.Reader, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	c.SetDeadline(start.Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	_, err := r.ReadString('\n')
	return time.Since(start), err
}

func TestProxy(t *testing.T) {
	p, err := NewProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := roundTrip(c, r, 5*time.Second); err != nil {
		t.Fatalf("pass: %v", err)
	}

	// Delay: a round trip crosses the link twice.
	p.SetDelay(100 * time.Millisecond)
	if d, err := roundTrip(c, r, 5*time.Second); err != nil || d < 200*time.Millisecond {
		t.Fatalf("delay: round trip %v, %v; want >= 200ms", d, err)
	}
	p.SetDelay(0)

	// Drop: nothing arrives, and what was sent arrives after the heal,
	// on the same connection, nothing lost.
	p.SetDrop(true)
	if _, err := roundTrip(c, r, 300*time.Millisecond); err == nil {
		t.Fatal("drop: the echo came through")
	}
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	if _, err := roundTrip(c2, r2, 300*time.Millisecond); err == nil {
		t.Fatal("drop: a new connection came through")
	}
	p.SetDrop(false)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("after the drop: %q, %v", line, err)
	}
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := r2.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("new connection after the drop: %q, %v", line, err)
	}

	// Cut: open connections end; new ones pass.
	p.Cut()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("cut: the connection still works")
	}
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if _, err := roundTrip(c3, bufio.NewReader(c3), 5*time.Second); err != nil {
		t.Fatalf("after the cut: %v", err)
	}
}

func TestMeshIsolate(t *testing.T) {
	m := NewMesh()
	defer m.Close()
	addrs := map[string]string{"a": echoServer(t), "b": echoServer(t), "c": echoServer(t)}
	for _, id := range []string{"a", "b", "c"} {
		if err := m.Add(id, addrs[id]); err != nil {
			t.Fatal(err)
		}
	}
	m.Isolate("a", true)
	for _, tt := range []struct {
		from, to string
		pass     bool
	}{{"a", "b", false}, {"b", "a", false}, {"c", "a", false}, {"b", "c", true}, {"c", "b", true}} {
		c, err := net.Dial("tcp", m.Links(tt.from)[addrs[tt.to]])
		if err != nil {
			t.Fatal(err)
		}
		_, err = roundTrip(c, bufio.NewReader(c), 300*time.Millisecond)
		c.Close()
		if (err == nil) != tt.pass {
			t.Errorf("%s -> %s: err %v, want pass %v", tt.from, tt.to, err, tt.pass)
		}
	}
}
