// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeJournal writes n records (V = 1..n) with one Append each and closes.
func writeJournal(t *testing.T, path string, n int, opts *Options) {
	t.Helper()
	s := openT[kv](t, path, opts)
	appendN(t, s, 1, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// lineOffset returns the byte offset of line (1-based) in b.
func lineOffset(b []byte, line int) int64 {
	off := 0
	for i := 1; i < line; i++ {
		off += bytes.IndexByte(b[off:], '\n') + 1
	}
	return int64(off)
}

func TestDamagedJournals(t *testing.T) {
	type damage struct {
		name string
		// damage changes the files of a 10-record journal written with
		// segments of about four records (j.log.001, j.log.002, j.log).
		damage func(t *testing.T, dir string)
		// The error Open and Replay must give: matching wantIs, in file
		// wantFile at wantLine (0: any). wantIs nil means Open succeeds.
		wantIs   error
		wantFile string
		wantLine int
		wantMsg  string
		// For damage Open repairs: the records that remain, and the torn line.
		torn     int
		wantVals []int
	}
	edit := func(file string, fn func(b []byte) []byte) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, file)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, fn(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	flip := func(line int) func([]byte) []byte {
		return func(b []byte) []byte {
			off := lineOffset(b, line)
			b[off+20] ^= 0x04
			return b
		}
	}
	for _, tc := range []damage{
		{name: "wrong magic", damage: edit("j.log.001", func(b []byte) []byte {
			return append([]byte("# not a journal\n"), b[bytes.IndexByte(b, '\n')+1:]...)
		}), wantIs: ErrCorrupt, wantFile: "j.log.001", wantLine: 1, wantMsg: "missing magic header"},
		{name: "future version", damage: edit("j.log", func(b []byte) []byte {
			return append([]byte("// MINISTORE JOURNAL v9 base=9\n"), b[bytes.IndexByte(b, '\n')+1:]...)
		}), wantIs: ErrVersion, wantFile: "j.log", wantLine: 1, wantMsg: "unsupported journal version v9"},
		{name: "version digit flipped", damage: edit("j.log.002", func(b []byte) []byte {
			b[len(magic)] = '0' // "v1 base=..." becomes "v0 base=...": the header's crc tells
			return b
		}), wantIs: ErrCorrupt, wantFile: "j.log.002", wantLine: 1, wantMsg: "checksum mismatch"},
		{name: "version cut by a newline", damage: edit("j.log.002", func(b []byte) []byte {
			b[len(magic)] = '\n' // the header line is the magic alone
			return b
		}), wantIs: ErrCorrupt, wantFile: "j.log.002", wantLine: 1, wantMsg: "malformed header"},
		{name: "future version with its crc", damage: edit("j.log", func(b []byte) []byte {
			text := []byte(magic + "2 base=9")
			head := fmt.Appendf(nil, "%s crc=%08x\n", text, crc32.Checksum(text, castagnoli))
			return append(head, b[bytes.IndexByte(b, '\n')+1:]...)
		}), wantIs: ErrVersion, wantFile: "j.log", wantLine: 1, wantMsg: "unsupported journal version v2"},
		{name: "truncated header", damage: edit("j.log.002", func(b []byte) []byte {
			return []byte("// MINISTORE JOURNAL v1 ba")
		}), wantIs: ErrCorrupt, wantFile: "j.log.002", wantLine: 1},
		{name: "header checksum", damage: edit("j.log.002", func(b []byte) []byte {
			return bytes.Replace(b, []byte("base=5"), []byte("base=6"), 1)
		}), wantIs: ErrCorrupt, wantFile: "j.log.002", wantLine: 1, wantMsg: "checksum mismatch"},
		{name: "flipped bit mid-log in active", damage: edit("j.log", flip(2)),
			wantIs: ErrCorrupt, wantFile: "j.log", wantLine: 2, wantMsg: "checksum mismatch"},
		{name: "flipped bit in sealed", damage: edit("j.log.002", flip(3)),
			wantIs: ErrCorrupt, wantFile: "j.log.002", wantLine: 3, wantMsg: "checksum mismatch"},
		{name: "zeroed block mid-log", damage: edit("j.log", func(b []byte) []byte {
			off := lineOffset(b, 2)
			copy(b[off:], make([]byte, 30))
			return b
		}), wantIs: ErrCorrupt, wantFile: "j.log", wantLine: 2},
		{name: "duplicated line", damage: edit("j.log", func(b []byte) []byte {
			l := splitLines(b)
			l = slices.Insert(l, 2, l[1])
			return append(bytes.Join(l, []byte("\n")), '\n')
		}), wantIs: ErrCorrupt, wantFile: "j.log", wantLine: 3, wantMsg: "repeats"},
		{name: "out of order", damage: edit("j.log.001", func(b []byte) []byte {
			l := splitLines(b)
			l[1], l[2] = l[2], l[1]
			return append(bytes.Join(l, []byte("\n")), '\n')
		}), wantIs: ErrCorrupt, wantFile: "j.log.001", wantLine: 2, wantMsg: "skips ahead"},
		{name: "segment missing in the middle", damage: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "j.log.002"))
		}, wantIs: ErrCorrupt, wantFile: "j.log", wantMsg: "a segment is missing"},
		{name: "undecodable line", damage: edit("j.log.001", func(b []byte) []byte {
			l := splitLines(b)
			l[2] = []byte(`{"k":"k2","v":`)
			return append(bytes.Join(l, []byte("\n")), '\n')
		}), wantIs: ErrCorrupt, wantFile: "j.log.001", wantLine: 3, wantMsg: "malformed record"},
		{name: "torn last record", damage: edit("j.log", func(b []byte) []byte {
			return b[:len(b)-9]
		}), torn: 3, wantVals: seqRange(1, 9)},
		{name: "start of a record after a lost sector", damage: edit("j.log", func(b []byte) []byte {
			// The write of record 11 lost its first sector, kept its second.
			b = append(b, make([]byte, 2*512-len(b)%512)...)
			return append(b, "\"k\":\"x\"},\"crc\":\"0"...)
		}), torn: 4, wantVals: seqRange(1, 10)},
		{name: "garbage after zeros inside a sector", damage: edit("j.log", func(b []byte) []byte {
			// No crash leaves zeros that end inside a sector.
			return append(b, "\x00\x00\x00{\"seq\":11,\"sy"...)
		}), wantIs: ErrCorrupt, wantFile: "j.log", wantLine: 4, wantMsg: "end inside a sector"},
		{name: "preallocated zeros", damage: edit("j.log", func(b []byte) []byte {
			return append(b, make([]byte, 10000)...)
		}), wantVals: seqRange(1, 10)},
	} {
		// Each damage is done after a clean Close, with the clean-end
		// proof it left, and without it (as after a crash). The proof can
		// only spare Open the reading of the active file's records: then
		// reading them reports the damage, as Replay does.
		for _, proof := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/proof=%v", tc.name, proof), func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "j.log")
				writeJournal(t, path, 10, &Options{MaxSegmentBytes: 230})
				if names, _ := listSegments(vfsOS, path); len(names) != 3 {
					t.Fatalf("setup: want 3 files, got %v", names)
				}
				if !proof {
					if err := os.Remove(path + cleanEndSuffix); err != nil {
						t.Fatal(err)
					}
				}
				tc.damage(t, dir)
				_, rerr := Replay[kv](path)
				s, oerr := Open[kv](path, nil)
				if oerr == nil && (s.w.cleanOpen || s.w.provenFrom != 0) && tc.wantIs != nil {
					if !proof && s.w.cleanOpen {
						t.Fatal("Open used a clean-end proof that was removed")
					}
					// Open read only the last line (or, after a crash, the
					// records the sync proof does not vouch for); All reads
					// the rest.
					for _, err := range s.All(1) {
						if err != nil {
							oerr = err
							break
						}
					}
					s.Close()
					if oerr == nil {
						t.Fatal("Open trusted the proof and All read the damaged journal without an error")
					}
				}
				if tc.wantIs == nil {
					if oerr != nil || rerr != nil {
						t.Fatalf("Open: %v; Replay: %v", oerr, rerr)
					}
					torn := s.TornTail()
					if (torn == nil) != (tc.torn == 0) || (torn != nil && torn.Line != tc.torn) {
						t.Fatalf("torn tail %v, want line %d", torn, tc.torn)
					}
					s.Close()
					if got := values(t, path); !slices.Equal(got, tc.wantVals) {
						t.Fatalf("records %v", got)
					}
					return
				}
				if oerr == nil {
					s.Close()
				}
				for what, err := range map[string]error{"Replay": rerr, "Open": oerr} {
					if what == "Open" && tc.wantFile != "j.log" && tc.wantLine > 1 && oerr == nil {
						// Open reads the headers and the last record of sealed
						// segments, not every record; Replay and Get do.
						continue
					}
					if !errors.Is(err, tc.wantIs) {
						t.Fatalf("%s error %v, want %v", what, err, tc.wantIs)
					}
					if tc.wantIs == ErrVersion && errors.Is(err, ErrCorrupt) {
						t.Fatalf("%s: a newer version is not corruption: %v", what, err)
					}
					var je *JournalError
					if !errors.As(err, &je) {
						t.Fatalf("%s error %v is not a *JournalError", what, err)
					}
					if filepath.Base(je.Path) != tc.wantFile || (tc.wantLine != 0 && je.Line != tc.wantLine) {
						t.Fatalf("%s error at %s:%d, want %s:%d (%v)", what, je.Path, je.Line, tc.wantFile, tc.wantLine, err)
					}
					b, _ := os.ReadFile(je.Path)
					if je.Line > 0 && je.Offset != lineOffset(b, je.Line) {
						t.Fatalf("%s error offset %d, line %d starts at %d", what, je.Offset, je.Line, lineOffset(b, je.Line))
					}
					if !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), je.Path) {
						t.Fatalf("%s error %q does not say %q and the path", what, err, tc.wantMsg)
					}
				}
			})
		}
	}
}

