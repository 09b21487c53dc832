// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/mini-go/mini/internal/crashtest"
	"github.com/mini-go/mini/internal/damagetest"
	"github.com/mini-go/mini/vfs"
)

// frontJournal writes records 1..n in segments of about three records
// each on a Mem and returns the store, still open.
func frontJournal(t *testing.T, n int) (*vfs.Mem, *Store[kv]) {
	t.Helper()
	m := vfs.NewMem()
	s, err := Open[kv](dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1, n)
	return m, s
}

// cutJournal writes records 1..n as frontJournal does, cuts the front at
// each of cuts and closes the store.
func cutJournal(t *testing.T, n int, cuts ...uint64) *vfs.Mem {
	t.Helper()
	m, s := frontJournal(t, n)
	for _, c := range cuts {
		if err := s.TruncateFront(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return m
}

// seqsOf reads the sequence numbers of a reader's records.
func seqsOf(t *testing.T, seq func(func(Record[kv], error) bool)) ([]uint64, error) {
	t.Helper()
	var out []uint64
	for r, err := range seq {
		if err != nil {
			return out, err
		}
		if r.Value.V != int(r.Seq) {
			t.Fatalf("record %d holds %d", r.Seq, r.Value.V)
		}
		out = append(out, r.Seq)
	}
	return out, nil
}

// TestTruncateFrontLogical: TruncateFront at any sequence number leaves
// the segment holding it untouched (nothing is copied), deletes the ones
// below it, and every reader, before and after reopening, starts at it.
func TestTruncateFrontLogical(t *testing.T) {
	const n = 20
	for _, tc := range []struct {
		name string
		cut  uint64 // 0: the first record of the third segment
		mid  bool   // cut the second record of the third segment
	}{
		{name: "segment start"},
		{name: "inside a segment", mid: true},
		{name: "first record", cut: 1},
		{name: "last record", cut: n},
		{name: "past the last", cut: n + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s := frontJournal(t, n)
			segs := s.Segments()
			if len(segs) < 5 {
				t.Fatalf("setup: %d segments", len(segs))
			}
			cut := tc.cut
			if cut == 0 {
				cut = segs[2].FirstSeq
				if tc.mid {
					cut++
				}
			}
			before := filesIn(t, m)
			if err := s.TruncateFront(cut); err != nil {
				t.Fatal(err)
			}
			// Every segment file left is as it was: only NAME.front is new.
			after := filesIn(t, m)
			for name, data := range after {
				if name == boundPath(dirPath) || name == dirPath+".lock" {
					continue
				}
				if old, ok := before[name]; !ok || !bytes.Equal(old, data) {
					t.Errorf("%s was written by TruncateFront(%d)", name, cut)
				}
			}
			for _, seg := range segs {
				_, kept := after[seg.Path]
				if want := seg.FirstSeq+seg.Records > cut || seg.Path == dirPath; kept != want {
					t.Errorf("segment %s (records %d..) kept %v, want %v", seg.Path, seg.FirstSeq, kept, want)
				}
			}
			check := func(t *testing.T, s *Store[kv]) {
				t.Helper()
				want := seqRange[uint64](cut, n)
				if got := s.FirstSeq(); got != cut && len(want) > 0 {
					t.Errorf("FirstSeq = %d, want %d", got, cut)
				}
				got, err := seqsOf(t, s.All(0))
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("All(0) = %v, %v; want %v", got, err, want)
				}
				got, err = seqsOf(t, RecordsWith[kv](dirPath, 0, &Options{FS: m}))
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("Records(0) = %v, %v; want %v", got, err, want)
				}
				if cut > 1 {
					_, err = seqsOf(t, RecordsWith[kv](dirPath, cut-1, &Options{FS: m}))
					var te *TruncatedError
					if !errors.As(err, &te) || te.First != cut {
						t.Errorf("Records(%d) = %v, want a TruncatedError with First %d", cut-1, err, cut)
					}
					if _, err := s.Get(cut - 1); !errors.Is(err, ErrNotFound) {
						t.Errorf("Get(%d) = %v, want ErrNotFound", cut-1, err)
					}
				}
				first, last, err := boundsFS(m, dirPath)
				wantFirst, wantLast := cut, uint64(n)
				if cut > n {
					wantFirst, wantLast = 0, 0
				}
				if err != nil || first != wantFirst || last != wantLast {
					t.Errorf("Bounds = %d, %d, %v; want %d, %d", first, last, err, wantFirst, wantLast)
				}
				info, err := inspectFS(m, dirPath, nil)
				if err != nil || info.Problem != nil || info.FirstSeq != wantFirst || info.Records != uint64(len(want)) {
					t.Errorf("Inspect = %+v, %v; want FirstSeq %d, %d records", info, err, wantFirst, len(want))
				}
			}
			check(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
			check(t, s)
			if seq, err := s.Append(kv{V: n + 1}); err != nil || seq != max(n+1, cut) {
				t.Errorf("Append after reopening = %d, %v; want %d", seq, err, max(n+1, cut))
			}
		})
	}
}

