// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// Regression tests for issue #13, items 1 to 3: damage that Open and the
// readers took for a crash, or for an empty journal.

// readers runs every reader of the journal at path and returns their
// errors by name: Replay, Records, Inspect's Problem, and Open (followed by
// All, if it opens).
func readers(t *testing.T, path string) map[string]error {
	t.Helper()
	errs := map[string]error{}
	_, errs["Replay"] = Replay[kv](path)
	for _, err := range Records[kv](path, 1) {
		if err != nil {
			errs["Records"] = err
			break
		}
	}
	info, err := Inspect(path, nil)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	errs["Inspect"] = info.Problem
	s, err := Open[kv](path, quietOptions(Options{}, nil))
	errs["Open"] = err
	if err == nil {
		for _, err := range s.All(1) {
			if err != nil {
				errs["Open"] = err
				break
			}
		}
		if s.TornTail() != nil {
			errs["Open"] = errors.New("Open cut a torn tail: " + s.TornTail().String())
		}
		s.Close()
	}
	return errs
}

// wantCorrupt checks that every reader failed with a *JournalError
// matching ErrCorrupt at line:offset of path (line 0: any) and that the
// files were left as they were, without a .broken copy.
func wantCorrupt(t *testing.T, path string, damaged []byte, line int) {
	t.Helper()
	for what, err := range readers(t, path) {
		var je *JournalError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &je) {
			t.Errorf("%s: %v, want a *JournalError matching ErrCorrupt", what, err)
			continue
		}
		b := damaged
		if je.Path != path || (line != 0 && (je.Line != line || je.Offset != lineOffset(b, line))) {
			t.Errorf("%s: error at %s:%d (offset %d), want %s:%d (offset %d)", what, je.Path, je.Line, je.Offset,
				path, line, lineOffset(b, line))
		}
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, damaged) {
		t.Errorf("the damaged file was changed: %d bytes, was %d", len(b), len(damaged))
	}
	if m, _ := filepath.Glob(path + ".broken*"); len(m) != 0 {
		t.Errorf("a .broken copy without a cut: %v", m)
	}
}

// damaged writes a journal of n records appended one by one, closes it,
// applies fn to its bytes and writes them back.
func damaged(t *testing.T, n int, fn func(b []byte) []byte) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.log")
	writeJournal(t, path, n, nil)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = fn(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// Item 1: a zeroed first block is a damaged header, not an empty journal.
func TestZeroedHeaderIsCorruption(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(b []byte) []byte
	}{
		{"first 512 bytes zeroed", func(b []byte) []byte { clear(b[:512]); return b }},
		{"first 4096 bytes zeroed", func(b []byte) []byte { clear(b[:min(len(b), 4096)]); return b }},
		{"a file of zeros", func(b []byte) []byte { return make([]byte, 1<<20) }},
		{"zeros as long as a header", func(b []byte) []byte { return make([]byte, len(rustHeaderLine)) }},
		{"header only zeroed", func(b []byte) []byte { clear(b[:bytes.IndexByte(b, '\n')]); return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, b := damaged(t, 20, tc.fn)
			wantCorrupt(t, path, b, 1)
		})
	}
}

// What a crash can leave of a header the Rust crate was writing in place is
// a new journal: Open starts afresh, keeping a non-empty file aside.
func TestTornHeaderStartsAfresh(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"part of the header", rustHeaderLine[:15]},
		{"header without its newline", rustHeaderLine[:len(rustHeaderLine)-1]},
		{"zeros shorter than the header", strings.Repeat("\x00", len(rustHeaderLine)-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			if got, err := Replay[kv](path); err != nil || len(got) != 0 {
				t.Fatalf("Replay = %v, %v", got, err)
			}
			s := openT[kv](t, path, quietOptions(Options{}, nil))
			torn := s.TornTail()
			if (torn != nil) != (tc.data != "") {
				t.Fatalf("torn tail %v", torn)
			}
			if torn != nil {
				saved, err := os.ReadFile(torn.Saved)
				if err != nil || string(saved) != tc.data {
					t.Fatalf("kept %q, %v; want %q", saved, err, tc.data)
				}
			}
			appendN(t, s, 1, 1)
		})
	}
}

// Item 2: an editor's save (trailing whitespace, CRLF) is corruption.
func TestEditedJournalIsCorruption(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(b []byte) []byte
		line int
	}{
		{"trailing spaces on every line", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("}\n"), []byte("}  \n"))
		}, 2},
		{"CRLF line ends", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
		}, 1},
		{"a trailing space on the last line", func(b []byte) []byte {
			return append(b[:len(b)-1], " \n"...)
		}, 21},
		{"a tab on line 5", func(b []byte) []byte {
			off := lineOffset(b, 6) - 1
			return append(b[:off:off], append([]byte("\t"), b[off:]...)...)
		}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, b := damaged(t, 20, tc.fn)
			wantCorrupt(t, path, b, tc.line)
		})
	}
}

