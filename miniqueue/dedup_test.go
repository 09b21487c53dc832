// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mini-go/mini/vfs"
)

func mustPushID[T any](t testing.TB, q *Queue[T], id string, v T, wantSeq uint64, wantDup bool) {
	t.Helper()
	seq, dup, err := q.PushWithID(id, v)
	if err != nil || seq != wantSeq || dup != wantDup {
		t.Fatalf("PushWithID(%q) = %d, %v, %v; want %d, %v", id, seq, dup, err, wantSeq, wantDup)
	}
}

func TestPushWithID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[string](t, vfs.NewMem(), Options{})
		mustPushID(t, q, "a", "first", 1, false)
		mustPushID(t, q, "a", "retry", 1, true)
		mustPushID(t, q, "b", "other", 2, false)
		mustPush(t, q, "plain")
		c := q.Consumer("")
		for _, want := range []string{"first", "other", "plain"} {
			m := recvT(t, c)
			if m.Value != want {
				t.Fatalf("got %q, want %q", m.Value, want)
			}
			mustAck(t, m)
		}
		// Acknowledged or not, the ID is known for the window...
		time.Sleep(2*time.Minute - time.Millisecond)
		mustPushID(t, q, "a", "retry", 1, true)
		// ...and not after it.
		time.Sleep(time.Millisecond)
		mustPushID(t, q, "a", "again", 4, false)
		if _, _, err := q.PushWithID("", "x"); err == nil {
			t.Fatal("PushWithID with an empty ID succeeded")
		}
	})
}

// Concurrent PushWithIDs of one ID give one message, and all of them its
// sequence number.
func TestPushWithIDConcurrent(t *testing.T) {
	q := openT[int](t, t.TempDir(), nil)
	var wg sync.WaitGroup
	seqs := make([]uint64, 8)
	dups := 0
	var mu sync.Mutex
	for i := range seqs {
		wg.Go(func() {
			seq, dup, err := q.PushWithID("job-1", i)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			seqs[i] = seq
			if dup {
				dups++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, s := range seqs {
		if s != 1 {
			t.Fatalf("sequence numbers %v, want all 1", seqs)
		}
	}
	if dups != 7 || q.Len() != 1 {
		t.Fatalf("%d duplicates, Len %d; want 7 and 1", dups, q.Len())
	}
}

// The IDs survive a reopen and a power loss, with the messages long
// acknowledged and their segments due for deletion, for the window.
func TestPushWithIDSurvivesRestart(t *testing.T) {
	for _, how := range []string{"close", "power loss"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := vfs.NewMem()
				o := Options{MaxSegmentBytes: 200, consSegmentBytes: 400, checkpointBytes: 300}
				q := memQueue[int](t, mem, o)
				c := q.Consumer("")
				const n = 40
				for i := 1; i <= n; i++ {
					mustPushID(t, q, idOf(i), i, uint64(i), false)
					mustAck(t, recvT(t, c))
					time.Sleep(time.Second)
				}
				mustPush(t, q, 0)
				mustAck(t, recvT(t, c)) // a checkpoint, with every message acknowledged
				disk := vfs.FS(mem)
				if how == "close" {
					q.Close()
				} else {
					disk = mem.CrashClone(vfs.CrashOptions{})
				}
				q2 := memQueue[int](t, disk, o)
				// Pushed 40 s ago and less: all still within the window.
				for i := 1; i <= n; i++ {
					mustPushID(t, q2, idOf(i), i, uint64(i), true)
				}
				if q2.Len() != 0 {
					t.Fatalf("Len %d after the retries", q2.Len())
				}
				// 81 s later the first 1 + 40 - (120 - 81) = 2 have expired.
				time.Sleep(81 * time.Second)
				mustPushID(t, q2, idOf(1), 1, n+2, false)
				mustPushID(t, q2, idOf(2), 2, n+3, false)
				mustPushID(t, q2, idOf(3), 3, 3, true)
			})
		})
	}
}

func idOf(i int) string { return "job-" + string(rune('A'+i%26)) + string(rune('a'+i/26)) }
