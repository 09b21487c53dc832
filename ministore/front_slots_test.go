// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mini-go/mini/vfs"
)

// slots returns a bound file made of the two slots a and b (each the
// bytes an update writes, or a whole slot).
func slots(a, b []byte) []byte {
	f := make([]byte, boundFileLen)
	copy(f, a)
	copy(f[boundSlot:], b)
	return f
}

// tornSlot returns slot s as a write that tears inside a sector would
// leave it: the first n bytes of the new one, then the old bytes.
func tornSlot(old, new []byte, n int) []byte {
	t := bytes.Clone(old)
	copy(t, new[:n])
	return t
}

// TestParseBoundSlots: the bound is the slot with the higher generation.
// A slot that does not verify is damage whichever slot it is (no crash
// leaves one, see front.go), and the error's offset is the slot's; what is
// left, the other slot's bound, comes back for Repair.
func TestParseBoundSlots(t *testing.T) {
	a1 := appendBoundSlot(nil, 8, 1)
	b2 := appendBoundSlot(nil, 9, 2)
	a3 := appendBoundSlot(nil, 10, 3)
	const maxGen = 1<<64 - 1
	pastLine := slots(a1, b2)
	pastLine[boundSlot+boundLine+100] = 'x' // in the zeros an update never writes
	for _, tc := range []struct {
		name string
		file []byte
		want frontBound // on error: what is left
		off  int64      // of the error
		err  string     // in the error; "" for none
	}{
		{name: "new file", file: encodeBound(8), want: frontBound{first: 8, gen: 1, slot: 0}},
		{name: "slot B newer", file: slots(a1, b2), want: frontBound{first: 9, gen: 2, slot: 1}},
		{name: "slot A newer", file: slots(a3, b2), want: frontBound{first: 10, gen: 3, slot: 0}},
		{name: "generations near the top of uint64", file: slots(appendBoundSlot(nil, 8, maxGen-1), appendBoundSlot(nil, 9, maxGen)), want: frontBound{first: 9, gen: maxGen, slot: 1}},
		{name: "old format", file: appendBound(nil, 12), want: frontBound{first: 12, slot: -1}},
		{name: "slot A torn in its sector", file: slots(tornSlot(a1, a3, 30), b2), want: frontBound{first: 9, gen: 2, slot: 1}, off: 0, err: "slot at 0 is bad"},
		{name: "slot A half zero", file: slots(a3[:20], b2), want: frontBound{first: 9, gen: 2, slot: 1}, off: 0, err: "slot at 0 is bad"},
		{name: "slot A flipped, the newer", file: slots(flipByte(a3, 30), b2), want: frontBound{first: 9, gen: 2, slot: 1}, off: 0, err: "checksum"},
		{name: "slot B flipped, the newer", file: slots(a1, flipByte(b2, 30)), want: frontBound{first: 8, gen: 1, slot: 0}, off: boundSlot, err: "slot at 4096 is bad"},
		{name: "slot B ends in garbage", file: slots(a1, append(b2[:boundLine-1:boundLine-1], 'x')), want: frontBound{first: 8, gen: 1, slot: 0}, off: boundSlot, err: "bytes after its line"},
		{name: "a byte past the written part", file: pastLine, want: frontBound{first: 8, gen: 1, slot: 0}, off: boundSlot, err: "bytes after its line"},
		{name: "both bad", file: slots(tornSlot(a1, a3, 30), tornSlot(b2, a3, 35)), off: 0, err: "both slots are bad (at 0: "},
		{name: "both zero", file: make([]byte, boundFileLen), off: 0, err: "at 4096: slot has no line"},
		{name: "same generation", file: slots(a1, appendBoundSlot(nil, 9, 1)), off: boundSlot, err: "both slots have generation 1"},
		{name: "cut short", file: encodeBound(8)[:700], off: 700, err: "700 bytes"},
		{name: "too long", file: append(encodeBound(8), '\n'), off: boundFileLen, err: "8193 bytes"},
		{name: "zero bound", file: slots(appendBoundSlot(nil, 0, 4), appendBoundSlot(nil, 0, 5)), err: "bad sequence number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, off, err := parseBound(tc.file)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Fatalf("parseBound = %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || off != tc.off || got != tc.want {
				t.Fatalf("parseBound = %+v, %d, %v; want %+v and an error at %d saying %q", got, off, err, tc.want, tc.off, tc.err)
			}
			// Through readBound: a *JournalError naming the file and
			// the offset.
			m := vfs.NewMem()
			if err := vfs.MkdirAll(m, dirOf(dirPath), 0o755); err != nil {
				t.Fatal(err)
			}
			writeMemFile(t, m, boundPath(dirPath), tc.file)
			n, err := readBound(m, dirPath)
			var je *JournalError
			if !errors.As(err, &je) || je.Path != boundPath(dirPath) || je.Offset != tc.off || !errors.Is(err, ErrCorrupt) || n != 0 {
				t.Fatalf("readBound = %d, %v; want a JournalError on %s at %d", n, err, boundPath(dirPath), tc.off)
			}
		})
	}
}