// Item 3: the '\n' ending record 19 of 20 damaged. Record 20's "sync"
// field says 19 was durable, so this is no torn tail.
func TestDamagedNewlineBeforeProof(t *testing.T) {
	values := []byte{0x00, ' ', 0xff, '0', '}', '7', '"'}
	for bit := range 8 {
		values = append(values, '\n'^1<<bit)
	}
	for _, v := range values {
		path, b := damaged(t, 20, func(b []byte) []byte {
			if !bytes.Contains(b[lineOffset(b, 21):], []byte(`"sync":19,`)) {
				t.Fatalf("record 20 does not prove 19: %s", b[lineOffset(b, 21):])
			}
			b[lineOffset(b, 21)-1] = v
			return b
		})
		t.Run(fmt.Sprintf("%#02x", v), func(t *testing.T) { wantCorrupt(t, path, b, 20) })
	}
}

// The last line complete but failing its checksum is damage even though
// nothing after it proves it was durable: a crash never completes a line
// it did not write.
func TestCompleteLastLineIsCorruption(t *testing.T) {
	path, b := damaged(t, 20, func(b []byte) []byte {
		b[lineOffset(b, 21)+30] ^= 0x01
		return b
	})
	wantCorrupt(t, path, b, 21)
}

// Zeros in front of valid records that prove them durable: corruption.
func TestZeroedBlockBeforeProvenRecords(t *testing.T) {
	path, b := damaged(t, 60, func(b []byte) []byte {
		clear(b[1024:1536])
		return b
	})
	first := bytes.Count(b[:1024], []byte("\n")) + 1
	wantCorrupt(t, path, b, first)
}

// A cut Open makes keeps a copy of what it cut, and says where.
func TestOpenKeepsTornTail(t *testing.T) {
	path, b := damaged(t, 5, func(b []byte) []byte { return b[:len(b)-9] })
	start := lineOffset(b, 6)
	s := openT[kv](t, path, quietOptions(Options{}, nil))
	torn := s.TornTail()
	if torn == nil || torn.Offset != start || torn.Line != 6 || torn.Saved != path+".broken" {
		t.Fatalf("torn tail %+v", torn)
	}
	saved, err := os.ReadFile(torn.Saved)
	if err != nil || !bytes.Equal(saved, b[start:]) {
		t.Fatalf("kept %q, %v; want %q", saved, err, b[start:])
	}
	if !strings.Contains(torn.String(), "kept in "+torn.Saved) {
		t.Fatalf("String() = %q", torn.String())
	}
}

// A short write (a full disk) leaves a record's start and then the
// preallocated zeros, wherever it stopped; the '\n' of the last record
// zeroed looks the same and is cut as a torn tail, with its copy kept.
func TestLastNewlineZeroedIsTorn(t *testing.T) {
	path, b := damaged(t, 5, func(b []byte) []byte {
		b[len(b)-1] = 0
		return append(b, make([]byte, 4096)...)
	})
	start := lineOffset(b, 6)
	s := openT[kv](t, path, quietOptions(Options{}, nil))
	torn := s.TornTail()
	if torn == nil || torn.Offset != start || s.LastSeq() != 4 {
		t.Fatalf("torn tail %+v, last %d", torn, s.LastSeq())
	}
	saved, _ := os.ReadFile(torn.Saved)
	if want := bytes.TrimRight(b[start:], "\x00"); !bytes.Equal(saved, want) {
		t.Fatalf("kept %q, want %q", saved, want)
	}
}

// A flipped bit in the header's "v1" is damage, told from a newer release's
// header by the header's checksum; a header of another version whose
// checksum matches is ErrVersion, not corruption.
func TestDamagedVersionIsCorruption(t *testing.T) {
	path, b := damaged(t, 5, func(b []byte) []byte {
		return bytes.Replace(b, []byte("JOURNAL v1 "), []byte("JOURNAL v3 "), 1)
	})
	wantCorrupt(t, path, b, 1)

	path, _ = damaged(t, 5, func(b []byte) []byte {
		head := []byte("// MINISTORE JOURNAL v9 base=1")
		head = append(head, " crc="...)
		head = appendHex32(head, crc32.Checksum(head[:len(head)-len(" crc=")], castagnoli))
		return append(append(head, '\n'), b[bytes.IndexByte(b, '\n')+1:]...)
	})
	for what, err := range readers(t, path) {
		if !errors.Is(err, ErrVersion) || errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrVersion and not ErrCorrupt", what, err)
		}
	}
}

