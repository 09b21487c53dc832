// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministore"
)

// The tests named after raft-boltdb's bolt_store_test.go are the list every
// raft storage backend passes, written anew for LogStore.

func TestLogStore_Implements(t *testing.T) {
	var store any = &LogStore{}
	if _, ok := store.(raft.LogStore); !ok {
		t.Fatal("LogStore does not implement raft.LogStore")
	}
	if m, ok := store.(raft.MonotonicLogStore); !ok || !m.IsMonotonic() {
		t.Fatal("LogStore is not a monotonic raft.LogStore")
	}
	var stable any = &StableStore{}
	if _, ok := stable.(raft.StableStore); !ok {
		t.Fatal("StableStore does not implement raft.StableStore")
	}
	var snaps any = &SnapshotStore{}
	if _, ok := snaps.(raft.SnapshotStore); !ok {
		t.Fatal("SnapshotStore does not implement raft.SnapshotStore")
	}
}

func TestLogStore_FirstIndex(t *testing.T) {
	for _, cache := range []int{0, -1} {
		l := openLogStore(t, &StoreOptions{CacheLogs: cache})
		mustIndexes(t, l, 0, 0)
		mustStore(t, l, 1, 3)
		if idx, err := l.FirstIndex(); err != nil || idx != 1 {
			t.Fatalf("FirstIndex = %d, %v; want 1", idx, err)
		}
	}
}

func TestLogStore_LastIndex(t *testing.T) {
	l := openLogStore(t, nil)
	if idx, err := l.LastIndex(); err != nil || idx != 0 {
		t.Fatalf("LastIndex of an empty store = %d, %v", idx, err)
	}
	mustStore(t, l, 1, 3)
	if idx, err := l.LastIndex(); err != nil || idx != 3 {
		t.Fatalf("LastIndex = %d, %v; want 3", idx, err)
	}
}

func TestLogStore_GetLog(t *testing.T) {
	for _, cache := range []int{0, -1} {
		l := openLogStore(t, &StoreOptions{CacheLogs: cache})
		var got raft.Log
		if err := l.GetLog(1, &got); err != raft.ErrLogNotFound {
			t.Fatalf("GetLog on an empty store: %v, want raft.ErrLogNotFound", err)
		}
		logs := testLogs(1, 3)
		if err := l.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		mustLogs(t, l, logs)
		for _, idx := range []uint64{0, 4, 100} {
			if err := l.GetLog(idx, &got); err != raft.ErrLogNotFound {
				t.Fatalf("GetLog(%d): %v, want raft.ErrLogNotFound", idx, err)
			}
		}
	}
}

func TestLogStore_SetLog(t *testing.T) {
	l := openLogStore(t, nil)
	lg := testLog(1)
	if err := l.StoreLog(lg); err != nil {
		t.Fatal(err)
	}
	mustLogs(t, l, []*raft.Log{lg})
	mustIndexes(t, l, 1, 1)
}

func TestLogStore_SetLogs(t *testing.T) {
	l := openLogStore(t, nil)
	mustStore(t, l, 1, 2)
	mustLogs(t, l, testLogs(1, 2))
	mustIndexes(t, l, 1, 2)
}

func TestLogStore_DeleteRange(t *testing.T) {
	l := openLogStore(t, nil)
	mustStore(t, l, 1, 3)
	mustDelete(t, l, 1, 2)
	var got raft.Log
	for _, idx := range []uint64{1, 2} {
		if err := l.GetLog(idx, &got); err != raft.ErrLogNotFound {
			t.Fatalf("GetLog(%d) after delete: %v", idx, err)
		}
	}
	mustLogs(t, l, testLogs(3, 3))
	mustIndexes(t, l, 3, 3)
}