// TestFrontBoundSlotDamage: damage to either slot, the one holding the
// bound or the other, is a *JournalError naming NAME.front and the slot's
// offset at Open, never a fallback. Repair keeps the file as .broken and
// writes a new one with the good slot's bound.
func TestFrontBoundSlotDamage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cuts   []uint64 // TruncateFront calls
		slot   int      // the slot damaged
		repair uint64   // FirstSeq after Repair: the other slot's bound
	}{
		// Segments of three records: 7 deletes 1-6, 8 and 9 nothing.
		{name: "newest in slot B", cuts: []uint64{7, 8}, slot: 1, repair: 7},
		{name: "older in slot A", cuts: []uint64{7, 8}, slot: 0, repair: 8},
		{name: "newest in slot A", cuts: []uint64{7, 8, 9}, slot: 0, repair: 8},
		{name: "older in slot B", cuts: []uint64{7, 8, 9}, slot: 1, repair: 9},
		// The other slot's bound no longer fits: the segment holding
		// it is gone, so the first record is the oldest segment's.
		{name: "newest in slot B, older below the segments", cuts: []uint64{5, 7}, slot: 1, repair: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := cutJournal(t, 20, tc.cuts...)
			p := boundPath(dirPath)
			f := readMemFile(t, m, p)
			off := tc.slot * boundSlot
			before := flipByte(f, off+33)
			writeMemFile(t, m, p, before)
			opts := quietOptions(Options{MaxSegmentBytes: 200}, m)
			_, err := Open[kv](dirPath, opts)
			var je *JournalError
			if !errors.As(err, &je) || je.Path != p || je.Offset != int64(off) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open with slot %d damaged = %v; want a JournalError on %s at %d", tc.slot, err, p, off)
			}
			for r, err := range RecordsWith[kv](dirPath, 0, opts) {
				if !errors.As(err, &je) || je.Path != p {
					t.Fatalf("Records with slot %d damaged: %+v, %v", tc.slot, r, err)
				}
				break
			}
			if first, last, err := boundsFS(m, dirPath); !errors.As(err, &je) || je.Path != p || je.Offset != int64(off) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Bounds with slot %d damaged = %d, %d, %v; want a JournalError on %s at %d", tc.slot, first, last, err, p, off)
			}
			rep, err := repairFS(m, dirPath)
			if err != nil || rep.Path != p || !slices.Contains(rep.Saved, p+".broken") {
				t.Fatalf("Repair = %+v, %v", rep, err)
			}
			if saved := readMemFile(t, m, p+".broken"); !bytes.Equal(saved, before) {
				t.Fatal("the damaged bound file was not kept whole")
			}
			s := openT[kv](t, dirPath, opts)
			defer s.Close()
			if s.FirstSeq() != tc.repair {
				t.Fatalf("FirstSeq = %d after Repair, want %d", s.FirstSeq(), tc.repair)
			}
			got, err := seqsOf(t, s.All(0))
			if err != nil || len(got) != int(21-tc.repair) || got[0] != tc.repair {
				t.Fatalf("after Repair: %v, %v", got, err)
			}
		})
	}
}