// TestTruncateFrontWritesLittle: TruncateFront inside a big segment writes
// the bound and nothing else (the old TruncateFront copied the rest of the
// segment).
func TestTruncateFrontWritesLittle(t *testing.T) {
	m := vfs.NewMem()
	c := &countingFS{FS: m}
	s := openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 1 << 20}, c))
	appendBatch(t, s, "some key", 0, 2000)
	c.written = 0
	if err := s.TruncateFront(999); err != nil { // creates NAME.front
		t.Fatal(err)
	}
	if c.written != boundFileLen {
		t.Errorf("TruncateFront(999) wrote %d bytes, want a new bound file (%d bytes)", c.written, boundFileLen)
	}
	c.written, c.renames, c.syncDirs = 0, 0, 0
	if err := s.TruncateFront(1000); err != nil {
		t.Fatal(err)
	}
	// One slot in place: no rename, no directory sync.
	if c.written != boundLine || c.renames != 0 || c.syncDirs != 0 {
		t.Errorf("TruncateFront(1000) wrote %d bytes, renamed %d files, synced %d directories; want one slot (%d bytes) in place",
			c.written, c.renames, c.syncDirs, boundLine)
	}
}

// countingFS counts the bytes written through it, the renames and the
// directory syncs.
type countingFS struct {
	vfs.FS
	written  int64
	renames  int
	syncDirs int
}

func (c *countingFS) Rename(oldpath, newpath string) error {
	c.renames++
	return c.FS.Rename(oldpath, newpath)
}

func (c *countingFS) SyncDir(dir string) error {
	c.syncDirs++
	return c.FS.SyncDir(dir)
}

func (c *countingFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, n: &c.written}, nil
}

type countingFile struct {
	vfs.File
	n *int64
}

func (f *countingFile) Write(b []byte) (int, error) {
	n, err := f.File.Write(b)
	*f.n += int64(n)
	return n, err
}

func (f *countingFile) WriteAt(b []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(b, off)
	*f.n += int64(n)
	return n, err
}

