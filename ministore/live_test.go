// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mini-go/mini/vfs"
)

func TestStat(t *testing.T) {
	type ev struct{ N int }
	tests := []struct {
		name    string
		records int
		segSize int64
		front   uint64 // TruncateFront before Stat, if not 0
		tear    bool   // append half a line to the active file
	}{
		{name: "empty"},
		{name: "one file", records: 10},
		{name: "rotated", records: 200, segSize: 1024},
		{name: "truncated front", records: 200, segSize: 1024, front: 57},
		{name: "torn tail", records: 30, segSize: 1024, tear: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			s, err := Open[ev](path, &Options{MaxSegmentBytes: tt.segSize})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.records {
				if _, err := s.Append(ev{i}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.front > 0 {
				if err := s.TruncateFront(tt.front); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.tear {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString(`{"seq":31,"sync":30,"rec":{"N":3`)
				f.Close()
			}
			got, err := Stat(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Inspect(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Problem != nil {
				t.Fatalf("Problem = %v, want nil", got.Problem)
			}
			if got.FirstSeq != want.FirstSeq || got.LastSeq != want.LastSeq || got.Records != want.Records ||
				got.Bytes != want.Bytes || len(got.Segments) != len(want.Segments) {
				t.Fatalf("Stat = first %d last %d records %d bytes %d segments %d; Inspect = %d %d %d %d %d",
					got.FirstSeq, got.LastSeq, got.Records, got.Bytes, len(got.Segments),
					want.FirstSeq, want.LastSeq, want.Records, want.Bytes, len(want.Segments))
			}
			for i, g := range got.Segments {
				w := want.Segments[i]
				if g.Path != w.Path || g.FirstSeq != w.FirstSeq || g.Records != w.Records || g.Bytes != w.Bytes {
					t.Fatalf("segment %d: Stat %+v, Inspect %+v", i, g, w)
				}
			}
		})
	}
}

// Damage in the newest file is an error naming the file, not the end.
func TestStatDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s, err := Open[int](path, &Options{NoPreallocate: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.Append(i); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := splitLines(b)
	off := len(lines[0]) + 1 + len(lines[1]) + 1 + 10 // inside record 2
	b[off] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Stat(path, nil)
	var je *JournalError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &je) || je.Path != path {
		t.Fatalf("Stat of a damaged journal = %v, want a *JournalError on %s matching ErrCorrupt", err, path)
	}
}

// Stat beside a writer that rotates and truncates the front all the time
// never fails, and what it reports is a consistent journal.
func TestStatLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[string](t, path, &Options{MaxSegmentBytes: 512})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			seq, err := s.Append("a record of some length to rotate often")
			if err != nil {
				t.Error(err)
				return
			}
			if i%20 == 19 {
				if err := s.TruncateFront(seq - 10); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	deadline := time.Now().Add(time.Second)
	var prevLast uint64
	n := 0
	for time.Now().Before(deadline) {
		info, err := Stat(path, nil)
		if err != nil {
			t.Fatalf("Stat beside a live writer: %v", err)
		}
		if info.Problem != nil {
			t.Fatalf("Problem: %v", info.Problem)
		}
		if info.LastSeq < prevLast || (info.Records > 0 && info.LastSeq-info.FirstSeq+1 != info.Records) {
			t.Fatalf("Stat: first %d last %d records %d after last %d", info.FirstSeq, info.LastSeq, info.Records, prevLast)
		}
		prevLast = info.LastSeq
		n++
	}
	close(stop)
	wg.Wait()
	if prevLast == 0 || n < 10 {
		t.Fatalf("%d Stats, last seen %d: the test did not run", n, prevLast)
	}
}

// BenchmarkStat compares Stat (headers and the newest file) with Inspect
// (every record) on a journal of 100,000 records in 64 KiB segments.
func BenchmarkStat(b *testing.B) {
	path := filepath.Join(b.TempDir(), "j.log")
	s, err := Open[string](path, &Options{MaxSegmentBytes: 64 << 10, Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]string, 1000)
	for i := range batch {
		batch[i] = "a record of forty bytes or so, as usual"
	}
	for range 100 {
		if _, _, err := s.AppendBatch(batch...); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		fn   func() (*JournalInfo, error)
	}{
		{"Stat", func() (*JournalInfo, error) { return Stat(path, nil) }},
		{"Inspect", func() (*JournalInfo, error) { return Inspect(path, nil) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				info, err := bc.fn()
				if err != nil || info.Records != 100000 {
					b.Fatal(info, err)
				}
			}
		})
	}
}

// rotateOnOpen is a file system on which the first open of the active file
// at path first runs rotate: the reader then opens the new active file,
// not the one it listed.
type rotateOnOpen struct {
	vfs.FS
	path   string
	rotate func()
	done   bool
}

func (r *rotateOnOpen) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if name == r.path && !r.done {
		r.done = true
		r.rotate()
	}
	return r.FS.OpenFile(name, flag, perm)
}

// TestStatRotationWhileListed: a rotation between Stat's listing and its
// opening the active file does not make Stat miss the file renamed (the
// listing is taken again until it holds still).
func TestStatRotationWhileListed(t *testing.T) {
	m := vfs.NewMem()
	s := openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
	defer s.Close()
	appendN(t, s, 1, 2)
	fsys := &rotateOnOpen{FS: m, path: dirPath, rotate: func() {
		appendN(t, s, 3, 6) // rotates at least once
	}}
	info, err := Stat(dirPath, &Options{FS: fsys})
	if !fsys.done {
		t.Fatal("Stat did not open the active file")
	}
	if err != nil || info.FirstSeq != 1 || info.LastSeq != 8 || info.Records != 8 || len(info.Segments) < 2 {
		t.Fatalf("Stat = %+v, %v; want records 1 to 8 in two segments or more", info, err)
	}
}

// boundRaceDuration is how long TestFrontBoundRacingReaders runs: 5 s by
// default, MINI_BOUND_RACE_SECONDS to run it longer.
func boundRaceDuration(t *testing.T) time.Duration {
	d := 5 * time.Second
	if s := os.Getenv("MINI_BOUND_RACE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("MINI_BOUND_RACE_SECONDS=%q: want a number of seconds", s)
		}
		d = time.Duration(n) * time.Second
	}
	if testing.Short() {
		d = time.Second
	}
	return d
}

// TestFrontBoundRacingReaders: on real files, readers that take no lock
// (Records, Bounds, Inspect, Stat, FrontSeq) run in a loop while a writer
// appends and calls TruncateFront thousands of times (raft's DeleteRange
// pattern), so they race the in-place updates of NAME.front; every 64th
// cut is past the end (the journal empties, NAME.front is deleted and made
// again). No reader
// may report damage (a bound half written is a write in flight, not
// damage), and none may return a record below a bound that was
// acknowledged before it started.
func TestFrontBoundRacingReaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, &Options{MaxSegmentBytes: 2048})
	defer s.Close()
	appendN(t, s, 1, 10)

	var acked atomic.Uint64 // the last bound TruncateFront acknowledged
	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
		stop.Store(true)
	}
	var reads [6]atomic.Int64
	var last atomic.Uint64 // the last record whose Append returned
	copies := t.TempDir()  // the live Backups' copies
	last.Store(10)
	var tornTails atomic.Int64 // Inspect seeing a write in flight
	var gaps atomic.Int64      // a TruncatedError after records read
	var mayBeEmpty atomic.Bool // a cut past the end, no record after it yet
	var restarts atomic.Uint64 // odd while a cut past the end runs
	reader := func(id int) {
		defer wg.Done()
		for i := id; !stop.Load(); i++ {
			floor := acked.Load()
			emptyOK := mayBeEmpty.Load()
			gen := restarts.Load()
			kind := i % len(reads)
			reads[kind].Add(1)
			switch kind {
			case 0:
				n := 0
				for r, err := range Records[kv](path, 0) {
					var te *TruncatedError
					if errors.As(err, &te) && n > 0 {
						// Records after those read were deleted before
						// the reader got to them: a gap it must be told
						// of.
						gaps.Add(1)
						n = -1
						break
					}
					if err != nil {
						// From 0 means from the first record left: no
						// TruncatedError before any record, and a file
						// that a cut deleted under the read is a race,
						// read again, not an error.
						fail(fmt.Errorf("Records after %d records: %w", n, err))
						return
					}
					if r.Seq < floor || r.Value.V != int(r.Seq) {
						fail(fmt.Errorf("Records: record %d (value %d) with bound %d acknowledged", r.Seq, r.Value.V, floor))
						return
					}
					if n++; n == 20 {
						break
					}
				}
				g := restarts.Load()
				if n == 0 && !emptyOK && !mayBeEmpty.Load() && g == gen && g%2 == 0 {
					// The writer keeps five records after the bound: the
					// journal was never empty during the call.
					fail(errors.New("Records: no record, and the journal was never empty"))
					return
				}
			case 1:
				first, _, err := Bounds(path)
				g := restarts.Load()
				emptied := emptyOK || mayBeEmpty.Load() || g != gen || g%2 == 1
				if err != nil || (first != 0 && first < floor) || (first == 0 && !emptied) {
					fail(fmt.Errorf("Bounds: first %d, %v; bound %d acknowledged", first, err, floor))
					return
				}
			case 2:
				// Inspect reads again when a rotation or a cut changes
				// the files under it; a record half written at the end
				// of the newest file (a write in flight) is a torn tail.
				info, err := Inspect(path, nil)
				if err == nil && errors.Is(info.Problem, ErrTornTail) {
					tornTails.Add(1)
				} else if err != nil || info.Problem != nil {
					fail(fmt.Errorf("Inspect: %+v, %w", info, err))
					return
				} else if info.Records > 0 && info.FirstSeq < floor {
					fail(fmt.Errorf("Inspect: first record %d; bound %d acknowledged", info.FirstSeq, floor))
					return
				}
			case 3:
				info, err := Stat(path, nil)
				// Empty is right if a cut past the end ran during the
				// call (the journal was empty until the next append).
				g := restarts.Load()
				emptied := emptyOK || mayBeEmpty.Load() || g != gen || g%2 == 1
				if err != nil || info.Problem != nil || (info.Records > 0 && info.FirstSeq < floor) || (info.Records == 0 && !emptied) {
					fail(fmt.Errorf("Stat: %+v, %v; bound %d acknowledged", info, err, floor))
					return
				}
			case 4:
				first, err := FrontSeq(path, nil)
				if err != nil || first < floor {
					fail(fmt.Errorf("FrontSeq: %d, %v; bound %d acknowledged", first, err, floor))
					return
				}
			case 5:
				// A live copy holds the records from the bound (or a
				// later one) on, each once and in order, up to at least
				// the last one acknowledged before it started.
				end := last.Load()
				dst := filepath.Join(copies, strconv.Itoa(id)) // one per reader
				info, err := Backup(path, dst, nil)
				var got []uint64
				for r, rerr := range Records[kv](info.Path, 0) {
					if err != nil {
						break
					}
					if err = rerr; err == nil && r.Value.V != int(r.Seq) {
						err = fmt.Errorf("record %d holds %d", r.Seq, r.Value.V)
					}
					got = append(got, r.Seq)
				}
				os.RemoveAll(dst)
				g := restarts.Load()
				emptied := emptyOK || mayBeEmpty.Load() || g != gen || g%2 == 1
				ok := err == nil && info.Live && (len(got) > 0 || emptied) && (len(got) == 0 ||
					got[0] == info.First && info.First >= floor && info.Last >= end && len(got) == int(info.Last-info.First+1))
				for k := 1; ok && k < len(got); k++ {
					ok = got[k] == got[k-1]+1
				}
				if !ok {
					fail(fmt.Errorf("Backup: %+v holds %d records, %v; bound %d, record %d acknowledged before", info, len(got), err, floor, end))
					return
				}
			}
		}
	}
	for id := range 2 {
		wg.Add(1)
		go reader(id)
	}

	deadline := time.Now().Add(boundRaceDuration(t))
	cuts := 0
	next := 11
	for !stop.Load() && time.Now().Before(deadline) {
		appendN(t, s, next, 3)
		next += 3
		last.Store(uint64(next - 1))
		// Keep the last five records: the bound moves inside a segment
		// most of the time and past one now and then. Every 64th cut is
		// past the end (the journal empties, the bound file goes).
		cut := uint64(next - 5)
		pastEnd := cuts%64 == 63
		if pastEnd {
			next += 2
			cut = uint64(next)
			mayBeEmpty.Store(true)
			restarts.Add(1)
		}
		if err := s.TruncateFront(cut); err != nil {
			fail(fmt.Errorf("TruncateFront(%d): %w", cut, err))
			break
		}
		if pastEnd {
			restarts.Add(1)
		}
		acked.Store(cut)
		cuts++
		if pastEnd {
			appendN(t, s, next, 1)
			last.Store(uint64(next))
			next++
			mayBeEmpty.Store(false)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		var je *JournalError
		t.Errorf("%v (JournalError: %v, ErrCorrupt: %v)", err, errors.As(err, &je), errors.Is(err, ErrCorrupt))
	}
	t.Logf("%d TruncateFront calls; reads: Records %d (%d cut short by a TruncatedError), Bounds %d, Inspect %d (%d torn tails), Stat %d, FrontSeq %d, Backup %d",
		cuts, reads[0].Load(), gaps.Load(), reads[1].Load(), reads[2].Load(), tornTails.Load(), reads[3].Load(), reads[4].Load(), reads[5].Load())
	if cuts < 100 {
		t.Errorf("only %d TruncateFront calls: the race did not run", cuts)
	}
}

