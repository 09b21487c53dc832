// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mini-go/mini/vfs"
)

// Each message "aaaaaaaa" is stored as {"v":"aaaaaaaa"}: 16 bytes.
const msg16 = "aaaaaaaa"

func TestMaxBytesFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		q := memQueue[string](t, mem, Options{MaxBytes: 64})
		c := q.Consumer("")
		mustPush(t, q, msg16, msg16, msg16, msg16)
		_, err := q.Push(msg16)
		var fe *FullError
		if !errors.Is(err, ErrFull) || !errors.As(err, &fe) || fe.Size != 16 || fe.Used != 64 || fe.Max != 64 {
			t.Fatalf("Push into a full queue = %v, want a *FullError{16, 64, 64}", err)
		}
		if _, _, err := q.PushBatch(msg16, msg16); !errors.Is(err, ErrFull) {
			t.Fatalf("PushBatch into a full queue = %v", err)
		}
		if st := q.Stats(); st.Bytes != 64 || st.MaxBytes != 64 {
			t.Fatalf("stats %+v", st)
		}
		// Receiving does not make room; acknowledging does.
		m := recvT(t, c)
		if _, err := q.Push(msg16); !errors.Is(err, ErrFull) {
			t.Fatalf("Push with one in flight = %v", err)
		}
		mustAck(t, m)
		mustPush(t, q, msg16)
		// Too big ever to fit.
		if _, err := q.Push(strings.Repeat("b", 100)); !errors.Is(err, ErrFull) {
			t.Fatalf("Push of a message bigger than MaxBytes = %v", err)
		}
		// The count survives a reopen.
		q.Close()
		q = memQueue[string](t, mem, Options{MaxBytes: 64})
		if _, err := q.Push(msg16); !errors.Is(err, ErrFull) {
			t.Fatalf("Push after reopen = %v, want ErrFull", err)
		}
		if st := q.Stats(); st.Bytes != 64 {
			t.Fatalf("bytes after reopen %d", st.Bytes)
		}
	})
}

func TestMaxBytesBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[string](t, vfs.NewMem(), Options{MaxBytes: 32, BlockWhenFull: true})
		c := q.Consumer("")
		mustPush(t, q, msg16, msg16)
		start := time.Now()
		pushed := make(chan time.Duration)
		go func() {
			mustPush(t, q, msg16) // waits for room
			pushed <- time.Since(start)
		}()
		time.Sleep(5 * time.Second)
		mustAck(t, recvT(t, c))
		if d := <-pushed; d != 5*time.Second {
			t.Fatalf("blocked Push returned after %v, want 5s", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := q.PushContext(ctx, msg16); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("PushContext on a full queue = %v", err)
		}
		if time.Since(start) != 7*time.Second {
			t.Fatalf("PushContext gave up at %v", time.Since(start))
		}
		// Close wakes a blocked Push.
		done := make(chan error)
		go func() {
			_, err := q.Push(msg16)
			done <- err
		}()
		time.Sleep(time.Second)
		q.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Push after Close = %v", err)
		}
	})
}

// With fan-out, room comes back when the slowest consumer acknowledges.
func TestMaxBytesSlowestConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[string](t, vfs.NewMem(), Options{MaxBytes: 32})
		a, b := q.Consumer("a"), q.Consumer("b")
		mustPush(t, q, msg16, msg16)
		mustAck(t, recvT(t, a))
		mustAck(t, recvT(t, a))
		if _, err := q.Push(msg16); !errors.Is(err, ErrFull) {
			t.Fatalf("Push while b has not acked = %v", err)
		}
		mustAck(t, recvT(t, b))
		mustPush(t, q, msg16)
	})
}

// TestCapacityChunks checks the accounting with messages grouped in chunks
// of about MaxBytes/256: room comes back once every message of a chunk is
// resolved, never before.
func TestCapacityChunks(t *testing.T) {
	c := newCapacity(256 * 100) // chunks of 100 bytes
	for seq := uint64(1); seq <= 30; seq++ {
		c.add(seq, 30) // 4 messages (120 bytes) a chunk: 1-4, 5-8, ...
	}
	if c.used != 900 || len(c.chunks) != 8 {
		t.Fatalf("used %d in %d chunks", c.used, len(c.chunks))
	}
	room := c.room
	c.release(4, 30) // message 4 unresolved: nothing freed
	if c.used != 900 {
		t.Fatalf("released part of a chunk: used %d", c.used)
	}
	select {
	case <-room:
		t.Fatal("room signalled without room")
	default:
	}
	c.release(9, 30) // 1-8 resolved
	if c.used != 900-240 {
		t.Fatalf("used %d after releasing two chunks", c.used)
	}
	select {
	case <-room:
	default:
		t.Fatal("room not signalled")
	}
	c.release(31, 30) // everything, the partial last chunk included
	if c.used != 0 || !c.fits(256*100) {
		t.Fatalf("used %d after releasing everything", c.used)
	}
}
