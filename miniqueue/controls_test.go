// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mini-go/mini/vfs"
)

// reopenHow gives the disk a queue is reopened on: after Close, or after a
// power loss (only what was fsync'd).
func reopenOn(t *testing.T, q interface{ Close() error }, mem *vfs.Mem, how string) vfs.FS {
	if how == "close" {
		q.Close()
		return mem
	}
	return mem.CrashClone(vfs.CrashOptions{})
}

func recvValues[T any](t *testing.T, c *Consumer[T], n int) []T {
	t.Helper()
	var out []T
	for range n {
		m := recvT(t, c)
		out = append(out, m.Value)
		mustAck(t, m)
	}
	return out
}

func TestPurge(t *testing.T) {
	for _, how := range []string{"close", "power loss"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := vfs.NewMem()
				q := memQueue[int](t, mem, Options{})
				a, b := q.Consumer("a"), q.Consumer("b")
				mustPush(t, q, 1, 2, 3, 4, 5)
				held := recvT(t, a)
				if err := q.Purge(3); err != nil {
					t.Fatal(err)
				}
				if err := held.Ack(); !errors.Is(err, ErrAcked) {
					t.Fatalf("Ack of a purged message = %v, want ErrAcked", err)
				}
				if q.Len() != 2 || a.Lag() != 2 || b.Lag() != 2 {
					t.Fatalf("after Purge(3): Len %d, lags %d %d; want 2", q.Len(), a.Lag(), b.Lag())
				}
				q2 := memQueue[int](t, reopenOn(t, q, mem, how), Options{})
				q2.Consumer("new") // starts after the purged messages
				for _, name := range []string{"a", "b", "new"} {
					if got := recvValues(t, q2.Consumer(name), 2); got[0] != 4 || got[1] != 5 {
						t.Fatalf("consumer %q after Purge(3) and a reopen: %v, want [4 5]", name, got)
					}
					noMessage(t, q2.Consumer(name), time.Minute)
				}
				mustPush(t, q2, 6, 7)
				if err := q2.Purge(0); err != nil {
					t.Fatal(err)
				}
				if q2.Len() != 0 {
					t.Fatalf("Len %d after Purge(0)", q2.Len())
				}
				mustPush(t, q2, 8)
				if got := recvValues(t, q2.Consumer("a"), 1); got[0] != 8 {
					t.Fatalf("after Purge(0) got %v, want [8]", got)
				}
			})
		})
	}
}

// Purge with no consumer: the first one starts after the purged messages.
func TestPurgeWithoutConsumers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[int](t, vfs.NewMem(), Options{})
		mustPush(t, q, 1, 2, 3)
		if err := q.Purge(2); err != nil {
			t.Fatal(err)
		}
		if q.Len() != 1 {
			t.Fatalf("Len %d, want 1", q.Len())
		}
		if got := recvValues(t, q.Consumer(""), 1); got[0] != 3 {
			t.Fatalf("got %v, want [3]", got)
		}
	})
}

func TestDelete(t *testing.T) {
	for _, how := range []string{"close", "power loss"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := vfs.NewMem()
				q := memQueue[int](t, mem, Options{})
				mustPush(t, q, 1, 2, 3, 4)
				if err := q.Delete(2); err != nil { // no consumer yet
					t.Fatal(err)
				}
				a := q.Consumer("a")
				if err := q.Delete(4); err != nil {
					t.Fatal(err)
				}
				for _, seq := range []uint64{2, 4, 9, 0} {
					if err := q.Delete(seq); !errors.Is(err, ErrNoMessage) {
						t.Fatalf("Delete(%d) again = %v, want ErrNoMessage", seq, err)
					}
				}
				if a.Lag() != 2 {
					t.Fatalf("lag %d, want 2", a.Lag())
				}
				q2 := memQueue[int](t, reopenOn(t, q, mem, how), Options{})
				q2.Consumer("later") // starts at 1, and skips the deleted ones
				for _, name := range []string{"a", "later"} {
					c := q2.Consumer(name)
					if got := recvValues(t, c, 2); got[0] != 1 || got[1] != 3 {
						t.Fatalf("consumer %q: %v, want [1 3]", name, got)
					}
					noMessage(t, c, time.Minute)
				}
			})
		})
	}
}

func TestReceiveBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[int](t, vfs.NewMem(), Options{})
		mustPush(t, q, 1, 2, 3, 4, 5)
		ctx := context.Background()
		for _, want := range [][]int{{1, 2, 3}, {4, 5}} {
			ms, err := q.ReceiveBatch(ctx, 3)
			if err != nil || len(ms) != len(want) {
				t.Fatalf("ReceiveBatch = %d messages, %v; want %v", len(ms), err, want)
			}
			for i, m := range ms {
				if m.Value != want[i] || m.Attempt != 1 {
					t.Fatalf("message %d: %d attempt %d, want %d", i, m.Value, m.Attempt, want[i])
				}
				mustAck(t, m)
			}
		}
		ctx2, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if ms, err := q.ReceiveBatch(ctx2, 3); !errors.Is(err, context.DeadlineExceeded) || ms != nil {
			t.Fatalf("ReceiveBatch on an empty queue = %v, %v", ms, err)
		}
		if _, err := q.ReceiveBatch(ctx, 0); err == nil {
			t.Fatal("ReceiveBatch(0) succeeded")
		}
	})
}

func TestMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		q := memQueue[string](t, mem, Options{})
		mustPush(t, q, "no push time") // pushed without MaxAge: never discarded
		q.Close()
		o := Options{MaxAge: time.Minute, MaxDeliveries: -1}
		q = memQueue[string](t, mem, o)
		mustPush(t, q, "a")
		time.Sleep(time.Minute) // "a" is exactly MaxAge old: not more
		c := q.Consumer("")
		if got := recvValues(t, c, 2); got[0] != "no push time" || got[1] != "a" {
			t.Fatalf("got %v", got)
		}
		mustPush(t, q, "b", "c")
		recvT(t, c).Nack(-1) // "b": its redelivery comes too late
		time.Sleep(time.Minute + time.Millisecond)
		mustPush(t, q, "d")
		q.Close()
		q = memQueue[string](t, mem, o)
		c = q.Consumer("")
		if got := recvValues(t, c, 1); got[0] != "d" {
			t.Fatalf("got %v, want b and c discarded", got)
		}
		if st := c.Stats(); st.Discarded != 2 || q.Len() != 0 {
			t.Fatalf("stats %+v, Len %d; want 2 discarded, none left", st, q.Len())
		}
	})
}

func TestPushAt(t *testing.T) {
	for _, how := range []string{"close", "power loss"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := vfs.NewMem()
				q := memQueue[string](t, mem, Options{})
				start := time.Now()
				if _, err := q.PushAt(start.Add(time.Minute), "later"); err != nil {
					t.Fatal(err)
				}
				mustPush(t, q, "now", "also now")
				c := q.Consumer("")
				m := recvT(t, c)
				mustAck(t, m) // prefetches "also now"
				if got := recvValues(t, c, 1); got[0] != "also now" {
					t.Fatalf("got %v", got)
				}
				q2 := memQueue[string](t, reopenOn(t, q, mem, how), Options{})
				c2 := q2.Consumer("")
				noMessage(t, c2, time.Minute-time.Since(start)-time.Millisecond)
				m2 := recvT(t, c2)
				if m2.Value != "later" || m2.Attempt != 1 || time.Since(start) != time.Minute {
					t.Fatalf("got %q attempt %d after %v, want later, attempt 1, after 1m", m2.Value, m2.Attempt, time.Since(start))
				}
			})
		})
	}
}