// TestFrontBoundDamage: a bound file that does not parse or does not fit
// the segments is a *JournalError naming NAME.front, from Open and in
// Inspect's Problem, and Open changes nothing.
func TestFrontBoundDamage(t *testing.T) {
	good := appendBound(nil, 8)
	for _, tc := range []struct {
		name   string
		bound  []byte // written to NAME.front; nil: kept
		remove string // segment files removed: "oldest" or "*" (all)
		want   string // in the error
		// After Repair: the first and the next sequence number, and
		// whether the bound file was moved aside (records below it are
		// read again).
		first, next uint64
		unbound     bool
	}{
		{name: "bit flip", bound: flipByte(good, 25), want: "checksum", first: 7, next: 21, unbound: true},
		{name: "cut short", bound: good[:len(good)-4], want: "one line", first: 7, next: 21, unbound: true},
		{name: "empty", bound: []byte{}, want: "one line", first: 7, next: 21, unbound: true},
		{name: "no checksum", bound: []byte(boundMagic + "8\n"), want: "no checksum", first: 7, next: 21, unbound: true},
		{name: "both slots bad", bound: flipByte(flipByte(encodeBound(8), 25), boundSlot+25), want: "both slots are bad", first: 7, next: 21, unbound: true},
		{name: "slots cut short", bound: encodeBound(8)[:1000], want: "1000 bytes", first: 7, next: 21, unbound: true},
		{name: "zero", bound: appendBound(nil, 0), want: "bad sequence number", first: 7, next: 21, unbound: true},
		{name: "above the last record", bound: appendBound(nil, 30), want: "records 21 to 29 are missing", first: 0, next: 30},
		{name: "below the oldest segment", remove: "oldest", want: "is missing", first: 10, next: 21, unbound: true},
		{name: "no segment", remove: "*", want: "no segment file", first: 0, next: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := cutJournal(t, 20, 8)
			if tc.bound != nil {
				writeMemFile(t, m, boundPath(dirPath), tc.bound)
			}
			files, err := listSegments(m, dirPath)
			if err != nil {
				t.Fatal(err)
			}
			switch tc.remove {
			case "oldest":
				files = files[:1]
			case "":
				files = nil
			}
			for _, f := range files {
				if err := m.Remove(f.path); err != nil {
					t.Fatal(err)
				}
			}
			before := filesIn(t, m)
			_, err = Open[kv](dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
			var je *JournalError
			if !errors.As(err, &je) || je.Path != boundPath(dirPath) || !errors.Is(err, ErrCorrupt) ||
				!bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("Open = %v, want a JournalError on %s saying %q", err, boundPath(dirPath), tc.want)
			}
			// Open may take the clean-end proof (NAME.end) before it
			// finds the bound wrong: it only saves reading.
			after := filesIn(t, m)
			delete(before, dirPath+".end")
			delete(after, dirPath+".end")
			if !sameFiles(before, after) {
				t.Errorf("Open failed but changed the files")
			}
			info, err := inspectFS(m, dirPath, nil)
			if err != nil || !errors.As(info.Problem, &je) || je.Path != boundPath(dirPath) {
				t.Errorf("Inspect = %+v, %v; want a Problem on %s", info, err, boundPath(dirPath))
			}
			// Readers without the lock say so too: Records from the first
			// record left (no TruncatedError below the oldest segment, no
			// empty journal below a bound past its records) and Bounds.
			{
				_, err := seqsOf(t, RecordsWith[kv](dirPath, 0, &Options{FS: m}))
				if _, _, berr := boundsFS(m, dirPath); !errors.As(err, &je) || je.Path != boundPath(dirPath) || !errors.As(berr, &je) || je.Path != boundPath(dirPath) {
					t.Errorf("Records from 0: %v; Bounds: %v; want a JournalError on %s", err, berr, boundPath(dirPath))
				}
				// FrontSeq reads one header: a bound above the last
				// record is not its to see.
				if _, err := FrontSeq(dirPath, &Options{FS: m}); tc.next <= 21 && (!errors.As(err, &je) || je.Path != boundPath(dirPath)) {
					t.Errorf("FrontSeq: %v; want a JournalError on %s", err, boundPath(dirPath))
				}
				// A copy under the lock, then a live one (the lock held).
				for _, live := range []bool{false, true} {
					var lk io.Closer
					if live {
						if lk, err = m.Lock(dirPath + ".lock"); err != nil {
							t.Fatal(err)
						}
					}
					info, err := Backup(dirPath, fmt.Sprintf("/copy-%v", live), &Options{FS: m})
					if !errors.As(err, &je) || je.Path != boundPath(dirPath) {
						t.Errorf("Backup (live %v) = %+v, %v; want a JournalError on %s", live, info, err, boundPath(dirPath))
					}
					if lk != nil {
						lk.Close()
					}
				}
			}
			checkRepaired(t, m, before, tc.first, tc.next, tc.unbound, false)
		})
	}
}

