// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/mini-go/mini/internal/crashtest"
	"github.com/mini-go/mini/internal/testutil"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/vfs"
)

// The crash tests run what raft does to its stores — store logs in
// batches, compact the front, cut a conflicting suffix, delete everything
// for a snapshot install and start again at another index, set the term
// and the vote — on the simulated file system, crash it at every one of
// its operations in turn, reopen both stores on what the "disk" kept, and
// check them against what the workload was told was durable.

type crashStep struct {
	kind     string // "store", "delete", "term", "vote", "reopen"
	from, to uint64 // logs for "store", range for "delete"
	term     uint64 // term of stored logs; value for "term"
}

var crashWorkload = []crashStep{
	{kind: "term", term: 1},
	{kind: "store", from: 1, to: 5, term: 1},
	{kind: "vote", term: 1},
	{kind: "store", from: 6, to: 12, term: 1},
	{kind: "store", from: 13, to: 13, term: 1},
	{kind: "delete", from: 1, to: 4}, // compaction
	// More compactions: the front bound updated in place, both slots.
	{kind: "delete", from: 5, to: 5},
	{kind: "delete", from: 6, to: 7},
	{kind: "term", term: 2},
	{kind: "store", from: 14, to: 25, term: 2},
	{kind: "delete", from: 22, to: 25}, // conflict
	{kind: "store", from: 22, to: 28, term: 3},
	{kind: "store", from: 26, to: 30, term: 4}, // replaces 26..28
	{kind: "reopen"},
	{kind: "delete", from: 5, to: 30}, // snapshot install: all
	{kind: "store", from: 40, to: 44, term: 5},
	{kind: "delete", from: 40, to: 44},
	{kind: "store", from: 33, to: 35, term: 6}, // below the old first: a new journal
	{kind: "term", term: 7},
	{kind: "store", from: 36, to: 38, term: 7},
}

func crashLog(idx, term uint64) *raft.Log {
	l := testLog(idx)
	l.Term = term
	return l
}

// crashModel is what the workload knows.
type crashModel struct {
	logs     map[uint64]*raft.Log // acknowledged and not deleted
	term     uint64               // acknowledged CurrentTerm
	vote     uint64               // acknowledged LastVoteTerm
	inflight *crashStep           // the step that failed, if any
}

func runCrashWorkload(fsys vfs.FS) (*crashModel, error) {
	m := &crashModel{logs: map[uint64]*raft.Log{}}
	opts := &StoreOptions{Logger: testutil.Quiet(), FS: fsys, MaxSegmentBytes: 300, CacheLogs: 4}
	logs, err := OpenLogStore("/data/raft.log", opts)
	if err != nil {
		return m, err
	}
	stable, err := OpenStableStore("/data/stable.log", opts)
	if err != nil {
		logs.Close()
		return m, err
	}
	stable.compactMin = 4 // compact often
	defer func() {
		if logs != nil {
			logs.Close()
		}
		if stable != nil {
			stable.Close()
		}
	}()
	for i := range crashWorkload {
		st := &crashWorkload[i]
		m.inflight = st
		var err error
		switch st.kind {
		case "store":
			var batch []*raft.Log
			for idx := st.from; idx <= st.to; idx++ {
				batch = append(batch, crashLog(idx, st.term))
			}
			if err = logs.StoreLogs(batch); err == nil {
				for idx := range m.logs {
					if idx >= st.from {
						delete(m.logs, idx)
					}
				}
				for _, l := range batch {
					m.logs[l.Index] = l
				}
			}
		case "delete":
			if err = logs.DeleteRange(st.from, st.to); err == nil {
				for idx := st.from; idx <= st.to; idx++ {
					delete(m.logs, idx)
				}
			}
		case "term":
			if err = stable.SetUint64([]byte("CurrentTerm"), st.term); err == nil {
				m.term = st.term
			}
		case "vote":
			if err = stable.SetUint64([]byte("LastVoteTerm"), st.term); err == nil {
				err = stable.Set([]byte("LastVoteCand"), []byte("n1"))
			}
			if err == nil {
				m.vote = st.term
			}
		case "reopen":
			logs.Close()
			stable.Close()
			logs, stable = nil, nil
			if logs, err = OpenLogStore("/data/raft.log", opts); err != nil {
				break
			}
			if stable, err = OpenStableStore("/data/stable.log", opts); err != nil {
				break
			}
			stable.compactMin = 4
		}
		if err != nil {
			return m, err
		}
	}
	m.inflight = nil
	return m, nil
}