// cutOnOpenFS runs cut once, the first time a journal file (not the bound
// file or the lock; the active file only, if last is set) is opened
// through it: a writer emptying the journal between a reader's opening of
// the files and its reading of the bound.
type cutOnOpenFS struct {
	vfs.FS
	last string
	once sync.Once
	cut  func()
}

func (c *cutOnOpenFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err == nil && !strings.HasSuffix(name, ".front") && !strings.HasSuffix(name, ".lock") && (c.last == "" || name == c.last) {
		c.once.Do(c.cut)
	}
	return f, err
}

// TestFrontBoundReaderRacesEmptying: a reader that opens the journal's
// files and then reads the bound (FrontSeq, Backup) while TruncateFront
// past the end empties the journal (the bound moves to the end, the files
// go, then the bound file) must not pair the old files with no bound: that
// brings back the records below the bound acknowledged before it started.
// It opens the files again when the bound it reads after them is below the
// one it read before.
func TestFrontBoundReaderRacesEmptying(t *testing.T) {
	for _, reader := range []string{"FrontSeq", "BackupTo"} {
		t.Run(reader, func(t *testing.T) {
			m, s := frontJournal(t, 20)
			defer s.Close()
			if err := s.TruncateFront(8); err != nil {
				t.Fatal(err)
			}
			fsys := &cutOnOpenFS{FS: m, cut: func() {
				if err := s.TruncateFront(30); err != nil {
					t.Error(err)
				}
			}}
			var first uint64
			var err error
			switch reader {
			case "FrontSeq":
				first, err = FrontSeq(dirPath, &Options{FS: fsys})
			case "BackupTo":
				fsys.last = dirPath // after the sealed segments
				if err := vfs.MkdirAll(m, "/copy", 0o755); err != nil {
					t.Fatal(err)
				}
				var info BackupInfo
				info, err = BackupTo(dirPath, "/copy", &Options{FS: fsys})
				first = info.Next
				if info.First != 0 {
					first = info.First
				}
			}
			if err != nil || first < 30 {
				t.Fatalf("%s = %d, %v; want 30 (the journal was emptied at 30; 8 was acknowledged before)", reader, first, err)
			}
		})
	}
}