// Deleting the front moves the journal's front bound and removes whole
// segment files below it; it rewrites no file, and the deletion holds
// after reopening.
func TestLogStoreFrontDeleteCopiesNothing(t *testing.T) {
	opts := &StoreOptions{MaxSegmentBytes: 1000}
	l := openLogStore(t, opts)
	for i := uint64(1); i <= 100; i += 10 {
		mustStore(t, l, i, i+9)
	}
	before := l.j.Segments()
	if len(before) < 4 {
		t.Fatalf("want several segments, got %d", len(before))
	}
	mustDelete(t, l, 1, 55)
	mustIndexes(t, l, 56, 100)
	var got raft.Log
	if err := l.GetLog(55, &got); err != raft.ErrLogNotFound {
		t.Fatalf("GetLog(55) after delete: %v", err)
	}
	after := l.j.Segments()
	// The first segment left is the one that held 56, unchanged: same
	// file, same first record, same size.
	var holder ministore.SegmentInfo
	for _, seg := range before {
		if seg.FirstSeq <= 56 && seg.Records > 0 && 56 < seg.FirstSeq+seg.Records {
			holder = seg
		}
	}
	if after[0].Path != holder.Path || after[0].FirstSeq != holder.FirstSeq || after[0].End != holder.End {
		t.Fatalf("first segment after delete = %+v, want the untouched %+v", after[0], holder)
	}
	for _, seg := range before {
		_, err := os.Stat(seg.Path)
		gone := errors.Is(err, os.ErrNotExist)
		if below := seg.FirstSeq+seg.Records <= holder.FirstSeq; below != gone {
			t.Fatalf("segment %s (records %d..): removed %v, want %v", seg.Path, seg.FirstSeq, gone, below)
		}
	}

	l = reopenLog(t, l, opts)
	mustIndexes(t, l, 56, 100)
	mustLogs(t, l, testLogs(56, 100))

	for i := uint64(56); i < 99; i++ {
		mustDelete(t, l, i, i)
	}
	l = mustReopen(t, l, opts, 99, 100)

	// Deleting everything and starting below the old front brings back
	// none of the old logs.
	mustDelete(t, l, 99, 100)
	mustStore(t, l, 10, 12)
	l = mustReopen(t, l, opts, 10, 12)
	mustLogs(t, l, testLogs(10, 12))
}

// A damaged front bound is an error that names it, never a log that
// silently starts elsewhere.
func TestLogStoreDamagedFront(t *testing.T) {
	l := openLogStore(t, nil)
	mustStore(t, l, 1, 10)
	for _, hi := range []uint64{2, 4} {
		mustDelete(t, l, 1, hi)
	}
	l.Close()
	path := l.Path() + ".front"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "first=5")
	if i < 0 {
		t.Fatalf("no bound 5 in %q", data)
	}
	data[i+len("first=")] = '7'
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenLogStore(l.Path(), quietOpts(nil))
	if !errors.Is(err, ministore.ErrCorrupt) || !strings.Contains(err.Error(), "raft.log.front") {
		t.Fatalf("OpenLogStore with a damaged front = %v, want ErrCorrupt naming raft.log.front", err)
	}
}

