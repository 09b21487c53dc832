// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// openClean opens path and reports whether Open took the active file's end
// from the clean-end proof, and that the proof file is gone.
func openClean(t *testing.T, path string, opts *Options) (*Store[kv], bool) {
	t.Helper()
	s := openT[kv](t, path, opts)
	if _, err := os.Stat(path + cleanEndSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the proof is still there after Open: %v", err)
	}
	return s, s.w.cleanOpen
}

func TestCleanEndProof(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int // records written before the first Close
		opts Options
	}{
		{"empty", 0, Options{}},
		{"one segment", 20, Options{}},
		{"rotated", 20, Options{MaxSegmentBytes: 300}},
		{"no prealloc", 20, Options{NoPreallocate: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			opts := quietOptions(tc.opts, nil)
			writeJournal(t, path, tc.n, opts)
			b, err := os.ReadFile(path + cleanEndSuffix)
			if err != nil {
				t.Fatalf("Close wrote no proof: %v", err)
			}
			c, ok := parseCleanEnd(b)
			info, _ := os.Stat(path)
			if !ok || c.size != info.Size() || c.last != uint64(tc.n) {
				t.Fatalf("proof %q = %+v, %v; file size %d, %d records", b, c, ok, info.Size(), tc.n)
			}

			s, clean := openClean(t, path, opts)
			if !clean {
				t.Fatal("Open read the active file although the proof matched it")
			}
			if got := s.LastSeq(); got != uint64(tc.n) {
				t.Fatalf("LastSeq %d, want %d", got, tc.n)
			}
			// The index of the active file is built when needed; appends
			// after such an Open must keep it right.
			if tc.n > 0 {
				if v, err := s.Get(uint64(tc.n)); err != nil || v.V != tc.n {
					t.Fatalf("Get(%d) = %v, %v", tc.n, v, err)
				}
			}
			appendN(t, s, tc.n+1, 5)
			for seq := max(1, tc.n-2); seq <= tc.n+5; seq++ {
				if v, err := s.Get(uint64(seq)); err != nil || v.V != seq {
					t.Fatalf("Get(%d) = %v, %v", seq, v, err)
				}
			}
			if err := s.TruncateBack(uint64(tc.n + 3)); err != nil {
				t.Fatal(err)
			}
			appendN(t, s, tc.n+4, 1)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, clean = openClean(t, path, opts)
			if !clean {
				t.Fatal("the second Open did not use the proof")
			}
			s.Close()
			if got := values(t, path); !slices.Equal(got, seqRange(1, tc.n+4)) {
				t.Fatalf("records %v, want 1..%d", got, tc.n+4)
			}
		})
	}
}

// A proof that is not whole, or that does not match the active file, is
// passed over: Open reads the file as it always does, and judges it so.
func TestCleanEndProofMismatch(t *testing.T) {
	edit := func(name string, fn func(b []byte) []byte) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			p := path + name
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, fn(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		edit    func(t *testing.T, path string)
		want    []int // the records after Open
		wantErr error // or Open's error
	}{
		{"proof torn", edit(cleanEndSuffix, func(b []byte) []byte { return b[:len(b)/2] }), seqRange(1, 8), nil},
		{"proof empty", edit(cleanEndSuffix, func(b []byte) []byte { return nil }), seqRange(1, 8), nil},
		{"proof bit flipped", edit(cleanEndSuffix, func(b []byte) []byte {
			b[len(cleanEndMagic)+7] ^= 1 // a digit of size=
			return b
		}), seqRange(1, 8), nil},
		{"stale proof: records appended after it", func(t *testing.T, path string) {
			// A session that did not take the proof (an older release)
			// appended a record and closed.
			old, _ := os.ReadFile(path + cleanEndSuffix)
			s := openT[kv](t, path, quietOptions(Options{MaxSegmentBytes: 400}, nil))
			appendN(t, s, 9, 1)
			s.Close()
			os.WriteFile(path+cleanEndSuffix, old, 0o644)
		}, seqRange(1, 9), nil},
		{"zeros after the end", edit("", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }), seqRange(1, 8), nil},
		{"last record cut", edit("", func(b []byte) []byte { return b[:len(b)-10] }), seqRange(1, 7), nil},
		{"last record rewritten, same size", edit("", func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte(`"v":8`))
			b[i+4] = '9'
			return b
		}), nil, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			opts := quietOptions(Options{MaxSegmentBytes: 400}, nil)
			writeJournal(t, path, 8, opts)
			tc.edit(t, path)
			s, err := Open[kv](path, opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Open error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.w.cleanOpen {
				t.Fatal("Open used a proof that does not match")
			}
			if _, err := os.Stat(path + cleanEndSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the proof is still there after Open: %v", err)
			}
			var got []int
			for r, err := range s.All(1) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r.Value.V)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("records %v, want %v", got, tc.want)
			}
		})
	}
}

