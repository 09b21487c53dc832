// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/mini-go/mini/vfs"
)

// BackOff gives the redelivery delay by attempt, after a Nack(0) or a
// visibility timeout; an explicit delay wins, and a negative one means at
// once.
func TestBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[string](t, vfs.NewMem(), Options{MaxDeliveries: -1, VisibilityTimeout: 10 * time.Second,
			BackOff: []time.Duration{time.Second, 5 * time.Second}})
		mustPush(t, q, "job")
		c := q.Consumer("")
		steps := []struct {
			name string
			fail func(m *Message[string]) // how the delivery ends
			wait time.Duration            // until the next delivery
		}{
			{"Nack(0) after attempt 1", func(m *Message[string]) { m.Nack(0) }, time.Second},
			{"Nack(0) after attempt 2", func(m *Message[string]) { m.Nack(0) }, 5 * time.Second},
			{"the last delay repeats", func(m *Message[string]) { m.Nack(0) }, 5 * time.Second},
			{"an explicit delay wins", func(m *Message[string]) { m.Nack(2 * time.Second) }, 2 * time.Second},
			{"a negative delay is at once", func(m *Message[string]) { m.Nack(-1) }, 0},
			{"a visibility timeout, then the back-off", func(*Message[string]) {}, 10*time.Second + 5*time.Second},
		}
		m := recvT(t, c)
		for i, st := range steps {
			start := time.Now()
			st.fail(m)
			if st.wait > 0 {
				noMessage(t, c, st.wait-time.Millisecond)
			}
			m = recvT(t, c)
			if got := time.Since(start); got != st.wait || m.Attempt != i+2 {
				t.Fatalf("%s: attempt %d after %v, want attempt %d after %v", st.name, m.Attempt, got, i+2, st.wait)
			}
		}
	})
}

// A delayed Nack holds across a reopen, a power loss (from its record), and
// a checkpoint (which carries the delays), to the millisecond.
func TestNackDelaySurvivesRestart(t *testing.T) {
	for _, how := range []string{"close", "power loss", "checkpoint then power loss"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := vfs.NewMem()
				o := Options{MaxDeliveries: -1}
				q := memQueue[string](t, mem, o)
				mustPush(t, q, "later", "now")
				c := q.Consumer("")
				m := recvT(t, c)
				time.Sleep(123 * time.Microsecond) // not on a millisecond
				start := time.Now()
				if err := m.Nack(time.Minute); err != nil {
					t.Fatal(err)
				}
				disk := vfs.FS(mem)
				switch how {
				case "close":
					q.Close()
				case "power loss":
					disk = mem.CrashClone(vfs.CrashOptions{})
				case "checkpoint then power loss":
					q.e.cpRun.Lock()
					err := q.e.checkpointLocked()
					q.e.cpRun.Unlock()
					if err != nil {
						t.Fatal(err)
					}
					disk = mem.CrashClone(vfs.CrashOptions{})
				}
				time.Sleep(20 * time.Second)
				q2 := memQueue[string](t, disk, o)
				c2 := q2.Consumer("")
				if m := recvT(t, c2); m.Value != "now" {
					t.Fatalf("first after reopen: %q", m.Value)
				} else {
					mustAck(t, m)
				}
				noMessage(t, c2, time.Minute-time.Since(start))
				m2 := recvT(t, c2)
				if m2.Value != "later" || m2.Attempt != 2 || time.Since(start) < time.Minute || time.Since(start) > time.Minute+time.Millisecond {
					t.Fatalf("got %q attempt %d after %v, want later, attempt 2, after 1m", m2.Value, m2.Attempt, time.Since(start))
				}
			})
		})
	}
}