// checkRepaired runs Repair on the damaged journal dirPath of m, whose
// files were before, and checks that it opens afterwards holding the
// records first to next-1 (none if first is 0), that the bound file was
// moved aside or not (unbound), and that every byte of before is still
// there, in its file or in a .broken one.
//
// After a crash during an earlier Repair (crashed), it runs Repair again,
// which may find nothing left to do.
func checkRepaired(t *testing.T, m *vfs.Mem, before map[string][]byte, first, next uint64, unbound, crashed bool) {
	t.Helper()
	rep, err := repairFS(m, dirPath)
	if err != nil || (rep.Problem == nil && !crashed) {
		t.Fatalf("Repair = %+v, %v", rep, err)
	}
	if moved := slices.Contains(rep.Removed, boundPath(dirPath)); moved != unbound && !crashed {
		t.Errorf("Repair moved the bound aside: %v, want %v (%+v)", moved, unbound, rep)
	}
	if info, err := inspectFS(m, dirPath, nil); err != nil || info.Problem != nil {
		t.Fatalf("Inspect after Repair = %+v, %v", info, err)
	}
	s, err := Open[kv](dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
	if err != nil {
		t.Fatalf("Open after Repair = %v", err)
	}
	defer s.Close()
	var want []uint64
	for seq := first; first != 0 && seq < next; seq++ {
		want = append(want, seq)
	}
	got, err := seqsOf(t, s.All(0))
	if err != nil || !slices.Equal(got, want) || s.NextSeq() != next {
		t.Fatalf("after Repair: records %v, next %d, %v; want %v, next %d", got, s.NextSeq(), err, want, next)
	}
	// Nothing is lost: each file before Repair is there (under its name or
	// another, cut or whole; a crash during the cut can leave zeros after
	// it), and what is not is in the files Repair added (the .broken
	// ones).
	after := filesIn(t, m)
	var added []byte
	for name, b := range after {
		if _, ok := before[name]; !ok {
			added = append(added, b...)
		}
	}
	for name, b := range before {
		if !slices.ContainsFunc(slices.Collect(maps.Values(after)), func(a []byte) bool {
			if bytes.Equal(a, b) { // whole (the bound file ends in zeros)
				return true
			}
			a = bytes.TrimRight(a, "\x00")
			return bytes.HasPrefix(b, a) && bytes.Contains(added, b[len(a):])
		}) {
			t.Errorf("the bytes of %s that Repair cut are not kept", name)
		}
	}
}

// TestRepairBelowBound: damage in the records below the front bound that
// share a segment with it. Everything from the damage on is cut, so
// nothing at or above the bound is left: Repair moves every segment aside
// and the journal starts empty at the bound, neither refusing to open nor
// bringing back a record below the bound. A crash at any point of Repair
// leaves a journal that Repair, run again, brings to the same end.
func TestRepairBelowBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seq   uint64 // the record damaged
		bound uint64
		first uint64 // after Repair; 0: empty
		next  uint64
	}{
		{name: "below the bound", seq: 7, bound: 8, first: 0, next: 8},
		{name: "at the bound", seq: 8, bound: 8, first: 0, next: 8},
		{name: "above the bound", seq: 9, bound: 8, first: 8, next: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := cutJournal(t, 20, tc.bound)
			files, err := listSegments(m, dirPath)
			if err != nil {
				t.Fatal(err)
			}
			// The oldest segment holds the bound and records below it.
			b := readMemFile(t, m, files[0].path)
			lines := splitLines(b)
			var h header
			if h, err = parseHeader(lines[0]); err != nil || h.base >= tc.bound || h.base+uint64(len(lines)-2) < tc.seq {
				t.Fatalf("oldest segment starts at %d and holds %d records, %v", h.base, len(lines)-1, err)
			}
			off := lineOffset(b, int(tc.seq-h.base)+2)
			writeMemFile(t, m, files[0].path, flipByte(b, int(off)+5))
			before := filesIn(t, m)
			delete(before, dirPath+".end")
			var je *JournalError
			if info, err := inspectFS(m, dirPath, nil); err != nil || !errors.As(info.Problem, &je) ||
				je.Path != files[0].path || je.Offset != off || !errors.Is(je, ErrCorrupt) {
				t.Fatalf("Inspect = %+v, %v; want ErrCorrupt at %s:%d", info, err, files[0].path, off)
			}
			checkRepaired(t, m, before, tc.first, tc.next, false, false)
			crashtest.CrashSweep(t, 3, tc.seq, func(c *crashtest.Crash) {
				if err := vfs.MkdirAll(c.Mem, filepath.Dir(dirPath), 0o755); err != nil {
					t.Fatal(err)
				}
				for name, b := range before {
					writeMemFile(t, c.Mem, name, b)
				}
				_, err := repairFS(c.FS, dirPath)
				if c.Crashed(t, err) {
					checkRepaired(t, c.Disk(), before, tc.first, tc.next, false, true)
				}
			})
		})
	}
}