// Damage to the newest segment that later records prove was durable is
// corruption, not a torn tail: Open must not silently drop acknowledged
// records after it. Open passes over the records the sync proof vouches
// for (provenstart.go), so it either reports the damage or keeps every
// record, and then reading them reports it, with its file and offset.
func TestCorruptionBeforeProvenRecords(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.log")
	writeJournal(t, path, 5, nil)
	b, _ := os.ReadFile(path)
	// Cut record 3 short, as if torn, but keep 4 and 5 after it.
	off := lineOffset(b, 4)
	b = append(b[:off+10:off+10], b[lineOffset(b, 5)-1:]...)
	os.WriteFile(path, b, 0o644)
	s, err := Open[kv](path, nil)
	if err == nil {
		defer s.Close()
		if s.LastSeq() != 5 {
			t.Fatalf("Open dropped records: last %d, want 5", s.LastSeq())
		}
		for _, err = range s.All(1) {
			if err != nil {
				break
			}
		}
	}
	var je *JournalError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &je) || je.Path != path || je.Offset != off {
		t.Fatalf("Open, then All = %v, want ErrCorrupt in %s at offset %d", err, path, off)
	}
}

func TestRepair(t *testing.T) {
	t.Run("sound", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "j.log")
		writeJournal(t, path, 5, nil)
		rep, err := Repair(path)
		if err != nil || rep.Problem != nil || len(rep.Saved) != 0 {
			t.Fatalf("Repair of a sound journal: %+v, %v", rep, err)
		}
	})
	t.Run("torn", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "j.log")
		writeJournal(t, path, 5, nil)
		b, _ := os.ReadFile(path)
		os.WriteFile(path, b[:len(b)-7], 0o644)
		rep, err := Repair(path)
		if err != nil || !errors.Is(rep.Problem, ErrTornTail) || errors.Is(rep.Problem, ErrCorrupt) {
			t.Fatalf("Repair: %+v, %v", rep, err)
		}
		saved, _ := os.ReadFile(rep.Saved[0])
		if string(saved) != string(b[rep.Offset:len(b)-7]) {
			t.Fatalf("saved %q", saved)
		}
		if got := values(t, path); !slices.Equal(got, seqRange(1, 4)) {
			t.Fatalf("after repair: %v", got)
		}
	})
	t.Run("corrupt sealed segment", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "j.log")
		writeJournal(t, path, 10, &Options{MaxSegmentBytes: 230})
		p2 := filepath.Join(dir, "j.log.002")
		b, _ := os.ReadFile(p2)
		off := lineOffset(b, 3)
		b[off+20] ^= 1
		os.WriteFile(p2, b, 0o644)
		rep, err := Repair(path)
		if err != nil || !errors.Is(rep.Problem, ErrCorrupt) || rep.Path != p2 || rep.Offset != off {
			t.Fatalf("Repair: %+v, %v", rep, err)
		}
		if len(rep.Removed) != 1 || rep.Removed[0] != path || len(rep.Saved) != 2 {
			t.Fatalf("Repair moved %v, saved %v", rep.Removed, rep.Saved)
		}
		if got := values(t, path); !slices.Equal(got, seqRange(1, 5)) {
			t.Fatalf("after repair: %v", got)
		}
		s := openT[kv](t, path, nil)
		if seq, err := s.Append(kv{V: 6}); err != nil || seq != 6 {
			t.Fatalf("Append after repair: %d, %v", seq, err)
		}
		s.Close()
		// Everything cut is kept.
		total := 0
		for _, p := range rep.Saved {
			b, _ := os.ReadFile(p)
			total += bytes.Count(b, []byte("\n"))
		}
		if total != 5+1 { // records 6..10, and the header of the moved active file
			t.Fatalf("saved files hold %d lines", total)
		}
	})
}

