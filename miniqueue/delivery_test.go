// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mini-go/mini/vfs"
)

// These tests run in synctest bubbles on the in-memory file system: time
// stands still while the test works and jumps ahead when everything waits,
// so timeouts are exact and cost nothing.

func memQueue[T any](t *testing.T, fsys vfs.FS, o Options) *Queue[T] {
	t.Helper()
	return openT[T](t, "/q", withFS(o, fsys))
}

func TestVisibilityTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[string](t, vfs.NewMem(), Options{VisibilityTimeout: 10 * time.Second})
		mustPush(t, q, "job")
		c := q.Consumer("")
		m1 := recvT(t, c)
		start := time.Now()
		m2 := recvT(t, c) // waits for m1's lease to run out
		if waited := time.Since(start); waited != 10*time.Second {
			t.Fatalf("redelivered after %v, want 10s", waited)
		}
		if m2.Seq != m1.Seq || m2.Attempt != 2 {
			t.Fatalf("redelivery: seq %d attempt %d", m2.Seq, m2.Attempt)
		}
		if err := m1.Extend(time.Minute); !errors.Is(err, ErrStale) {
			t.Fatalf("Extend of the older delivery = %v, want ErrStale", err)
		}
		if err := m1.Nack(0); !errors.Is(err, ErrStale) {
			t.Fatalf("Nack of the older delivery = %v, want ErrStale", err)
		}
		mustAck(t, m1) // the first Ack wins, whichever delivery it comes from
		if err := m2.Ack(); !errors.Is(err, ErrAcked) {
			t.Fatalf("second Ack = %v, want ErrAcked", err)
		}
		if st := c.Stats(); st.Expired != 1 || st.Redelivered != 1 || st.Acked != 1 || st.Lag != 0 {
			t.Fatalf("stats %+v", st)
		}
		noMessage(t, c, time.Hour)
	})
}

func TestExtend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[string](t, vfs.NewMem(), Options{VisibilityTimeout: 10 * time.Second})
		mustPush(t, q, "long job")
		c := q.Consumer("")
		start := time.Now()
		m := recvT(t, c)
		time.Sleep(8 * time.Second)
		if err := m.Extend(20 * time.Second); err != nil {
			t.Fatal(err)
		}
		noMessage(t, c, 19*time.Second) // the old lease would have run out at 10s
		m2 := recvT(t, c)
		if at := time.Since(start); at != 28*time.Second || m2.Attempt != 2 {
			t.Fatalf("redelivered at %v attempt %d, want 28s attempt 2", at, m2.Attempt)
		}
		// Extending a lease that ran out takes the message back, as long
		// as nobody received it since.
		time.Sleep(11 * time.Second)
		if err := m2.Extend(time.Hour); err != nil {
			t.Fatalf("Extend after the lease ran out: %v", err)
		}
		noMessage(t, c, 59*time.Minute)
	})
}