// TestFrontBoundHeaderlessActive: a plain journal cut at the front whose
// active file a crash left without a header opens (the file is set aside)
// and Inspect, which judges the bound by the same rule, finds no problem.
func TestFrontBoundHeaderlessActive(t *testing.T) {
	m := vfs.NewMem()
	opts := quietOptions(Options{MaxSegmentBytes: 200, Format: FormatPlain}, m)
	s := openT[kv](t, dirPath, opts)
	appendN(t, s, 1, 20)
	if err := s.TruncateFront(8); err != nil {
		t.Fatal(err)
	}
	s.Close()
	writeMemFile(t, m, dirPath, nil)
	if info, err := inspectFS(m, dirPath, nil); err != nil || info.Problem != nil || info.FirstSeq != 8 {
		t.Fatalf("Inspect = %+v, %v; want no problem, first record 8", info, err)
	}
	s = openT[kv](t, dirPath, opts)
	if s.FirstSeq() != 8 {
		t.Fatalf("FirstSeq = %d, want 8", s.FirstSeq())
	}
	// With the segment holding the bound gone too, Repair moves the bound
	// aside: the journal starts at the next segment.
	s.Close()
	if err := m.Remove(dirPath + ".001"); err != nil {
		t.Fatal(err)
	}
	writeMemFile(t, m, dirPath, nil)
	if rep, err := repairFS(m, dirPath); err != nil || !slices.Equal(rep.Removed, []string{boundPath(dirPath)}) {
		t.Fatalf("Repair = %+v, %v; want the bound moved aside", rep, err)
	}
	s = openT[kv](t, dirPath, opts)
	if s.FirstSeq() != 11 {
		t.Fatalf("FirstSeq after Repair = %d, want 11", s.FirstSeq())
	}
}

// TestFrontBoundEveryDamage damages the bound file in every way
// internal/damagetest makes: Open either fails with a *JournalError naming
// it, or (a damage that keeps the file valid) opens at a bound that fits.
func TestFrontBoundEveryDamage(t *testing.T) {
	m := cutJournal(t, 20, 8)
	good := readMemFile(t, m, boundPath(dirPath))
	var c damagetest.Counter
	for v := range damagetest.Variants(good, nil) {
		d := m.CrashClone(vfs.CrashOptions{})
		writeMemFile(t, d, boundPath(dirPath), v.Data)
		s, err := Open[kv](dirPath, quietOptions(Options{MaxSegmentBytes: 200}, d))
		var je *JournalError
		switch {
		case err == nil:
			first := s.FirstSeq()
			s.Close()
			if first != 8 {
				t.Fatalf("%s: opened with first record %d, want 8 or an error", v.Name, first)
			}
			c.Add("unchanged meaning", v)
		case errors.As(err, &je) && je.Path == boundPath(dirPath) && errors.Is(err, ErrCorrupt):
			c.Add("corruption", v)
		default:
			t.Fatalf("%s: Open = %v, want a JournalError naming %s", v.Name, err, boundPath(dirPath))
		}
	}
	if c.Count("corruption") == 0 {
		t.Fatal("no variant was reported")
	}
	c.Log(t)
}

