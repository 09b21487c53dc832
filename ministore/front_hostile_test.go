// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"github.com/mini-go/mini/vfs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

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