// A session that appends after an Open that used the proof, then crashes,
// leaves no proof: the next Open reads the file and cuts its torn tail.
func TestCleanEndProofNotReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	opts := quietOptions(Options{NoPreallocate: true}, nil)
	writeJournal(t, path, 5, opts)
	s, clean := openClean(t, path, opts)
	if !clean {
		t.Fatal("Open did not use the proof")
	}
	appendN(t, s, 6, 2)
	// A crash: the process ends without Close, the last write torn.
	b, _ := os.ReadFile(path)
	os.WriteFile(path+".crashed", b[:len(b)-7], 0o644)
	s.Close()
	os.Remove(path + cleanEndSuffix)
	os.Rename(path+".crashed", path)
	s2, clean := openClean(t, path, opts)
	if clean {
		t.Fatal("Open used a proof after a crash")
	}
	if torn := s2.TornTail(); torn == nil || s2.LastSeq() != 6 {
		t.Fatalf("torn %v, last %d; want the torn record 7 cut", torn, s2.LastSeq())
	}
}

func TestParseCleanEnd(t *testing.T) {
	good := cleanEnd{size: 1234, base: 7, last: 99, line: 0xdeadbeef}.append(nil)
	if c, ok := parseCleanEnd(good); !ok || c != (cleanEnd{1234, 7, 99, 0xdeadbeef}) {
		t.Fatalf("parse(%q) = %+v, %v", good, c, ok)
	}
	empty := cleanEnd{size: 40, base: 1, last: 0}.append(nil)
	if _, ok := parseCleanEnd(empty); !ok {
		t.Fatalf("parse(%q) failed", empty)
	}
	for _, bad := range []string{
		"",
		string(good[:len(good)-1]),  // no newline
		string(good) + "x",          // more after it
		string(good) + string(good), // two lines
		"ministore clean end v1 crc=00000000\n",
		string(bytes.Replace(good, []byte("size=1234"), []byte("size=1235"), 1)), // crc mismatch
		string(cleanEnd{size: 1, base: 5, last: 2}.append(nil)),                  // last below base-1
		string(cleanEnd{size: 1, base: 0, last: 0}.append(nil)),                  // no base
	} {
		if c, ok := parseCleanEnd([]byte(bad)); ok {
			t.Errorf("parse(%q) = %+v, accepted", bad, c)
		}
	}
}

func FuzzCleanEnd(f *testing.F) {
	f.Add(cleanEnd{size: 1234, base: 7, last: 99, line: 0xdeadbeef}.append(nil))
	f.Add([]byte("ministore clean end v1 size=1 base=1 last=0 line=00000000 crc=00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, ok := parseCleanEnd(b)
		if !ok {
			return
		}
		// What parses is exactly what append writes for it.
		if again := c.append(nil); !bytes.Equal(again, b) {
			t.Fatalf("parse(%q) = %+v, which writes %q", b, c, again)
		}
	})
}