// check opens the stores on a crashed disk and compares them with m.
func (m *crashModel) check(fsys vfs.FS) error {
	opts := &StoreOptions{Logger: testutil.Quiet(), FS: fsys, MaxSegmentBytes: 300}
	logs, err := OpenLogStore("/data/raft.log", opts)
	if err != nil {
		return fmt.Errorf("reopen log: %w", err)
	}
	defer logs.Close()
	stable, err := OpenStableStore("/data/stable.log", opts)
	if err != nil {
		return fmt.Errorf("reopen stable store: %w", err)
	}
	defer stable.Close()

	// Which indexes the interrupted step may have changed, and to what.
	var mayLose func(uint64) bool = func(uint64) bool { return false }
	var mayHold func(uint64) *raft.Log = func(uint64) *raft.Log { return nil }
	if st := m.inflight; st != nil {
		switch st.kind {
		case "store":
			mayLose = func(idx uint64) bool { return idx >= st.from }
			mayHold = func(idx uint64) *raft.Log {
				if idx >= st.from && idx <= st.to {
					return crashLog(idx, st.term)
				}
				return nil
			}
		case "delete":
			mayLose = func(idx uint64) bool { return idx >= st.from && idx <= st.to }
		}
	}
	first, _ := logs.FirstIndex()
	last, _ := logs.LastIndex()
	if (first == 0) != (last == 0) || first > last {
		return fmt.Errorf("indexes %d..%d", first, last)
	}
	for idx, want := range m.logs {
		var got raft.Log
		err := logs.GetLog(idx, &got)
		if err == raft.ErrLogNotFound && mayLose(idx) {
			continue
		}
		if err != nil {
			return fmt.Errorf("acknowledged log %d: %w (log holds %d..%d)", idx, err, first, last)
		}
		if !sameLog(&got, want) {
			if alt := mayHold(idx); alt == nil || !sameLog(&got, alt) {
				return fmt.Errorf("log %d = %+v, want %+v", idx, got, *want)
			}
		}
	}
	for idx := first; idx <= last && idx > 0; idx++ {
		var got raft.Log
		if err := logs.GetLog(idx, &got); err != nil {
			return fmt.Errorf("log %d inside %d..%d: %w", idx, first, last, err)
		}
		if want := m.logs[idx]; want != nil && sameLog(&got, want) {
			continue
		}
		if alt := mayHold(idx); alt != nil && sameLog(&got, alt) {
			continue
		}
		return fmt.Errorf("log %d = %+v was never stored, or was deleted", idx, got)
	}
	if err := checkUint64(stable, "CurrentTerm", m.term, m.inflight, "term"); err != nil {
		return err
	}
	if err := checkUint64(stable, "LastVoteTerm", m.vote, m.inflight, "vote"); err != nil {
		return err
	}
	// The store goes on.
	if err := logs.StoreLogs([]*raft.Log{crashLog(last+1, 9)}); err != nil {
		return fmt.Errorf("store after recovery: %w", err)
	}
	return stable.SetUint64([]byte("CurrentTerm"), 99)
}