// TestFrontBoundLeftoverTemp: a NAME.front.tmp a crash left is removed,
// and the bound in NAME.front counts.
func TestFrontBoundLeftoverTemp(t *testing.T) {
	m, s := frontJournal(t, 10)
	if err := s.TruncateFront(5); err != nil {
		t.Fatal(err)
	}
	s.Close()
	writeMemFile(t, m, boundPath(dirPath)+".tmp", appendBound(nil, 7)[:10])
	s = openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
	if s.FirstSeq() != 5 {
		t.Errorf("FirstSeq = %d, want 5", s.FirstSeq())
	}
	if ok, _ := vfs.Exists(m, boundPath(dirPath)+".tmp"); ok {
		t.Error("NAME.front.tmp is still there")
	}
}

// TestFrontBoundRetention: retention deleting the segment that holds the
// bound moves the bound to the next segment first, so the journal reopens.
func TestFrontBoundRetention(t *testing.T) {
	m := vfs.NewMem()
	o := Options{MaxSegmentBytes: 200, MaxSegments: 2}
	s, err := Open[kv](dirPath, quietOptions(o, m))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1, 5)
	if err := s.TruncateFront(2); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 6, 20)
	first := s.FirstSeq()
	if first <= 2 {
		t.Fatalf("retention deleted nothing: first %d", first)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open[kv](dirPath, quietOptions(o, m))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.FirstSeq() != first {
		t.Errorf("reopened FirstSeq = %d, want %d", s.FirstSeq(), first)
	}
}

// TestTruncateBackBelowBound: TruncateBack below the first record empties
// the journal and numbers from seq+1, with the bound file gone.
func TestTruncateBackBelowBound(t *testing.T) {
	m, s := frontJournal(t, 20)
	if err := s.TruncateFront(12); err != nil {
		t.Fatal(err)
	}
	if err := s.TruncateBack(5); err != nil {
		t.Fatal(err)
	}
	if got := s.NextSeq(); got != 6 {
		t.Errorf("NextSeq = %d, want 6", got)
	}
	appendN(t, s, 6, 2)
	s.Close()
	if ok, _ := vfs.Exists(m, boundPath(dirPath)); ok {
		t.Error("NAME.front is still there")
	}
	got, err := seqsOf(t, RecordsWith[kv](dirPath, 0, &Options{FS: m}))
	if err != nil || !slices.Equal(got, []uint64{6, 7}) {
		t.Errorf("records = %v, %v; want [6 7]", got, err)
	}
}

// appendBound appends the old format's one-line bound for first: what
// ministore before the two slots wrote, and still reads.
func appendBound(dst []byte, first uint64) []byte {
	start := len(dst)
	dst = append(dst, boundMagic...)
	dst = strconv.AppendUint(dst, first, 10)
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, " crc="...)
	dst = appendHex32(dst, sum)
	return append(dst, '\n')
}

