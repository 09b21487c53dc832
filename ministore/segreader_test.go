// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mini-go/mini/vfs"
)

// openCounter counts the opens of each file.
type openCounter struct {
	vfs.FS
	mu    sync.Mutex
	opens map[string]int
}

func (c *openCounter) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	c.mu.Lock()
	c.opens[name]++
	c.mu.Unlock()
	return c.FS.OpenFile(name, flag, perm)
}

// reset returns the counts so far and starts again.
func (c *openCounter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.opens
	c.opens = map[string]int{}
	return o
}

// Every reader of a journal opens each of its files at most once: a
// journal of many small segments must not cost an open (and a header read)
// more per segment, whether it is read from its start or from the middle.
func TestSegmentsOpenedOnce(t *testing.T) {
	mem := vfs.NewMem()
	fsys := &openCounter{FS: mem, opens: map[string]int{}}
	const path = "/d/j.log"
	s := smallSegments(t, mem, path, 200)
	segs := len(s.Segments())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if segs < 10 {
		t.Fatalf("%d segments, want 10 or more", segs)
	}
	for _, tc := range []struct {
		name string
		read func() error
		// all: every file is opened; otherwise at least the newest
		all bool
		// most: at most this many files are opened (0: no limit)
		most int
	}{
		{"Records from 0", func() error { return countRecords(fsys, path, 0, 200) }, true, 0},
		{"Records from 150", func() error { return countRecords(fsys, path, 150, 51) }, false, 0},
		{"Records from 200", func() error { return countRecords(fsys, path, 200, 1) }, false, 0},
		{"a pass from a seek hint", func() error {
			// As Follow polls: the oldest file's header, the file before
			// the hint's and the hint's.
			var pos seekHint
			if err := readLogTries(fsys, path, 1, 0, nil, true, 1, &pos, func(uint64, []byte) bool { return true }); err != nil {
				return err
			}
			fsys.reset()
			hint := pos
			return readLogTries(fsys, path, hint.seq, 0, &hint, true, 1, &pos, func(uint64, []byte) bool { return true })
		}, false, 3},
		{"Inspect", func() error {
			info, err := inspectFS(fsys, path, nil)
			if err == nil && (info.Problem != nil || info.Records != 200) {
				err = errors.New("wrong info")
			}
			return err
		}, true, 0},
		{"Bounds", func() error {
			first, last, err := boundsFS(fsys, path)
			if err == nil && (first != 1 || last != 200) {
				err = errors.New("wrong bounds")
			}
			return err
		}, true, 0},
		{"Open", func() error {
			s, err := Open[kv](path, quietOptions(Options{MaxSegmentBytes: 512}, fsys))
			if err == nil {
				err = s.Close()
			}
			return err
		}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys.reset()
			if err := tc.read(); err != nil {
				t.Fatal(err)
			}
			opens := fsys.reset()
			delete(opens, boundPath(path)) // the front bound (NAME.front) is not a segment
			for name, n := range opens {
				// The lock, and the clean-end proof (read by Open,
				// written by Close), are not segments.
				if n > 1 && filepath.Ext(name) != ".lock" && filepath.Ext(name) != cleanEndSuffix {
					t.Errorf("%s opened %d times", name, n)
				}
			}
			if tc.most != 0 && len(opens) > tc.most {
				t.Errorf("%d files opened, want %d at most: %v", len(opens), tc.most, slices.Sorted(maps.Keys(opens)))
			}
			if tc.all && len(opens) < segs {
				t.Errorf("%d files opened of %d: %v", len(opens), segs, slices.Sorted(maps.Keys(opens)))
			}
			if opens[path] != 1 {
				t.Errorf("the active file opened %d times", opens[path])
			}
		})
	}
}

// smallSegments opens a journal at path on fsys with segments of about 5
// records and appends records 1 to n.
func smallSegments(t *testing.T, fsys vfs.FS, path string, n int) *Store[kv] {
	t.Helper()
	s, err := Open[kv](path, quietOptions(Options{MaxSegmentBytes: 512}, fsys))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1, n)
	return s
}