func checkUint64(s *StableStore, key string, want uint64, inflight *crashStep, kind string) error {
	got, err := s.GetUint64([]byte(key))
	if errors.Is(err, ErrKeyNotFound) {
		got, err = 0, nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if got == want || (inflight != nil && inflight.kind == kind && got == inflight.term) {
		return nil
	}
	return fmt.Errorf("%s = %d, want %d", key, got, want)
}

func TestCrashAtEveryOperation(t *testing.T) {
	// Count the operations of a run without a crash, and check it.
	mem := vfs.NewMem()
	faulty := vfs.NewFaulty(mem)
	m, err := runCrashWorkload(faulty)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.check(mem); err != nil {
		t.Fatal(err)
	}
	total := faulty.Ops()
	points, partials := 0, 0
	defer func() { t.Logf("%d crash points (%d with partial loss of unsynced data)", points, partials) }()
	for n := 1; n <= total+1; n++ {
		for variant := range crashtest.Variants() {
			partial := variant > 0
			if partial && n%4 != 0 && !crashtest.Raised() {
				continue
			}
			points++
			faulty := vfs.NewFaulty(vfs.NewMem())
			if partial {
				partials++
				faulty.SetCrashOptions(vfs.CrashOptions{Rand: rand.New(rand.NewPCG(uint64(n), uint64(variant))), KeepUnsynced: 0.5})
			}
			faulty.CrashAt(n)
			m, err := runCrashWorkload(faulty)
			disk := faulty.Crashed()
			if disk == nil {
				if err != nil {
					t.Fatalf("crash at %d: no crash, but %v", n, err)
				}
				disk = faulty.Crash()
			} else if err == nil && m.inflight != nil {
				t.Fatalf("crash at %d: the workload did not notice", n)
			}
			if err := m.check(disk); err != nil {
				step := "none"
				if m.inflight != nil {
					step = fmt.Sprintf("%+v", *m.inflight)
				}
				t.Fatalf("crash at operation %d of %d (partial write-back %v) during %s: %v", n, total, partial, step, err)
			}
		}
	}
}

// snapshotWorkload creates snapshots at indexes 10, 20, 30 and 40 (keeping
// two) and records the ids of those whose Close returned nil.
func snapshotWorkload(fsys vfs.FS) (acked map[string][]byte, inflight map[string][]byte, err error) {
	acked, inflight = map[string][]byte{}, map[string][]byte{}
	s, err := OpenSnapshotStore("/data/snapshots", &StoreOptions{Logger: testutil.Quiet(), FS: fsys, KeepSnapshots: 2})
	if err != nil {
		return acked, inflight, err
	}
	defer s.Close()
	for i := uint64(1); i <= 4; i++ {
		data := fmt.Appendf(nil, "state after %d logs\n", i*10)
		for range i * 200 {
			data = append(data, byte('a'+i))
		}
		sink, err := s.Create(raft.SnapshotVersionMax, i*10, i, testConfig, 2, nil)
		if err != nil {
			return acked, inflight, err
		}
		inflight[sink.ID()] = data
		if _, err := sink.Write(data); err != nil {
			sink.Cancel()
			return acked, inflight, err
		}
		if err := sink.Close(); err != nil {
			return acked, inflight, err
		}
		delete(inflight, sink.ID())
		acked[sink.ID()] = data
	}
	return acked, inflight, nil
}

func TestSnapshotStoreCrashAtEveryOperation(t *testing.T) {
	faulty := vfs.NewFaulty(vfs.NewMem())
	if _, _, err := snapshotWorkload(faulty); err != nil {
		t.Fatal(err)
	}
	total := faulty.Ops()
	t.Logf("%d crash points", total)
	for n := 1; n <= total; n++ {
		faulty := vfs.NewFaulty(vfs.NewMem())
		faulty.CrashAt(n)
		acked, inflight, _ := snapshotWorkload(faulty)
		disk := faulty.Crashed()
		if disk == nil {
			disk = faulty.Crash()
		}
		s, err := OpenSnapshotStore("/data/snapshots", &StoreOptions{Logger: testutil.Quiet(), FS: disk})
		if err != nil {
			t.Fatalf("crash at %d: reopen: %v", n, err)
		}
		metas, err := s.List()
		if err != nil {
			t.Fatalf("crash at %d: List: %v", n, err)
		}
		// The newest acknowledged snapshot is there; everything listed is
		// a snapshot that was written, whole, with its metadata.
		var newest string
		var newestIndex uint64
		for id := range acked {
			var idx uint64
			fmt.Sscanf(id[strings.IndexByte(id, '-')+1:], "%d", &idx)
			if idx > newestIndex {
				newest, newestIndex = id, idx
			}
		}
		found := newest == ""
		for _, m := range metas {
			want, ok := acked[m.ID]
			if !ok {
				want, ok = inflight[m.ID]
			}
			if !ok {
				t.Fatalf("crash at %d: List shows %s, which was never created", n, m.ID)
			}
			if m.Size != int64(len(want)) || m.Term != m.Index/10 || !reflect.DeepEqual(m.Configuration, testConfig) {
				t.Fatalf("crash at %d: metadata of %s: %+v", n, m.ID, *m)
			}
			_, got, err := readSnapshot(t, s, m.ID)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("crash at %d: snapshot %s: %d bytes, %v", n, m.ID, len(got), err)
			}
			found = found || m.ID == newest
		}
		if !found {
			t.Fatalf("crash at %d of %d: the newest acknowledged snapshot %s is gone (listed: %d)", n, total, newest, len(metas))
		}
		s.Close()
	}
}