func FuzzParseBound(f *testing.F) {
	f.Add(appendBound(nil, 1))
	f.Add(appendBound(nil, 1<<63))
	f.Add([]byte(boundMagic + "12 crc=00000000\n"))
	f.Add([]byte{})
	f.Add(encodeBound(7))
	f.Add(slots(appendBoundSlot(nil, 9, 1<<64-1), appendBoundSlot(nil, 8, 3)))
	torn := encodeBound(7)
	copy(torn[boundSlot:], appendBoundSlot(nil, 123456, 2)[:30])
	f.Add(torn)
	f.Fuzz(func(t *testing.T, b []byte) {
		fb, off, err := parseBound(b)
		if err != nil {
			if off < 0 || off > int64(len(b)) {
				t.Fatalf("error offset %d outside the %d bytes", off, len(b))
			}
			if fb.first != 0 {
				// What is left: the slot named verifies and says so.
				s := b[fb.slot*boundSlot:][:boundSlot]
				if first, gen, err := parseBoundSlot(s); err != nil || first != fb.first || gen != fb.gen {
					t.Fatalf("left slot %d = %d, %d, %v; parseBound said %+v", fb.slot, first, gen, err, fb)
				}
				if o := b[(1-fb.slot)*boundSlot:][:boundSlot]; func() bool { _, _, err := parseBoundSlot(o); return err == nil }() {
					t.Fatalf("error %v with both slots valid", err)
				}
			}
			return
		}
		if fb.first == 0 {
			t.Fatal("bound 0 accepted")
		}
		if fb.slot < 0 {
			// The old format: one line that says fb.first.
			if again := appendBound(nil, fb.first); !bytes.Equal(again, b) {
				// A checksum collision with other text is possible but
				// then the text must still say n.
				if m, _, err := parseBound(again); err != nil || m.first != fb.first {
					t.Fatalf("bound %d does not round-trip", fb.first)
				}
			}
			return
		}
		// Both slots verify, and the one taken has the higher
		// generation.
		s := b[fb.slot*boundSlot:][:boundSlot]
		if first, gen, err := parseBoundSlot(s); err != nil || first != fb.first || gen != fb.gen {
			t.Fatalf("slot %d = %d, %d, %v; parseBound said %+v", fb.slot, first, gen, err, fb)
		}
		o := b[(1-fb.slot)*boundSlot:][:boundSlot]
		if _, gen, err := parseBoundSlot(o); err != nil || gen >= fb.gen {
			t.Fatalf("slot %d: generation %d, %v; not below the chosen %+v", 1-fb.slot, gen, err, fb)
		}
		// The next update, written into the other slot, wins.
		next := bytes.Clone(b)
		copy(next[(1-fb.slot)*boundSlot:], appendBoundSlot(nil, fb.first+1, fb.gen+1))
		if fb.gen < 1<<64-1 && fb.first < 1<<64-1 {
			if got, _, err := parseBound(next); err != nil || got.first != fb.first+1 || got.slot != 1-fb.slot {
				t.Fatalf("after an update: %+v, %v", got, err)
			}
		}
	})
}

func flipByte(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x04
	return b
}

func writeMemFile(t *testing.T, fsys vfs.FS, name string, data []byte) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFull(f, data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := fsys.SyncDir(dirOf(name)); err != nil {
		t.Fatal(err)
	}
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// filesIn returns the files of the journal's folder but the lock file.
func filesIn(t testing.TB, m vfs.FS) map[string][]byte {
	t.Helper()
	dir := filepath.Dir(dirPath)
	names, err := m.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		if filepath.Ext(n) != ".lock" {
			out[filepath.Join(dir, n)] = readMemFile(t, m, filepath.Join(dir, n))
		}
	}
	return out
}

// TestFrontBoundBackup: a backup of a journal cut inside a segment holds
// the bound, so the copy starts where the journal does.
func TestFrontBoundBackup(t *testing.T) {
	m, s := frontJournal(t, 20)
	defer s.Close()
	if err := s.TruncateFront(8); err != nil {
		t.Fatal(err)
	}
	check := func(dst string, info BackupInfo) {
		t.Helper()
		if info.First != 8 || info.Last != 20 {
			t.Errorf("backup holds %d..%d, want 8..20", info.First, info.Last)
		}
		got, err := seqsOf(t, RecordsWith[kv](filepath.Join(dst, "j.log"), 0, &Options{FS: m}))
		if err != nil || !slices.Equal(got, seqRange[uint64](8, 20)) {
			t.Errorf("the copy holds %v, %v; want 8..20", got, err)
		}
	}
	info, err := s.Backup("/bk1")
	if err != nil {
		t.Fatal(err)
	}
	check("/bk1", info)
	// A copy made beside the process that has the journal open.
	info, err = Backup(dirPath, "/bk2", &Options{FS: m})
	if err != nil {
		t.Fatal(err)
	}
	check("/bk2", info)
}