// A folder written by miniraft before the front bound (testdata/old-front:
// logs 1..10, holes 11 and 12, logs 13..15, and the front at 7 in the
// journal raft.log.first) opens with the same logs; the old front journal
// is moved into the log's bound and deleted.
func TestLogStoreMigratesOldFront(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"raft.log", "raft.log.001", "raft.log.first"} {
		data, err := os.ReadFile(filepath.Join("testdata", "old-front", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "raft.log")
	l, err := OpenLogStore(path, quietOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	check := func(l *LogStore) {
		t.Helper()
		mustIndexes(t, l, 7, 15)
		mustLogs(t, l, testLogs(7, 10))
		mustLogs(t, l, testLogs(13, 15))
		var got raft.Log
		for _, i := range []uint64{6, 11, 12} {
			if err := l.GetLog(i, &got); err != raft.ErrLogNotFound {
				t.Fatalf("GetLog(%d) = %v, want ErrLogNotFound", i, err)
			}
		}
	}
	check(l)
	for _, gone := range []string{"raft.log.first", "raft.log.first.lock"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there: %v", gone, err)
		}
	}
	l = reopenLog(t, l, nil)
	check(l)
	mustStore(t, l, 16, 17)
	mustDelete(t, l, 7, 10) // up to the holes: the first log is 13
	l = mustReopen(t, l, nil, 13, 17)
	l.Close()
}

// The tests below go beyond raft-boltdb's list: what raft does to a log
// store over a node's life, and reopening after each.

// mustReopen checks that l holds the indexes first..last before and after
// it reopens l, and returns the reopened store.
func mustReopen(t *testing.T, l *LogStore, opts *StoreOptions, first, last uint64) *LogStore {
	t.Helper()
	mustIndexes(t, l, first, last)
	l = reopenLog(t, l, opts)
	mustIndexes(t, l, first, last)
	return l
}

func reopenLog(t *testing.T, l *LogStore, opts *StoreOptions) *LogStore {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := OpenLogStore(l.Path(), storeOpts(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l2.Close() })
	return l2
}

func TestLogStoreLifecycle(t *testing.T) {
	l := openLogStore(t, &StoreOptions{MaxSegmentBytes: 400, CacheLogs: 8})
	opts := &StoreOptions{MaxSegmentBytes: 400, CacheLogs: 8}
	all := testLogs(1, 60)
	for i := 0; i < 60; i += 6 {
		if err := l.StoreLogs(all[i : i+6]); err != nil {
			t.Fatal(err)
		}
	}
	mustIndexes(t, l, 1, 60)
	mustLogs(t, l, all)

	// A conflicting suffix: raft deletes it, then stores the leader's logs.
	mustDelete(t, l, 41, 60)
	mustIndexes(t, l, 1, 40)
	repl := testLogs(41, 45)
	for _, lg := range repl {
		lg.Term += 100
	}
	if err := l.StoreLogs(repl); err != nil {
		t.Fatal(err)
	}
	want := append(all[:40:40], repl...)
	mustLogs(t, l, want)

	// StoreLogs over existing indexes replaces them, as raft-boltdb does.
	over := testLogs(44, 47)
	if err := l.StoreLogs(over); err != nil {
		t.Fatal(err)
	}
	want = append(want[:43:43], over...)
	mustIndexes(t, l, 1, 47)
	mustLogs(t, l, want)

	// Compaction behind a snapshot.
	mustDelete(t, l, 1, 30)
	l = mustReopen(t, l, opts, 31, 47)
	mustLogs(t, l, want[30:])

	// A snapshot install: raft deletes everything, then stores from the
	// snapshot's index + 1, which may be below the old last index...
	mustDelete(t, l, 31, 47)
	mustIndexes(t, l, 0, 0)
	mustStore(t, l, 35, 36)
	mustIndexes(t, l, 35, 36)
	mustLogs(t, l, testLogs(35, 36))
	// ... or before the old first one, and after a reopen of the empty log.
	mustDelete(t, l, 0, 100)
	l = reopenLog(t, l, opts)
	mustIndexes(t, l, 0, 0)
	mustStore(t, l, 7, 9)
	mustIndexes(t, l, 7, 9)
	mustDelete(t, l, 7, 9)
	mustStore(t, l, 3, 4)
	l = mustReopen(t, l, opts, 3, 4)
	mustLogs(t, l, testLogs(3, 4))

	// Deleting outside the log does nothing; inside it is refused.
	mustDelete(t, l, 10, 20)
	mustStore(t, l, 5, 9)
	if err := l.DeleteRange(5, 6); !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("DeleteRange inside the log: %v, want ErrNotContiguous", err)
	}
	mustLogs(t, l, testLogs(3, 9))
}

// A gap, in one call or after the last log, is ErrNotContiguous: the
// journal holds one record per index.
func TestLogStoreGaps(t *testing.T) {
	l := openLogStore(t, nil)
	mustStore(t, l, 10, 12)
	for _, bad := range [][]*raft.Log{
		{testLog(0)},
		{testLog(13), testLog(12)},
		{testLog(13), testLog(15)},
		{testLog(14)},
	} {
		if err := l.StoreLogs(bad); !errors.Is(err, ErrNotContiguous) {
			t.Fatalf("StoreLogs(%d..%d): %v, want ErrNotContiguous", bad[0].Index, bad[len(bad)-1].Index, err)
		}
	}
	mustIndexes(t, l, 10, 12)
	// Deleting everything lets the log start anywhere, above or below.
	for _, start := range []uint64{40, 5, 5, 6} {
		mustDelete(t, l, 1, 100)
		mustStore(t, l, start, start+2)
		l = mustReopen(t, l, nil, start, start+2)
		mustLogs(t, l, testLogs(start, start+2))
	}
}