// countRecords reads the journal from from on and checks it gets n records.
func countRecords(fsys vfs.FS, path string, from uint64, n int) error {
	got := 0
	var rerr error
	records(fsys, path, from, 0, nil, func(r Record[kv], err error) bool {
		if err != nil {
			rerr = err
			return false
		}
		got++
		return true
	})
	if rerr == nil && got != n {
		rerr = errors.New("wrong count")
	}
	return rerr
}

// A seek hint that rotations made stale (the active file it names now
// starts after from) loses no record: reading starts again at the oldest
// file, which holds from.
func TestSeekHintStale(t *testing.T) {
	mem := vfs.NewMem()
	const path = "/d/j.log"
	s := smallSegments(t, mem, path, 100)
	defer s.Close()
	var pos seekHint
	all := func(uint64, []byte) bool { return true }
	if err := readLogTries(mem, path, 1, 0, nil, true, 1, &pos, all); err != nil || pos.seq != 101 || pos.path != path {
		t.Fatalf("first pass: %v, hint %+v", err, pos)
	}
	before := len(s.Segments())
	appendN(t, s, 101, 30) // several rotations: the hint's file is sealed
	if len(s.Segments()) < before+2 {
		t.Fatalf("%d segments, then %d: want two rotations or more", before, len(s.Segments()))
	}
	// The record after the hint is now in the oldest file.
	if err := s.TruncateFront(101); err != nil {
		t.Fatal(err)
	}
	hint := pos
	var got []uint64
	if err := readLogTries(mem, path, hint.seq, 0, &hint, true, 1, &pos, func(seq uint64, _ []byte) bool {
		got = append(got, seq)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 30 || got[0] != 101 || got[29] != 130 {
		t.Fatalf("read %d records (%v), want 101 to 130", len(got), got)
	}
}

// The reader's error is sticky: after a segment that does not follow the
// one before, next and scan return false and Err keeps the error.
func TestSegReaderStickyErr(t *testing.T) {
	mem := vfs.NewMem()
	const path = "/d/j.log"
	smallSegments(t, mem, path, 100).Close()
	files, err := listSegments(mem, path)
	if err != nil || len(files) < 4 {
		t.Fatalf("%d files, %v", len(files), err)
	}
	if err := mem.Remove(files[1].path); err != nil {
		t.Fatal(err)
	}
	r := openSegments(mem, path, os.O_RDONLY)
	defer r.close()
	n := 0
	for r.next(0) {
		for r.scan() {
			n++
		}
	}
	var je *JournalError
	if !errors.As(r.Err(), &je) || !errors.Is(r.Err(), ErrCorrupt) || je.Path != files[2].path || !r.changed {
		t.Fatalf("Err = %v, want a missing segment at %s", r.Err(), files[2].path)
	}
	if n == 0 || r.next(0) || r.scan() || r.Err() != error(je) {
		t.Fatalf("after the error: %d records, next or scan true, or Err changed to %v", n, r.Err())
	}
}

// BenchmarkSegments opens, inspects and bounds a journal of 100,000
// ~100-byte records in one segment and in about 1,000; ns/op is per
// call. Many small segments should cost little more than one.
func BenchmarkSegments(b *testing.B) {
	segmentedJournals(b, func(name, path string, n, segs int) {
		b.Run(name+"/Open", func(b *testing.B) {
			opts := &Options{NoPreallocate: true}
			b.ReportAllocs()
			for b.Loop() {
				s, err := Open[benchRecord](path, opts)
				if err != nil {
					b.Fatal(err)
				}
				if s.LastSeq() != uint64(n) {
					b.Fatalf("last %d", s.LastSeq())
				}
				s.Close()
			}
			b.ReportMetric(float64(segs), "segments")
		})
		b.Run(name+"/Inspect", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				info, err := Inspect(path, nil)
				if err != nil || info.Records != uint64(n) {
					b.Fatal(info, err)
				}
			}
			b.ReportMetric(float64(segs), "segments")
		})
		b.Run(name+"/Bounds", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, last, err := Bounds(path); err != nil || last != uint64(n) {
					b.Fatal(last, err)
				}
			}
			b.ReportMetric(float64(segs), "segments")
		})
	})
}