// TestFrontBoundFailedWrite: an update whose write of the slot fails (and
// may leave it half written, as Faulty does) puts the file back whole, so
// the journal opens with the old bound in the same process; one whose
// fdatasync fails leaves the new slot whole, and the journal opens with
// either bound.
func TestFrontBoundFailedWrite(t *testing.T) {
	for _, kind := range []vfs.OpKind{vfs.OpWrite, vfs.OpSync} {
		t.Run(kind.String(), func(t *testing.T) {
			m := cutJournal(t, 20, 5)
			fz := vfs.NewFaulty(m)
			var failed bool
			fz.FailWhen(func(op vfs.Op) error {
				if op.Kind == kind && op.Path == boundPath(dirPath) && !failed {
					failed = true
					return syscall.EIO
				}
				return nil
			})
			s := openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, fz))
			if err := s.TruncateFront(7); !errors.Is(err, syscall.EIO) {
				t.Fatalf("TruncateFront with a failing %v = %v", kind, err)
			}
			s.Close()
			if !failed {
				t.Fatal("no operation failed")
			}
			for _, fsys := range []vfs.FS{m, m.CrashClone(vfs.CrashOptions{})} {
				s = openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, fsys))
				if first := s.FirstSeq(); first != 5 && (kind == vfs.OpWrite || first != 7) {
					t.Fatalf("FirstSeq = %d after a failed %v", first, kind)
				}
				s.Close()
			}
		})
	}
}

// TestFrontBoundOldFormat: a journal whose NAME.front is the old one-line
// file opens with that bound; the next TruncateFront converts the file to
// two slots, and the one after updates a slot.
func TestFrontBoundOldFormat(t *testing.T) {
	m := cutJournal(t, 20, 5)
	writeMemFile(t, m, boundPath(dirPath), appendBound(nil, 6))
	s := openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
	if s.FirstSeq() != 6 {
		t.Fatalf("FirstSeq = %d with an old bound file of 6", s.FirstSeq())
	}
	for _, tc := range []struct {
		cut  uint64
		want frontBound
	}{
		{cut: 7, want: frontBound{first: 7, gen: 1, slot: 0}},
		{cut: 9, want: frontBound{first: 9, gen: 2, slot: 1}},
		{cut: 10, want: frontBound{first: 10, gen: 3, slot: 0}},
	} {
		if err := s.TruncateFront(tc.cut); err != nil {
			t.Fatal(err)
		}
		got := readMemFile(t, m, boundPath(dirPath))
		fb, _, err := parseBound(got)
		if err != nil || fb != tc.want || len(got) != boundFileLen {
			t.Fatalf("TruncateFront(%d): file of %d bytes holds %+v, %v; want %+v", tc.cut, len(got), fb, err, tc.want)
		}
	}
	s.Close()
	s = openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
	if s.FirstSeq() != 10 {
		t.Fatalf("FirstSeq = %d after reopening, want 10", s.FirstSeq())
	}
	s.Close()
}