// Hole records, which older journals hold for indexes without a log, read
// as missing logs, and the ends of the log skip them.
func TestLogStoreReadsOldHoles(t *testing.T) {
	path := writeRaftLog(t, encodeLog(testLog(1)), holeRecord, encodeLog(testLog(3)), encodeLog(testLog(4)))
	l, err := OpenLogStore(path, quietOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mustIndexes(t, l, 1, 4)
	var got raft.Log
	if err := l.GetLog(2, &got); err != raft.ErrLogNotFound {
		t.Fatalf("GetLog of a hole: %v", err)
	}
	mustDelete(t, l, 1, 1)
	l = mustReopen(t, l, nil, 3, 4)
	mustLogs(t, l, testLogs(3, 4))
}

// A crash can leave holes at the end of the journal (StoreLogs writes holes
// and logs in one batch and a prefix survives); Open removes them.
func TestLogStoreRecoversTrailingHoles(t *testing.T) {
	path := writeRaftLog(t, encodeLog(testLog(1)), encodeLog(testLog(2)), holeRecord, holeRecord)
	l, err := OpenLogStore(path, quietOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mustIndexes(t, l, 1, 2)
	mustStore(t, l, 3, 3)
	mustLogs(t, l, testLogs(1, 3))
}

// A record that does not hold the log its sequence number says is damage.
func TestLogStoreDetectsMisnumberedRecord(t *testing.T) {
	path := writeRaftLog(t, encodeLog(testLog(1)), encodeLog(testLog(7)))
	if _, err := OpenLogStore(path, quietOpts(nil)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open: %v, want ErrCorrupt", err)
	}
}

func TestLogStoreJournalIsReadable(t *testing.T) {
	l := openLogStore(t, nil)
	mustStore(t, l, 1, 3)
	l.Close()
	b, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"rec":{"index":1,"term":1,"type":0,"json":{"n":1}}`,
		`"rec":{"index":2,"term":1,"type":5,"data":"gAIACjw=","ext":"ZXh0"}`,
		`"rec":{"index":3,"term":1,"type":0,"data":"bG9nIDM=","at":1767323045000000003}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("journal lacks %s:\n%s", want, b)
		}
	}
}

func TestLogStoreClosed(t *testing.T) {
	l := openLogStore(t, nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var lg raft.Log
	for name, err := range map[string]error{
		"StoreLogs":   l.StoreLogs(testLogs(1, 1)),
		"DeleteRange": l.DeleteRange(1, 1),
		"GetLog":      l.GetLog(1, &lg),
	} {
		if err != ErrClosed {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	if _, err := l.FirstIndex(); err != ErrClosed {
		t.Errorf("FirstIndex after Close: %v", err)
	}
	if _, err := OpenLogStore(l.Path(), quietOpts(nil)); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}

func TestLogStoreLocked(t *testing.T) {
	l := openLogStore(t, nil)
	if _, err := OpenLogStore(l.Path(), quietOpts(nil)); !errors.Is(err, ministore.ErrLocked) {
		t.Fatalf("second open: %v, want ministore.ErrLocked", err)
	}
}

// Raft reads logs from its replication goroutines while its main loop
// stores and its snapshot loop compacts.
func TestLogStoreConcurrent(t *testing.T) {
	l := openLogStore(t, &StoreOptions{CacheLogs: 16, MaxSegmentBytes: 2000})
	const n = 400
	var wg sync.WaitGroup
	done := make(chan struct{})
	runUntil(&wg, done, 3, func() bool {
		first, _ := l.FirstIndex()
		last, _ := l.LastIndex()
		for idx := first; idx <= last && idx > 0; idx++ {
			var got raft.Log
			err := l.GetLog(idx, &got)
			if err == raft.ErrLogNotFound {
				continue // compacted meanwhile
			}
			if err != nil {
				t.Error(err)
				return false
			}
			if !sameLog(&got, testLog(idx)) {
				t.Errorf("GetLog(%d) = %+v", idx, got)
				return false
			}
		}
		return true
	})
	var writers sync.WaitGroup
	writers.Go(func() {
		for i := uint64(1); i <= n; i += 4 {
			if err := l.StoreLogs(testLogs(i, i+3)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	writers.Go(func() {
		for i := uint64(0); i < 20; i++ {
			last, _ := l.LastIndex()
			if last > 40 {
				if err := l.DeleteRange(1, last-40); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	writers.Wait()
	close(done)
	wg.Wait()
	mustLogs(t, l, testLogs(n-39, n))
}