// segmentedJournals writes n = 100,000 ~100-byte records to a journal of
// one segment ("1seg") and to one of about 1,000 ("1000seg"), and calls fn
// with each one's name, path, n and number of segments.
func segmentedJournals(b *testing.B, fn func(name, path string, n, segs int)) {
	const n = 100_000
	dir := b.TempDir()
	for _, c := range []struct {
		name     string
		segBytes int64
	}{{"1seg", 1 << 30}, {"1000seg", 15 << 10}} {
		path := filepath.Join(dir, c.name, "j.log")
		s, err := Open[benchRecord](path, &Options{Sync: SyncNever, MaxSegmentBytes: c.segBytes})
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			if _, err := s.Append(newBenchRecord(i)); err != nil {
				b.Fatal(err)
			}
		}
		segs := len(s.Segments())
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		fn(c.name, path, n, segs)
	}
}

// TestScanZerosNotCopied checks that the newest segment's preallocated
// zeros are judged in the reader's buffer, not copied out of it: every
// Open after a crash reads them, and a buffer's worth of garbage each time
// starts the garbage collector early in a recovering process.
func TestScanZerosNotCopied(t *testing.T) {
	b := appendHeader(nil, FormatV1, 1)
	for seq := uint64(1); seq <= 3; seq++ {
		b = appendLine(b, FormatV1, seq, seq-1, []byte(`{"k":"v"}`))
	}
	b = append(b, make([]byte, 4*scanBufSize)...)
	path := filepath.Join(t.TempDir(), "j.log")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := newScanner(path, f, int64(len(b)), true, 1)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	for _, ok := s.next(); ok; _, ok = s.next() {
		n++
	}
	runtime.ReadMemStats(&after)
	if n != 3 || s.err != nil || s.torn != nil {
		t.Fatalf("read %d records, err %v, torn tail %v; want 3 records and the zeros as preallocated space", n, s.err, s.torn)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > scanBufSize/8 {
		t.Fatalf("scanning %d bytes of zeros allocated %d bytes, want at most %d", 4*scanBufSize, got, scanBufSize/8)
	}
}

// TestRelist: the one policy of the readers without the lock. A pass that
// fails with what a race can cause runs again; one that saw the journal
// change does not count, so damage that stays is reported after tries
// passes that saw nothing change, and a journal that never holds still
// after relistMaxPasses; any other answer ends at once.
func TestRelist(t *testing.T) {
	defer func(p time.Duration) { relistPause = p }(relistPause)
	relistPause = 0
	race := errors.New("a file gone")
	damage := errors.New("damage")
	for _, tc := range []struct {
		name  string
		tries int
		pass  func(n int) (changed bool, err error) // pass n, from 1
		want  int                                   // passes made
		err   error
		last  []int // the passes told they are the last
	}{
		{name: "done", tries: 2, pass: func(int) (bool, error) { return false, nil }, want: 1, last: []int{}},
		{name: "damage", tries: 2, pass: func(int) (bool, error) { return false, damage }, want: 1, err: damage, last: []int{}},
		{name: "race that stays", tries: 2, pass: func(int) (bool, error) { return false, relistError{race} }, want: 2, err: race, last: []int{2}},
		{name: "one pass", tries: 1, pass: func(int) (bool, error) { return false, relistError{race} }, want: 1, err: race, last: []int{1}},
		{name: "race then done", tries: 5, pass: func(n int) (bool, error) {
			if n < 4 {
				return false, relistError{race}
			}
			return false, nil
		}, want: 4, last: []int{}},
		{name: "changing, then damage that stays", tries: 3, pass: func(n int) (bool, error) { return n <= 10, relistError{race} }, want: 13, err: race, last: []int{13}},
		{name: "never holds still", tries: 2, pass: func(int) (bool, error) { return true, relistError{race} }, want: relistMaxPasses, err: race, last: []int{relistMaxPasses}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			last := []int{}
			err := relist(tc.tries, func(l bool) (bool, error) {
				n++
				if l {
					last = append(last, n)
				}
				return tc.pass(n)
			})
			if n != tc.want || err != tc.err || !slices.Equal(last, tc.last) {
				t.Fatalf("relist: %d passes, %v, last at %v; want %d, %v, last at %v", n, err, last, tc.want, tc.err, tc.last)
			}
		})
	}
}
