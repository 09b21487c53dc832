// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/vfs"
)

// withFS returns a copy of o using fsys and a silent logger.
func withFS(o Options, fsys vfs.FS) *Options {
	o.FS = fsys
	o.Logger = testutil.Quiet()
	return &o
}

func openT[T any](t testing.TB, dir string, o *Options) *Queue[T] {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Logger == nil {
		c := *o
		c.Logger = testutil.Quiet()
		o = &c
	}
	q, err := Open[T](dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// recvT receives one message, failing the test if none comes within a
// minute (inside a synctest bubble that minute passes at once when
// everything is blocked).
func recvT[T any](t testing.TB, c *Consumer[T]) *Message[T] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive(%q): %v", c.Name(), err)
	}
	return m
}

// noMessage checks that nothing is delivered within d.
func noMessage[T any](t testing.TB, c *Consumer[T], d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, err := c.Receive(ctx); err == nil {
		t.Fatalf("Receive(%q) got message %d (%v, attempt %d), want none", c.Name(), m.Seq, m.Value, m.Attempt)
	}
}

func mustPush[T any](t testing.TB, q *Queue[T], vs ...T) {
	t.Helper()
	for _, v := range vs {
		if _, err := q.Push(v); err != nil {
			t.Fatalf("Push(%v): %v", v, err)
		}
	}
}

func mustAck[T any](t testing.TB, m *Message[T]) {
	t.Helper()
	if err := m.Ack(); err != nil {
		t.Fatalf("Ack(%d): %v", m.Seq, err)
	}
}

// splitLines splits a journal file into lines, dropping the zeros that
// preallocation leaves after the last one.
func splitLines(b []byte) [][]byte {
	b = bytes.TrimRight(b, "\x00")
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

// recOf returns the record of a ministore journal line.
func recOf(line []byte) (string, bool) {
	_, rest, ok := bytes.Cut(line, []byte(`,"rec":`))
	if !ok {
		return "", false
	}
	i := bytes.LastIndex(rest, []byte(`,"crc":"`))
	if i < 0 {
		return "", false
	}
	return string(rest[:i]), true
}

// opOf returns the operation of a consumer record.
func opOf(rec string) string {
	var r struct{ Op string }
	json.Unmarshal([]byte(rec), &r)
	return r.Op
}
