// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// slots returns a bound file made of the two slots a and b.
func slots(a, b []byte) []byte { return append(bytes.Clone(a), b...) }

// tornSlot returns slot s as a crash can leave it while a new slot was
// written over it: the first n bytes of the new one, then the old bytes.
func tornSlot(old, new []byte, n int) []byte {
	t := bytes.Clone(old)
	copy(t, new[:n])
	return t
}

// TestParseBoundSlots: the bound is the valid slot with the higher
// generation; one bad slot is a torn update (the other counts); both bad,
// or a file of another size, is an error with the offset.
func TestParseBoundSlots(t *testing.T) {
	a1 := appendBoundSlot(nil, 8, 1)
	b2 := appendBoundSlot(nil, 9, 2)
	a3 := appendBoundSlot(nil, 10, 3)
	const maxGen = 1<<64 - 1
	for _, tc := range []struct {
		name string
		file []byte
		want frontBound
		off  int64  // of the error
		err  string // in the error; "" for none
	}{
		{name: "new file", file: encodeBound(8), want: frontBound{first: 8, gen: 1, slot: 0}},
		{name: "slot B newer", file: slots(a1, b2), want: frontBound{first: 9, gen: 2, slot: 1}},
		{name: "slot A newer", file: slots(a3, b2), want: frontBound{first: 10, gen: 3, slot: 0}},
		{name: "torn slot A", file: slots(tornSlot(a1, a3, 30), b2), want: frontBound{first: 9, gen: 2, slot: 1}},
		{name: "slot A half zero", file: slots(append(a3[:20:20], make([]byte, boundSlot-20)...), b2), want: frontBound{first: 9, gen: 2, slot: 1}},
		{name: "torn slot B", file: slots(a1, tornSlot(appendBoundSlot(nil, 8, 0), b2, 40)), want: frontBound{first: 8, gen: 1, slot: 0}},
		{name: "slot B ends in garbage", file: slots(a1, append(b2[:boundSlot-1:boundSlot-1], 'x')), want: frontBound{first: 8, gen: 1, slot: 0}},
		{name: "generations near the top of uint64", file: slots(appendBoundSlot(nil, 8, maxGen-1), appendBoundSlot(nil, 9, maxGen)), want: frontBound{first: 9, gen: maxGen, slot: 1}},
		{name: "old format", file: appendBound(nil, 12), want: frontBound{first: 12, slot: -1}},
		{name: "both bad", file: slots(tornSlot(a1, a3, 30), tornSlot(b2, a3, 35)), off: 0, err: "both slots are bad (at 0: "},
		{name: "both zero", file: make([]byte, boundFileLen), off: 0, err: "at 512: slot has no line"},
		{name: "same generation", file: slots(a1, appendBoundSlot(nil, 9, 1)), off: boundSlot, err: "both slots have generation 1"},
		{name: "cut short", file: encodeBound(8)[:700], off: 700, err: "700 bytes"},
		{name: "too long", file: append(encodeBound(8), '\n'), off: boundFileLen, err: "1025 bytes"},
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
			if err == nil || !strings.Contains(err.Error(), tc.err) || off != tc.off {
				t.Fatalf("parseBound = %+v, %d, %v; want an error at %d saying %q", got, off, err, tc.off, tc.err)
			}
			// Through readBound: a *JournalError naming the file and
			// the offset.
			m := vfs.NewMem()
			if err := vfs.MkdirAll(m, dirOf(dirPath), 0o755); err != nil {
				t.Fatal(err)
			}
			writeMemFile(t, m, boundPath(dirPath), tc.file)
			_, err = readBound(m, dirPath)
			var je *JournalError
			if !errors.As(err, &je) || je.Path != boundPath(dirPath) || je.Offset != tc.off || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("readBound = %v, want a JournalError on %s at %d", err, boundPath(dirPath), tc.off)
			}
		})
	}
}

// TestFrontBoundTornUpdate: a crash that tears the slot an update was
// writing leaves the previous bound; the next update writes that slot
// again and wins.
func TestFrontBoundTornUpdate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cuts  []uint64 // TruncateFront calls before the torn one
		torn  uint64   // the torn update's bound
		slot  int      // the slot it writes
		keeps uint64   // the bound after the crash
	}{
		{name: "slot B", cuts: []uint64{5}, torn: 7, slot: 1, keeps: 5},
		{name: "slot A", cuts: []uint64{5, 6}, torn: 7, slot: 0, keeps: 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s := frontJournal(t, 20)
			for _, c := range tc.cuts {
				if err := s.TruncateFront(c); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			f := readMemFile(t, m, boundPath(dirPath))
			off := tc.slot * boundSlot
			copy(f[off:], appendBoundSlot(nil, tc.torn, uint64(len(tc.cuts))+1)[:33])
			writeMemFile(t, m, boundPath(dirPath), f)
			s = openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
			if s.FirstSeq() != tc.keeps {
				t.Fatalf("FirstSeq = %d after a torn update, want %d", s.FirstSeq(), tc.keeps)
			}
			if err := s.TruncateFront(tc.torn + 1); err != nil {
				t.Fatal(err)
			}
			got := readMemFile(t, m, boundPath(dirPath))
			if fb, _, err := parseBound(got); err != nil || fb.first != tc.torn+1 || fb.slot != tc.slot {
				t.Fatalf("after the next update: %+v, %v; want %d in slot %d", fb, err, tc.torn+1, tc.slot)
			}
			if _, _, err := parseBoundSlot(got[boundSlot*(1-tc.slot):][:boundSlot]); err != nil {
				t.Fatalf("the other slot no longer verifies: %v", err)
			}
		})
	}
}

// TestFrontBoundOldFormat: a journal whose NAME.front is the old one-line
// file opens with that bound; the next TruncateFront converts the file to
// two slots, and the one after updates a slot.
func TestFrontBoundOldFormat(t *testing.T) {
	m, s := frontJournal(t, 20)
	if err := s.TruncateFront(5); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	writeMemFile(t, m, boundPath(dirPath), appendBound(nil, 6))
	s = openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
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
}
