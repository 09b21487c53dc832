// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"testing"

	"github.com/mini-go/mini/ministate"
)

// The Manager's figures follow its work: applies, mutations, the
// journal's group commits, snapshots, compactions, and the replay on Open.
func TestManagerStats(t *testing.T) {
	dir := t.TempDir()
	m, err := ministate.Open[Tape, Push](dir, "journal.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	st0 := m.Stats()
	if st0.Applies != 0 || st0.Replayed != 0 || st0.Recovery <= 0 || st0.Journal.Recovery <= 0 || st0.Recovery < st0.Journal.Recovery {
		t.Fatalf("a new Manager: %+v", st0)
	}
	for i := range 5 {
		if _, err := m.Apply(Push{i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.ApplyBatch(Push{5}, Push{6}, Push{7}); err != nil {
		t.Fatal(err)
	}
	d := m.Stats().Sub(st0)
	if d.Applies != 6 || d.Mutations != 8 || d.Sequence != 6 || d.Journal.Appends != 6 || d.Journal.Fsyncs == 0 {
		t.Fatalf("after 6 records: %+v", d)
	}
	if _, err := m.CreateSnapshot(); err != nil {
		t.Fatal(err)
	}
	st := m.Stats()
	if st.Snapshots.Count != 1 || st.Snapshots.Sum <= 0 || st.Compactions.Count != 0 {
		t.Fatalf("after CreateSnapshot: %+v", st)
	}
	if _, err := m.Apply(Push{8}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	d = m.Stats().Sub(st)
	if d.Snapshots.Count != 1 || d.Compactions.Count != 1 || d.Compactions.Sum <= 0 {
		t.Fatalf("Compact: %+v", d)
	}
	// Nothing left to cut: no compaction counted.
	before := m.Stats()
	if _, err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	if d := m.Stats().Sub(before); d.Compactions.Count != 0 || d.Snapshots.Count != 0 {
		t.Fatalf("Compact with nothing to do: %+v", d)
	}
	for i := range 3 {
		if _, err := m.Apply(Push{9 + i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Applies != 10 {
		t.Fatalf("Stats after Close: %+v", st)
	}

	// Reopened: the snapshot covers 7, the journal's records 8..10 are
	// replayed; the counters start again.
	m, err = ministate.Open[Tape, Push](dir, "journal.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if st := m.Stats(); st.Replayed != 3 || st.Applies != 0 || st.Sequence != 10 || st.Recovery <= 0 {
		t.Fatalf("reopened: %+v", st)
	}
}