// TestBackupLiveFrontFilesGone: a live copy that finds files it listed
// deleted by a cut before it opened them goes on with the files after
// them, in one pass (a writer that cuts often kept a copy that started
// again at each such file from ever ending: miniqueue's
// TestBackupUnderLoad ran out of time and file descriptors). A listed
// file that is gone without a cut behind it is still an error, never a
// copy without it.
func TestBackupLiveFrontFilesGone(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  uint64 // 0: delete the second file with no cut
		pre  uint64 // the bound before the copy starts
	}{
		{name: "cut", cut: 15},
		{name: "cut past a bound", cut: 15, pre: 3},
		{name: "deleted, no bound"},
		{name: "deleted below a bound", pre: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s := frontJournal(t, 20)
			defer s.Close()
			if tc.pre != 0 {
				if err := s.TruncateFront(tc.pre); err != nil {
					t.Fatal(err)
				}
			}
			files, err := listSegments(m, dirPath)
			if err != nil || len(files) < 4 {
				t.Fatalf("%d files, %v; want 4 or more", len(files), err)
			}
			fsys := &cutOnOpenFS{FS: m, last: files[0].path, cut: func() {
				err := s.TruncateFront(tc.cut)
				if tc.cut == 0 {
					err = m.Remove(files[1].path)
				}
				if err != nil {
					t.Error(err)
				}
			}}
			if err := vfs.MkdirAll(m, "/copy", 0o755); err != nil {
				t.Fatal(err)
			}
			info, err := BackupTo(dirPath, "/copy", &Options{FS: fsys})
			if tc.cut == 0 {
				if err == nil || !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("BackupTo with %s deleted = %+v, %v; want an error", files[1].path, info, err)
				}
				return
			}
			if err != nil || info.Tries != 1 || info.First != tc.cut || info.Last != 20 {
				t.Fatalf("BackupTo = %+v, %v; want records %d to 20 in one try", info, err, tc.cut)
			}
			got, err := seqsOf(t, RecordsWith[kv]("/copy/"+filepath.Base(dirPath), 0, &Options{FS: m}))
			if err != nil || len(got) != int(21-tc.cut) || got[0] != tc.cut {
				t.Fatalf("the copy holds %v, %v; want %d to 20", got, err, tc.cut)
			}
		})
	}
}

