// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// Term moves a message to the dead-letter queue at its first delivery, and
// the calls on a Term'd message fail as on an acknowledged one.
func TestTerm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		q := memQueue[string](t, mem, Options{MaxDeliveries: 5})
		mustPush(t, q, "poison", "fine")
		c := q.Consumer("")
		m := recvT(t, c)
		if err := m.Term("bad input"); err != nil {
			t.Fatalf("Term: %v", err)
		}
		for name, call := range map[string]func() error{
			"Term again": func() error { return m.Term("x") },
			"Ack":        m.Ack,
			"Nack":       func() error { return m.Nack(0) },
		} {
			if err := call(); !errors.Is(err, ErrAcked) {
				t.Fatalf("%s after Term = %v, want ErrAcked", name, err)
			}
		}
		if m2 := recvT(t, c); m2.Value != "fine" {
			t.Fatalf("after Term got %q, want the next message", m2.Value)
		}
		dls := collectDead(t, q)
		if len(dls) != 1 || dls[0].Value != "poison" || dls[0].Attempts != 1 || dls[0].Seq != 1 ||
			dls[0].Reason != "Term: bad input" {
			t.Fatalf("dead letters %+v", dls)
		}
		if st := c.Stats(); st.DeadLettered != 1 || st.Floor != 2 {
			t.Fatalf("stats %+v", st)
		}
		q.Close()
		// After a reopen it is still in the dead-letter queue, once, and
		// not delivered again.
		q = memQueue[string](t, mem, Options{MaxDeliveries: 5})
		if dls := collectDead(t, q); len(dls) != 1 {
			t.Fatalf("after reopen: %d dead letters", len(dls))
		}
		m3 := recvT(t, q.Consumer(""))
		if m3.Value != "fine" || m3.Attempt != 2 {
			t.Fatalf("after reopen got %q attempt %d", m3.Value, m3.Attempt)
		}
		// A delivery that is no longer the newest cannot Term.
		mustAck(t, m3)
		mustPush(t, q, "slow")
		old := recvT(t, q.Consumer(""))
		old.Nack(0)
		newer := recvT(t, q.Consumer(""))
		if err := old.Term("late"); !errors.Is(err, ErrStale) {
			t.Fatalf("Term on a stale delivery = %v, want ErrStale", err)
		}
		if err := newer.Term("now"); err != nil {
			t.Fatal(err)
		}
		if n := q.DeadLetters().Len(); n != 2 {
			t.Fatalf("%d dead letters, want 2", n)
		}
	})
}

// A crash after the dead letter is written and before the "dead" record
// leaves the message both in the dead-letter queue and unresolved: Open
// finishes the move instead of delivering it again.
func TestTermFinishedByOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		q := memQueue[string](t, mem, Options{MaxDeliveries: -1})
		mustPush(t, q, "poison")
		m := recvT(t, q.Consumer(""))
		// Write what Term writes, up to the dead letter, by hand.
		e := q.e
		e.cpMu.RLock()
		if err := e.appendCons(appendSeqRecord(nil, opTerm, m.c.st.qname, m.Seq, m.Attempt)); err != nil {
			t.Fatal(err)
		}
		dlq, err := e.deadQueue(true)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := dlq.push(t.Context(), []json.RawMessage{appendEnvelope(nil, []byte(`{"consumer":"","seq":1,"attempts":1,"reason":"Term: x","value":"poison"}`))}, false); err != nil {
			t.Fatal(err)
		}
		e.cpMu.RUnlock()
		disk := mem.CrashClone(vfs.CrashOptions{})
		q2 := memQueue[string](t, disk, Options{MaxDeliveries: -1})
		if n := q2.Len(); n != 0 {
			t.Fatalf("Len after the interrupted Term = %d, want 0", n)
		}
		dls := collectDead(t, q2)
		if len(dls) != 1 || !strings.HasPrefix(dls[0].Reason, "Term") {
			t.Fatalf("dead letters %+v", dls)
		}
		noMessage(t, q2.Consumer(""), time.Minute)
	})
}

// A Term reason that is not valid UTF-8 is refused, nothing is moved, and
// the message stays with the consumer to be Term'd with a valid reason.
func TestTermReasonInvalidUTF8(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		q := memQueue[string](t, mem, Options{})
		mustPush(t, q, "poison")
		m := recvT(t, q.Consumer(""))
		if err := m.Term("bad \xff byte"); !errors.Is(err, ministore.ErrInvalidUTF8) {
			t.Fatalf("Term with invalid UTF-8 = %v, want ministore.ErrInvalidUTF8", err)
		}
		if dls := collectDead(t, q); len(dls) != 0 {
			t.Fatalf("dead letters after a refused Term: %+v", dls)
		}
		if err := m.Term("bad byte"); err != nil {
			t.Fatalf("Term with a valid reason: %v", err)
		}
		if dls := collectDead(t, q); len(dls) != 1 || dls[0].Reason != "Term: bad byte" {
			t.Fatalf("dead letters %+v", dls)
		}
	})
}