// TestFrontBoundNotAFile: something other than a regular file at
// NAME.front (a directory, a FIFO, a symbolic link to nothing) is damage:
// Open and the readers return a *JournalError naming NAME.front, without
// hanging (a FIFO blocks an open until a writer comes) and without taking
// the bound to be missing (which brings deleted records back).
func TestFrontBoundNotAFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(p string) error
	}{
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"dangling symlink", func(p string) error { return os.Symlink(p+".gone", p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			opts := &Options{MaxSegmentBytes: 200}
			s := openT[kv](t, path, opts)
			appendN(t, s, 1, 20)
			if err := s.TruncateFront(8); err != nil {
				t.Fatal(err)
			}
			s.Close()
			p := boundPath(path)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := tc.make(p); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			before := fi.Mode().Type()
			check := func(what string, f func() error) {
				t.Helper()
				done := make(chan error, 1)
				go func() { done <- f() }()
				select {
				case err := <-done:
					var je *JournalError
					if !errors.As(err, &je) || je.Path != p || !errors.Is(err, ErrCorrupt) {
						t.Errorf("%s = %v; want a JournalError on %s", what, err, p)
					}
				case <-time.After(5 * time.Second):
					// Unblock the open: a writer comes.
					if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
						f.Close()
					}
					t.Errorf("%s hangs", what)
				}
			}
			check("Open", func() error {
				s, err := Open[kv](path, opts)
				if err == nil {
					s.Close()
				}
				return err
			})
			check("Records", func() error {
				for _, err := range Records[kv](path, 0) {
					return err
				}
				return nil
			})
			check("Stat", func() error {
				info, err := Stat(path, nil)
				if err == nil {
					return info.Problem
				}
				return err
			})
			// Repair moves it aside; the journal opens, at its oldest
			// segment (the bound is lost), and no record below 8 is
			// in a segment of its own any more.
			rep, err := Repair(path)
			if err != nil || rep.Path != p {
				t.Fatalf("Repair = %+v, %v", rep, err)
			}
			if fi, err := os.Lstat(p + ".broken"); err != nil || fi.Mode().Type() != before {
				t.Fatalf("%s.broken: %v, %v; want the %s kept", p, fi, err, tc.name)
			}
			s = openT[kv](t, path, opts)
			defer s.Close()
			if first := s.FirstSeq(); first > 8 {
				t.Fatalf("FirstSeq = %d after Repair", first)
			}
		})
	}
}

// TestFrontBoundEveryByte: every byte of NAME.front flipped or zeroed, in
// either slot, is a *JournalError naming the file and that slot's offset at
// Open (never a bound from the other slot); Repair keeps the file as
// .broken, and the journal then opens at one of the bounds it had, no
// record below it back. Open and Repair run for every other byte of the
// lines and a sample of the zeros after them; parseBound for every byte.
func TestFrontBoundEveryByte(t *testing.T) {
	m, s := frontJournal(t, 20)
	for _, c := range []uint64{7, 8} { // slot A: 7 (gen 1); slot B: 8 (gen 2)
		if err := s.TruncateFront(c); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	p := boundPath(dirPath)
	good := readMemFile(t, m, p)
	if fb, _, err := parseBound(good); err != nil || fb.first != 8 || fb.slot != 1 {
		t.Fatalf("bound file holds %+v, %v", fb, err)
	}
	opened := 0
	for off := range boundFileLen {
		slotOff := int64(off / boundSlot * boundSlot)
		for _, mut := range []struct {
			name string
			b    byte
		}{{"flipped", good[off] ^ 0xff}, {"zeroed", 0}} {
			if mut.b == good[off] {
				continue
			}
			bad := append([]byte(nil), good...)
			bad[off] = mut.b
			if fb, eoff, err := parseBound(bad); err == nil || eoff != slotOff {
				t.Fatalf("byte %d %s: parseBound = %+v, %d, %v; want an error at %d", off, mut.name, fb, eoff, err, slotOff)
			}
			if (off%boundSlot >= 64 || off%2 != 0) && off%1021 != 0 {
				continue
			}
			opened++
			mm := m.CrashClone(vfs.CrashOptions{})
			writeMemFile(t, mm, p, bad)
			o := quietOptions(Options{MaxSegmentBytes: 200}, mm)
			_, err := Open[kv](dirPath, o)
			var je *JournalError
			if !errors.As(err, &je) || je.Path != p || je.Offset != slotOff || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d %s: Open = %v; want a JournalError on %s at %d", off, mut.name, err, p, slotOff)
			}
			if _, err := repairFS(mm, dirPath); err != nil {
				t.Fatalf("byte %d %s: Repair: %v", off, mut.name, err)
			}
			if saved := readMemFile(t, mm, p+".broken"); !bytes.Equal(saved, bad) {
				t.Fatalf("byte %d %s: the file was not kept whole as .broken", off, mut.name)
			}
			s := openT[kv](t, dirPath, o)
			// The good slot's bound: 7 when B (8) is bad, 8 when A is.
			want := uint64(7)
			if slotOff == 0 {
				want = 8
			}
			if first := s.FirstSeq(); first != want {
				t.Fatalf("byte %d %s: FirstSeq = %d after Repair, want %d", off, mut.name, first, want)
			}
			s.Close()
		}
	}
	t.Logf("opened and repaired %d damaged files", opened)
}

