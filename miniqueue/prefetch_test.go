// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"slices"
	"testing"
	"testing/synctest"

	"github.com/mini-go/mini/vfs"
)

// An Ack records the next new message's delivery along with itself
// (prefetch); these tests pin down what that does to delivery counts.

func TestPrefetch(t *testing.T) {
	tests := []struct {
		name        string
		maxDeliver  int
		powerLoss   bool // instead of Close
		wantAttempt int  // of message 2 after reopening
		wantRecords []string
	}{
		// Close takes the prefetched delivery back: counts stay exact.
		{"close", 0, false, 1, []string{
			`{"op":"new","from":1}`, `{"op":"deliver","seq":1,"n":1}`, `{"op":"ack","seq":1}`,
			`{"op":"deliver","seq":2,"n":1}`, `{"op":"return","seq":2}`}},
		// A crash counts it: one delivery too many, never one too few.
		{"power loss", 0, true, 2, []string{
			`{"op":"new","from":1}`, `{"op":"deliver","seq":1,"n":1}`, `{"op":"ack","seq":1}`,
			`{"op":"deliver","seq":2,"n":1}`}},
		// With MaxDeliveries 1 an extra count would dead-letter a message
		// nobody saw: no prefetch.
		{"one delivery allowed", 1, true, 1, []string{
			`{"op":"new","from":1}`, `{"op":"deliver","seq":1,"n":1}`, `{"op":"ack","seq":1}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := vfs.NewMem()
				o := withFS(Options{MaxDeliveries: tt.maxDeliver}, mem)
				q, err := Open[int]("/q", o)
				if err != nil {
					t.Fatal(err)
				}
				c := q.Consumer("")
				mustPush(t, q, 1, 2)
				mustAck(t, recvT(t, c))
				disk := mem
				if tt.powerLoss {
					disk = mem.CrashClone(vfs.CrashOptions{})
				}
				q.Close()
				var recs []string
				for _, p := range payloadsFS(t, disk, "/q/consumers.log") {
					if !slices.Contains([]string{"checkpoint"}, opOf(p)) {
						recs = append(recs, p)
					}
				}
				if !slices.Equal(recs, tt.wantRecords) {
					t.Fatalf("consumer records %q, want %q", recs, tt.wantRecords)
				}
				q, err = Open[int]("/q", withFS(Options{MaxDeliveries: tt.maxDeliver}, disk))
				if err != nil {
					t.Fatal(err)
				}
				defer q.Close()
				if m := recvT(t, q.Consumer("")); m.Seq != 2 || m.Attempt != tt.wantAttempt {
					t.Fatalf("after reopening: seq %d attempt %d, want seq 2 attempt %d", m.Seq, m.Attempt, tt.wantAttempt)
				}
			})
		})
	}
}

// A prefetched message goes to whichever receiver comes next, and the
// queue never prefetches past a message waiting for redelivery.
func TestPrefetchOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[int](t, vfs.NewMem(), Options{})
		c := q.Consumer("")
		mustPush(t, q, 1, 2, 3, 4)
		m1, m2 := recvT(t, c), recvT(t, c)
		m2.Nack(0)     // 2 waits for redelivery
		mustAck(t, m1) // does not prefetch 3
		var got []uint64
		for range 3 {
			m := recvT(t, c)
			got = append(got, m.Seq)
			mustAck(t, m)
		}
		if !slices.Equal(got, []uint64{2, 3, 4}) {
			t.Fatalf("order %v, want [2 3 4]", got)
		}
		if st := c.Stats(); st.Delivered != 5 || st.Redelivered != 1 || st.Lag != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func payloadsFS(t *testing.T, fsys vfs.FS, path string) []string {
	t.Helper()
	data, err := vfs.ReadFile(fsys, path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range splitLines(data)[1:] {
		if env, ok := recOf(line); ok {
			out = append(out, env)
		}
	}
	return out
}