// openHookFS runs hook once, before the first open of the file at path
// through it: a writer changing the journal between a reader's listing and
// its opening of that file.
type openHookFS struct {
	vfs.FS
	path string
	once sync.Once
	hook func()
}

func (h *openHookFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if name == h.path {
		h.once.Do(h.hook)
	}
	return h.FS.OpenFile(name, flag, perm)
}

// TestReadersRotationWhileListed: a rotation between a reader's listing
// and its opening of the active file (the file renamed to a sealed name,
// a new active file with no record yet) makes the readers without the
// lock read again, not miss the records of the file renamed: Records
// reported an empty journal (and FrontSeq its first record past them) when
// the active file was listed alone, and Inspect a missing segment after
// sealed ones.
func TestReadersRotationWhileListed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bound uint64 // TruncateFront before the rotation, if not 0
		seg   int64  // MaxSegmentBytes: 0 for one file
	}{
		{name: "active file alone"},
		{name: "active file alone, bound", bound: 4},
		{name: "after sealed files", seg: 200},
		{name: "after sealed files, bound", seg: 200, bound: 4},
	} {
		for _, reader := range []string{"Records", "Inspect", "FrontSeq", "BackupTo"} {
			t.Run(tc.name+"/"+reader, func(t *testing.T) {
				m := vfs.NewMem()
				s := openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: tc.seg}, m))
				appendN(t, s, 1, 10)
				if err := s.TruncateFront(tc.bound); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				files, err := listSegments(m, dirPath)
				if err != nil {
					t.Fatal(err)
				}
				num := 1
				for _, f := range files {
					num = max(num, f.num+1)
				}
				fsys := &openHookFS{FS: m, path: dirPath, hook: func() {
					sealed := segmentName(dirPath, num, minSegmentWidth)
					if err := m.Rename(dirPath, sealed); err != nil {
						t.Error(err)
					}
					f, err := createActive(m, dirPath, appendSchemaHeader(nil, FormatV1, 11, ""))
					if err != nil {
						t.Error(err)
						return
					}
					f.Close()
				}}
				first := max(tc.bound, 1)
				opts := &Options{FS: fsys}
				switch reader {
				case "Records":
					got, err := seqsOf(t, RecordsWith[kv](dirPath, 0, opts))
					if err != nil || len(got) != int(11-first) || got[0] != first {
						t.Fatalf("Records = %v, %v; want %d to 10", got, err, first)
					}
				case "Inspect":
					info, err := inspectFS(fsys, dirPath, nil)
					if err != nil || info.Problem != nil || info.FirstSeq != first || info.LastSeq != 10 {
						t.Fatalf("Inspect = %+v, %v; want %d to 10", info, err, first)
					}
				case "FrontSeq":
					got, err := FrontSeq(dirPath, opts)
					if err != nil || got != first {
						t.Fatalf("FrontSeq = %d, %v; want %d", got, err, first)
					}
				case "BackupTo":
					// Live: the writer (here the hook) holds the lock.
					lk, err := m.Lock(dirPath + ".lock")
					if err != nil {
						t.Fatal(err)
					}
					defer lk.Close()
					if err := vfs.MkdirAll(m, "/copy", 0o755); err != nil {
						t.Fatal(err)
					}
					info, err := BackupTo(dirPath, "/copy", opts)
					if err != nil || !info.Live || info.First != first || info.Last != 10 {
						t.Fatalf("BackupTo = %+v, %v; want a live copy of %d to 10", info, err, first)
					}
				}
			})
		}
	}
}