// TestFrontBoundHostileFiles: whole-file changes to NAME.front.
func TestFrontBoundHostileFiles(t *testing.T) {
	m, s := frontJournal(t, 20)
	for _, c := range []uint64{7, 8, 9} { // A: 9 (gen 3); B: 8 (gen 2)
		if err := s.TruncateFront(c); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	p := boundPath(dirPath)
	good := readMemFile(t, m, p)
	swapped := slots(good[boundSlot:], good[:boundSlot])
	for _, tc := range []struct {
		name  string
		file  []byte
		tmp   []byte // NAME.front.tmp, if not nil
		first uint64 // FirstSeq at Open; 0: a JournalError at off
		off   int64
	}{
		{name: "as written", file: good, first: 9},
		{name: "slots swapped", file: swapped, first: 9},
		{name: "generations equal", file: slots(good[:boundSlot], appendBoundSlot(nil, 8, 3)), off: boundSlot},
		{name: "empty", file: []byte{}, off: 0},
		{name: "one slot", file: good[:boundSlot], off: boundSlot},
		{name: "cut in the first line", file: good[:20], off: 0},
		{name: "extended", file: append(bytes.Clone(good), 0), off: boundFileLen},
		{name: "three slots", file: append(bytes.Clone(good), good[:boundSlot]...), off: boundFileLen},
		{name: "old format", file: appendBound(nil, 9), first: 9},
		{name: "old format, two lines", file: append(appendBound(nil, 9), appendBound(nil, 10)...), off: 0},
		{name: "leftover tmp", file: good, tmp: encodeBound(3), first: 9},
		{name: "leftover tmp, torn", file: good, tmp: encodeBound(3)[:100], first: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mm := m.CrashClone(vfs.CrashOptions{})
			writeMemFile(t, mm, p, tc.file)
			if tc.tmp != nil {
				writeMemFile(t, mm, p+".tmp", tc.tmp)
			}
			o := quietOptions(Options{MaxSegmentBytes: 200}, mm)
			s, err := Open[kv](dirPath, o)
			if tc.first != 0 {
				if err != nil {
					t.Fatalf("Open = %v", err)
				}
				defer s.Close()
				got, err := seqsOf(t, s.All(0))
				if s.FirstSeq() != tc.first || err != nil || got[0] != tc.first {
					t.Fatalf("FirstSeq = %d, records %v, %v; want %d", s.FirstSeq(), got, err, tc.first)
				}
				// And it goes on: two more cuts, a reopen.
				for _, c := range []uint64{10, 11} {
					if err := s.TruncateFront(c); err != nil {
						t.Fatal(err)
					}
				}
				s.Close()
				s = openT[kv](t, dirPath, o)
				if s.FirstSeq() != 11 {
					t.Fatalf("FirstSeq = %d after two more cuts", s.FirstSeq())
				}
				return
			}
			var je *JournalError
			if !errors.As(err, &je) || je.Path != p || je.Offset != tc.off || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v; want a JournalError on %s at %d", err, p, tc.off)
			}
			if _, err := repairFS(mm, dirPath); err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if saved := readMemFile(t, mm, p+".broken"); !bytes.Equal(saved, tc.file) {
				t.Fatal("the file was not kept whole as .broken")
			}
			s = openT[kv](t, dirPath, o)
			defer s.Close()
			// The bound is lost or one the journal had: never below the
			// oldest segment (7), never past the newest bound.
			if first := s.FirstSeq(); first < 7 || first > 9 {
				t.Fatalf("FirstSeq = %d after Repair", first)
			}
		})
	}
}