// A batch written with one write and not yet fsync'd can reach the disk out
// of order: a later block without an earlier one. The surviving later lines
// are valid, but their "sync" fields show that nothing after the last
// durable record was durable when they were written, so Open treats the
// whole batch as a torn tail instead of failing.
func TestUnsyncedBatchLostFirstBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, &Options{NoPreallocate: true})
	appendN(t, s, 1, 3)
	appendBatch(t, s, "batch", 4, 150)
	s.Close()
	os.Remove(path + cleanEndSuffix) // a crash, not a Close, ended the session
	b, _ := os.ReadFile(path)
	start := lineOffset(b, 5) // record 4: the batch's first
	if len(b)-int(start) < 2*4096 {
		t.Fatalf("batch too small: %d bytes", len(b)-int(start))
	}
	// The first block of the batch's write is lost: zeros from where the
	// batch starts to the next 4096-byte boundary (a crash loses whole
	// sectors).
	copy(b[start:], make([]byte, 4096-start%4096))
	os.WriteFile(path, b, 0o644)

	s2, err := Open[kv](path, quietOptions(Options{}, nil))
	if err != nil {
		t.Fatalf("Open = %v, want the lost batch treated as a torn tail", err)
	}
	defer s2.Close()
	if s2.TornTail() == nil || s2.TornTail().Offset != start || s2.LastSeq() != 3 {
		t.Fatalf("torn %v, last %d", s2.TornTail(), s2.LastSeq())
	}
}