// A torn tail that cannot be saved (a full disk) is not cut, and the
// partial copy is removed: retrying Open on a full disk left one more
// empty NAME.broken, .broken.2, ... each time.
func TestTornTailCopyFailsLeavesNoBroken(t *testing.T) {
	path, b := damaged(t, 5, func(b []byte) []byte { return b[:len(b)-9] })
	fsys := vfs.NewFaulty(vfs.OS)
	fsys.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpWrite && strings.Contains(op.Path, ".broken") {
			return syscall.ENOSPC
		}
		return nil
	})
	for range 2 {
		if _, err := Open[kv](path, quietOptions(Options{}, fsys)); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Open = %v, want ENOSPC", err)
		}
	}
	if m, _ := filepath.Glob(path + ".broken*"); len(m) != 0 {
		t.Errorf("a failed copy left %v", m)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
		t.Errorf("the journal was changed although its tail could not be saved")
	}
}

// The plain format (the Rust crate's) has no checksum, but a crash still
// leaves only a prefix of "JSON\n": its last record whole and then a byte
// that is not '\n' is damage, not a torn tail (it was cut as one, losing
// the record). Only zeros after it stay a torn tail (a short write).
func TestPlainLastNewlineDamaged(t *testing.T) {
	for _, c := range []byte{'7', ' ', '}', 0xff, 'x', '{'} {
		t.Run(fmt.Sprintf("%q", c), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			writeJournal(t, path, 3, &Options{Format: FormatPlain})
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-1] = c
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			wantCorrupt(t, path, b, 4)
		})
	}
}

// Damage at the end of a sealed segment: Open, which reads only the end of
// a sealed segment, said "j.log.001 (offset 424)", the file's size and no
// line; it now names the line and offset of the bad record, as the readers
// do.
func TestSealedDamageNamesLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }},
		{"last newline zeroed", func(b []byte) []byte { b[len(b)-1] = 0; return b }},
		{"byte of the last line flipped", func(b []byte) []byte { b[len(b)-20] ^= 0x04; return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			writeJournal(t, path, 20, &Options{MaxSegmentBytes: 400})
			seg := path + ".001"
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, tc.edit(b), 0o644); err != nil {
				t.Fatal(err)
			}
			_, rerr := Replay[kv](path)
			_, oerr := Open[kv](path, quietOptions(Options{}, nil))
			var re, oe *JournalError
			if !errors.As(rerr, &re) || !errors.As(oerr, &oe) || !errors.Is(oerr, ErrCorrupt) {
				t.Fatalf("Replay: %v; Open: %v; want *JournalError from both", rerr, oerr)
			}
			if oe.Path != seg || oe.Line == 0 || oe.Line != re.Line || oe.Offset != re.Offset {
				t.Errorf("Open: %s:%d (offset %d); Replay: %s:%d (offset %d)", oe.Path, oe.Line, oe.Offset,
					re.Path, re.Line, re.Offset)
			}
		})
	}
}

// An active file emptied, or cut inside its header, behind sealed segments
// of format v1 is damage: this package creates files through a temporary
// file and a rename, so no crash leaves one without its header, and the
// records it held were acknowledged. Behind a plain (Rust) segment it may
// be the Rust crate's crash while creating the file, and starts afresh.
func TestHeaderlessActiveAfterSealedSegments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
	}{
		{"emptied", ""},
		{"cut inside the header", "// MINISTORE JOUR"},
		{"zeros", "\x00\x00\x00\x00"},
	} {
		t.Run("v1/"+tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			writeJournal(t, path, 20, &Options{MaxSegmentBytes: 400})
			if _, err := os.Stat(path + ".001"); err != nil {
				t.Fatalf("no sealed segment: %v", err)
			}
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			wantCorrupt(t, path, []byte(tc.content), 1)
			if _, _, err := boundsFS(vfs.OS, path); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Bounds: %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("plain", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "rot.log")
		// A Rust-rotated journal: two sealed plain segments, and an active
		// file the crate's crash left empty while it created it.
		for name, body := range map[string]string{
			"rot.log.001": "// MINISTORE JOURNAL v0.1.4\n{\"k\":\"a\",\"v\":1}\n",
			"rot.log.002": "// MINISTORE JOURNAL v0.1.4\n{\"k\":\"b\",\"v\":2}\n",
			"rot.log":     "",
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		recs, err := Replay[kv](path)
		if err != nil || len(recs) != 2 {
			t.Fatalf("Replay: %d records, %v; want 2", len(recs), err)
		}
		s, err := Open[kv](path, quietOptions(Options{}, nil))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		if s.LastSeq() != 2 {
			t.Fatalf("LastSeq %d, want 2", s.LastSeq())
		}
	})
}