func TestNack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[int](t, vfs.NewMem(), Options{})
		mustPush(t, q, 1, 2)
		c := q.Consumer("")
		m := recvT(t, c)
		if err := m.Nack(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if m2 := recvT(t, c); m2.Seq != 2 || time.Since(start) != 0 {
			t.Fatalf("while 1 waits out its delay got %d after %v", m2.Seq, time.Since(start))
		}
		m3 := recvT(t, c)
		if m3.Seq != 1 || m3.Attempt != 2 || time.Since(start) != 5*time.Second {
			t.Fatalf("after the delay got seq %d attempt %d at %v", m3.Seq, m3.Attempt, time.Since(start))
		}
		if err := m3.Nack(0); err != nil {
			t.Fatal(err)
		}
		if m4 := recvT(t, c); m4.Seq != 1 || m4.Attempt != 3 || time.Since(start) != 5*time.Second {
			t.Fatalf("Nack(0) got seq %d attempt %d", m4.Seq, m4.Attempt)
		}
		if st := c.Stats(); st.Nacked != 2 || st.Redelivered != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestMaxDeliveries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[string](t, vfs.NewMem(), Options{MaxDeliveries: 3})
		mustPush(t, q, "poison", "fine")
		c := q.Consumer("")
		for want := 1; want <= 3; want++ {
			m := recvT(t, c)
			if m.Value != "poison" || m.Attempt != want {
				t.Fatalf("got %q attempt %d, want poison attempt %d", m.Value, m.Attempt, want)
			}
			m.Nack(0)
		}
		if m := recvT(t, c); m.Value != "fine" {
			t.Fatalf("after the poison message went away got %q", m.Value)
		}
		dls := collectDead(t, q)
		if len(dls) != 1 || dls[0].Value != "poison" || dls[0].Attempts != 3 || dls[0].Seq != 1 ||
			!strings.Contains(dls[0].Reason, "MaxDeliveries") || string(dls[0].Raw) != `"poison"` {
			t.Fatalf("dead letters %+v", dls)
		}
		if st := q.Stats(); st.DeadLetters != 1 || st.Consumers[0].DeadLettered != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// A message that kills its process before it can be acked still reaches
// MaxDeliveries: the delivery count is durable before Receive returns.
func TestDeliveryCountSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		o := withFS(Options{MaxDeliveries: 3}, mem)
		for attempt := 1; attempt <= 4; attempt++ {
			q, err := Open[string]("/q", o)
			if err != nil {
				t.Fatal(err)
			}
			if attempt == 1 {
				mustPush(t, q, "crashes its consumer")
			}
			c := q.Consumer("")
			if attempt <= 3 {
				if m := recvT(t, c); m.Attempt != attempt {
					t.Fatalf("attempt %d, want %d", m.Attempt, attempt)
				}
			} else {
				noMessage(t, c, time.Minute)
				if n := q.DeadLetters().Len(); n != 1 {
					t.Fatalf("%d dead letters, want 1", n)
				}
			}
			// The process dies: simulate with a power loss (nothing but
			// what was fsync'd survives) after dropping the queue.
			q.Close()
			mem = mem.CrashClone(vfs.CrashOptions{})
			o = withFS(Options{MaxDeliveries: 3}, mem)
		}
	})
}

func TestUndecodableMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		raw := memQueue[json.RawMessage](t, mem, Options{})
		mustPush(t, raw, json.RawMessage(`"not a number"`), json.RawMessage(`42`))
		raw.Close()
		q := memQueue[int](t, mem, Options{})
		if m := recvT(t, q.Consumer("")); m.Value != 42 || m.Seq != 2 {
			t.Fatalf("got %d (seq %d), want 42", m.Value, m.Seq)
		}
		dls := collectDead(t, q)
		if len(dls) != 1 || dls[0].Seq != 1 || string(dls[0].Raw) != `"not a number"` || dls[0].Value != 0 ||
			!strings.HasPrefix(dls[0].Reason, "decode:") || dls[0].Attempts != 0 {
			t.Fatalf("dead letters %+v", dls)
		}
	})
}

func TestReplayDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		q := memQueue[string](t, mem, Options{MaxDeliveries: 1})
		a, b := q.Consumer("a"), q.Consumer("b")
		mustPush(t, q, "x", "y")
		a.Receive(t.Context()) // x, attempt 1: its lease runs 30s
		my := recvT(t, a)      // y
		my.Nack(0)
		noMessage(t, a, time.Second) // y is dead for a after its only delivery...
		for range 2 {
			mustAck(t, recvT(t, b)) // ...while b acked both
		}
		dls := collectDead(t, q)
		if len(dls) != 1 || dls[0].Consumer != "a" || dls[0].Value != "y" {
			t.Fatalf("dead letters before x's lease ran out: %+v", dls)
		}
		time.Sleep(30 * time.Second)
		noMessage(t, a, time.Second)
		dls = collectDead(t, q)
		if len(dls) != 2 || dls[1].Value != "x" || dls[1].Attempts != 1 || dls[1].Seq != 1 {
			t.Fatalf("dead letters %+v", dls)
		}
		// Reopen: the dead letters are still there.
		q.Close()
		q = memQueue[string](t, mem, Options{MaxDeliveries: 1})
		a, b = q.Consumer("a"), q.Consumer("b")
		dl, err := q.DeadLetters().Get(dls[1].ID)
		if err != nil || dl.Value != "x" {
			t.Fatalf("Get = %+v, %v", dl, err)
		}
		if err := q.DeadLetters().Replay(dls[1].ID); err != nil {
			t.Fatal(err)
		}
		m := recvT(t, a)
		if m.Value != "x" || m.Attempt != 1 || m.Seq != 3 {
			t.Fatalf("replayed message: %q seq %d attempt %d", m.Value, m.Seq, m.Attempt)
		}
		mustAck(t, m)
		noMessage(t, b, time.Minute) // replayed for a only
		if b.Lag() != 0 {
			t.Fatalf("b's lag %d after skipping a's replay", b.Lag())
		}
		if err := q.DeadLetters().Replay(dls[1].ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second Replay = %v, want ErrNotFound", err)
		}
		if err := q.DeadLetters().Delete(dls[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := q.DeadLetters().Get(dls[0].ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after Delete = %v", err)
		}
		if n := q.DeadLetters().Len(); n != 0 {
			t.Fatalf("%d dead letters left", n)
		}
	})
}

func TestReplayAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[int](t, vfs.NewMem(), Options{MaxDeliveries: 1})
		c := q.Consumer("")
		mustPush(t, q, 1, 2, 3)
		for range 3 {
			recvT(t, c).Nack(0)
		}
		noMessage(t, c, time.Minute)
		if n, err := q.DeadLetters().ReplayAll(); n != 3 || err != nil {
			t.Fatalf("ReplayAll = %d, %v", n, err)
		}
		for want := 1; want <= 3; want++ {
			m := recvT(t, c)
			if m.Value != want || m.Attempt != 1 {
				t.Fatalf("got %d attempt %d", m.Value, m.Attempt)
			}
			mustAck(t, m)
		}
		q.DeleteConsumer("")
		mustPush(t, q, 4)
		c = q.Consumer("")
		recvT(t, c).Nack(0)
		noMessage(t, c, time.Minute)
		q.DeleteConsumer("")
		dls := collectDead(t, q)
		if err := q.DeadLetters().Replay(dls[0].ID); !errors.Is(err, ErrDeleted) {
			t.Fatalf("Replay for a deleted consumer = %v, want ErrDeleted", err)
		}
	})
}

func collectDead[T any](t *testing.T, q *Queue[T]) []DeadLetter[T] {
	t.Helper()
	var out []DeadLetter[T]
	for dl, err := range q.DeadLetters().All() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

// Dead letters are removed in any order; the dead-letter queue reopens.
func TestDeadLettersRemovedOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		q := memQueue[int](t, mem, Options{MaxDeliveries: 1})
		c := q.Consumer("")
		mustPush(t, q, 1, 2, 3, 4)
		for range 4 {
			recvT(t, c).Nack(0)
		}
		noMessage(t, c, time.Minute)
		dls := collectDead(t, q)
		if len(dls) != 4 {
			t.Fatalf("%d dead letters", len(dls))
		}
		for _, i := range []int{3, 1} {
			if err := q.DeadLetters().Delete(dls[i].ID); err != nil {
				t.Fatal(err)
			}
		}
		for round := range 2 {
			q.Close()
			q = memQueue[int](t, mem, Options{MaxDeliveries: 1})
			var got []int
			for _, dl := range collectDead(t, q) {
				got = append(got, dl.Value)
			}
			if want := [][]int{{1, 3}, {3}}[round]; !slices.Equal(got, want) {
				t.Fatalf("round %d: dead letters %v, want %v", round, got, want)
			}
			if round == 0 {
				q.DeadLetters().Delete(dls[0].ID)
			}
		}
	})
}
