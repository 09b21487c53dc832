// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import "testing"

// Stats carries the figures of the queue's two journals: pushes are
// appends to messages.log, deliveries and acks to consumers.log.
func TestStatsJournals(t *testing.T) {
	q := openT[string](t, t.TempDir(), nil)
	before := q.Stats()
	mustPush(t, q, "a", "b", "c")
	st := q.Stats()
	if d := st.Journal.Sub(before.Journal); d.Appends != 3 || d.Fsyncs == 0 || d.FsyncLatency.Count != d.Fsyncs {
		t.Fatalf("3 pushes: messages journal %+v", d)
	}
	c := q.Consumer("")
	for range 3 {
		mustAck(t, recvT(t, c))
	}
	after := q.Stats()
	if d := after.ConsumerJournal.Sub(st.ConsumerJournal); d.Appends == 0 || d.Batches == 0 {
		t.Fatalf("3 deliveries and acks: consumers journal %+v", d)
	}
	if after.Journal.Appends != st.Journal.Appends {
		t.Fatalf("acks appended to the messages journal: %d then %d", st.Journal.Appends, after.Journal.Appends)
	}
}