// findLine finds every record of a segment whose index is not built, with
// lines long and short, and never returns a wrong place: on damage it
// gives up (the reader then reads from the segment's start).
func TestFindLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, quietOptions(Options{}, nil))
	const n = 300
	for i := 1; i <= n; i++ {
		k := strings.Repeat("x", (i*7919)%50)
		if i%37 == 0 {
			k = strings.Repeat("y", 9000) // longer than the bisection's reads
		}
		if _, err := s.Append(kv{K: k, V: i}); err != nil {
			t.Fatal(err)
		}
	}
	s.w.segMu.RLock()
	want := slices.Clone(s.w.active().index)
	s.w.segMu.RUnlock()
	s.Close()

	s, clean := openClean(t, path, quietOptions(Options{}, nil))
	if !clean {
		t.Fatal("Open did not use the proof")
	}
	seg := s.w.active()
	for seq := uint64(1); seq <= n; seq++ {
		off, ok := findLine(seg, seq)
		if !ok || off != want[seq-1] {
			t.Fatalf("findLine(%d) = %d, %v; want %d", seq, off, ok, want[seq-1])
		}
	}
	for _, seq := range []uint64{0, n + 1} {
		if off, ok := findLine(seg, seq); ok {
			t.Fatalf("findLine(%d) = %d, found", seq, off)
		}
	}
	// Readers from the middle start at the record asked for.
	for _, from := range []uint64{1, 2, 150, 299, 300} {
		var got []int
		for r, err := range s.All(from) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Value.V)
		}
		if !slices.Equal(got, seqRange(int(from), n)) {
			t.Fatalf("All(%d) = %d records from %v", from, len(got), got[:min(3, len(got))])
		}
	}
	s.Close()

	// Damage: a bit flipped in a line. findLine finds the others or gives
	// up; it never points elsewhere.
	b, _ := os.ReadFile(path)
	b[want[149]+3] ^= 0x01 // in `{"seq":150`
	os.WriteFile(path, b, 0o644)
	s, clean = openClean(t, path, quietOptions(Options{}, nil))
	if !clean {
		t.Fatal("Open did not use the proof")
	}
	defer s.Close()
	for seq := uint64(1); seq <= n; seq++ {
		if off, ok := findLine(s.w.active(), seq); ok && off != want[seq-1] {
			t.Fatalf("after damage findLine(%d) = %d; want %d or not found", seq, off, want[seq-1])
		}
	}
	if _, ok := findLine(s.w.active(), 150); ok {
		t.Fatal("findLine found the damaged record")
	}
	var err error
	for _, e := range s.All(1) {
		if e != nil {
			err = e
			break
		}
	}
	var je *JournalError
	if !errors.As(err, &je) || !errors.Is(err, ErrCorrupt) || je.Offset != want[149] {
		t.Fatalf("All(1) error %v, want corruption at offset %d", err, want[149])
	}
}

// Damage to a record that nothing after it proves durable (one unsynced
// batch, then a clean Close) reads like a torn tail. Without the proof,
// Open would cut it (a crash can leave that); with it, Open does not read
// it, and All, which knows the records up to LastSeq are there, reports it
// with its file and offset instead of ending early.
func TestCleanEndProofDamageBelowEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	opts := quietOptions(Options{Sync: SyncNever}, nil)
	s := openT[kv](t, path, opts)
	appendBatch(t, s, "k", 1, 20)
	s.w.segMu.RLock()
	off := s.w.active().index[9] // record 10
	s.w.segMu.RUnlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	// Zeros from record 10's start to the end of its sector: what a lost
	// sector of an unsynced write leaves, so a reader would take it for a
	// torn tail. (A bit flipped inside a whole line is always corruption.)
	end := (off/sectorSize + 1) * sectorSize
	if end >= int64(len(b)) {
		t.Fatalf("setup: record 10 at %d is in the last sector of %d bytes", off, len(b))
	}
	copy(b[off:end], make([]byte, end-off))
	os.WriteFile(path, b, 0o644)

	s, clean := openClean(t, path, opts)
	if !clean {
		t.Fatal("Open did not use the proof")
	}
	var got []int
	var err error
	for r, e := range s.All(1) {
		if e != nil {
			err = e
			break
		}
		got = append(got, r.Value.V)
	}
	var je *JournalError
	if !slices.Equal(got, seqRange(1, 9)) || !errors.As(err, &je) || !errors.Is(err, ErrCorrupt) ||
		je.Offset != off || filepath.Base(je.Path) != "j.log" {
		t.Fatalf("All read %v, then %v; want 1..9 and corruption at offset %d of j.log", got, err, off)
	}
}