// A power loss in the middle of the last write of a preallocated journal
// leaves the start of a record and then megabytes of zeros, with no
// newline. Open must report the torn record, with its offset and the
// number of bytes that were not zero, and go on after it; Replay must stop
// before it. (The zeros are counted as they stream by, not collected.)
func TestTornRecordBeforePreallocatedZeros(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, nil)
	appendN(t, s, 1, 5)
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := lineOffset(b, 6) // record 5's line
	torn := bytes.TrimSuffix(b[start:], []byte("\n"))[:20]
	b = append(append(b[:start:start], torn...), make([]byte, 5<<20)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	var got []int
	for r, err := range Records[kv](path, 1) {
		if err != nil {
			t.Fatalf("Records: %v", err)
		}
		got = append(got, r.Value.V)
	}
	if !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("Records = %v, want 1..4", got)
	}
	s2, err := Open[kv](path, quietOptions(Options{}, nil))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer s2.Close()
	tt := s2.TornTail()
	if tt == nil || tt.Offset != start || tt.Line != 6 || tt.Bytes != int64(len(torn)) || s2.LastSeq() != 4 {
		t.Fatalf("torn %+v, last %d; want offset %d, line 6, %d bytes, last 4", tt, s2.LastSeq(), start, len(torn))
	}
	if seq, err := s2.Append(kv{K: "after", V: 5}); err != nil || seq != 5 {
		t.Fatalf("Append after the cut = %d, %v", seq, err)
	}
}
