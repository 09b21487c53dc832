// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/mini-go/mini/vfs"
)

func fuzzSeeds(f *testing.F) {
	for _, p := range []string{
		"journal-plain/counter.log", "journal-torn-tail/journal.jsonl", "journal-rotated/rot.log.001",
	} {
		b, err := os.ReadFile(fixtures + "/" + p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(nil))
	}
	var v1 []byte
	v1 = appendHeader(v1, FormatV1, 1)
	v1 = appendLine(v1, FormatV1, 1, 0, []byte(`{"k":"a","v":1}`))
	v1 = appendLine(v1, FormatV1, 2, 1, []byte(`{"k":"b","v":2}`))
	f.Add(v1, []byte(nil))
	f.Add(append(bytes.Clone(v1), 0, 0, 0, 'x'), []byte(nil))
	f.Add(v1[:len(v1)-5], v1)
	f.Add([]byte{}, []byte("// MINISTORE JOURNAL v1 base=1 crc=00000000\n"))
	named := appendSchemaHeader(nil, FormatV1, 3, "a/b")
	named = appendLine(named, FormatV1, 3, 2, []byte(`{"k":"c"}`))
	f.Add(named, appendSchemaHeader(nil, FormatPlain, 1, "a/b"))
}

// FuzzOpen writes arbitrary bytes as a journal's active file (and, when
// given, a sealed segment before it): Open and replay must never panic, and
// whatever Open accepts must replay consistently and take new records.
func FuzzOpen(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, active, sealed []byte) {
		mem := vfs.NewMem()
		if err := vfs.MkdirAll(mem, "/j", 0o755); err != nil {
			t.Fatal(err)
		}
		writeMemFile(t, mem, "/j/log", active)
		if sealed != nil {
			writeMemFile(t, mem, "/j/log.001", sealed)
		}
		var replayed []Record[json.RawMessage]
		var rerr error
		records(mem, "/j/log", 1, 0, nil, func(r Record[json.RawMessage], err error) bool {
			if err != nil {
				rerr = err
				return false
			}
			replayed = append(replayed, r)
			return true
		})
		// AnySchema: whatever schema the headers name, the rest is judged.
		s, err := Open[json.RawMessage]("/j/log", quietOptions(Options{Schema: AnySchema}, mem))
		if err != nil {
			var je *JournalError
			if !errors.As(err, &je) {
				t.Fatalf("Open error is not a *JournalError: %v", err)
			}
			return
		}
		defer s.Close()
		if rerr != nil {
			// Open reads every record of the newest segment only; damage
			// inside a sealed one is found by replay, and by Get.
			var je *JournalError
			if !errors.As(rerr, &je) || je.Path != "/j/log.001" {
				t.Fatalf("Open accepted what replay rejected: %v", rerr)
			}
			bad := uint64(len(replayed)) + s.FirstSeq()
			if _, err := s.Get(bad); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get(%d) of the damaged record = %v, want ErrCorrupt", bad, err)
			}
			return
		}
		n := 0
		for r, err := range s.All(1) {
			if err != nil {
				t.Fatalf("All after a successful Open: %v", err)
			}
			if n >= len(replayed) || r.Seq != replayed[n].Seq || !bytes.Equal(r.Value, replayed[n].Value) {
				t.Fatalf("record %d differs from the read-only replay", n)
			}
			if got, err := s.Get(r.Seq); err != nil || !bytes.Equal(got, r.Value) {
				t.Fatalf("Get(%d) = %s, %v", r.Seq, got, err)
			}
			n++
		}
		if n != len(replayed) {
			t.Fatalf("Open holds %d records, replay read %d", n, len(replayed))
		}
		last := s.LastSeq()
		seq, err := s.Append(json.RawMessage(`{"new":true}`))
		if err != nil {
			t.Fatalf("Append after Open: %v", err)
		}
		if last != 0 && seq != last+1 {
			t.Fatalf("Append got %d after %d", seq, last)
		}
	})
}

// FuzzParseLine: parsing never panics, and a line or a header that parses
// is exactly what appendLine or appendSchemaHeader writes for its fields
// (one canonical form).
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"seq":1,"sync":0,"rec":{"a":1},"crc":"00000000"}`))
	f.Add(appendLine(nil, FormatV1, 77, 76, []byte(`[1,2,3]`)))
	f.Add([]byte(`{"Set":{"value":1}}`))
	f.Add(appendSchemaHeader(nil, FormatV1, 9, "ministate.registry/bank"))
	f.Add(appendSchemaHeader(nil, FormatPlain, 9, "x"))
	f.Add([]byte("// MINISTORE JOURNAL v0.1.4 base=3 schema=a b"))
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		rec, err := parseLine(FormatV1, line)
		if err == nil {
			again := appendLine(nil, FormatV1, rec.seq, rec.synced, rec.payload)
			if !bytes.Equal(again[:len(again)-1], line) {
				t.Fatalf("parsed %q but writes %q", line, again)
			}
		}
		parseLine(FormatPlain, line)
		if h, err := parseHeader(line); err == nil && (h.format == FormatV1 || h.base != 0 && h.version == plainVersion) {
			if h.schema != "" && !validSchemaName(h.schema) {
				t.Fatalf("header %q gives the invalid schema %q", line, h.schema)
			}
			again := appendSchemaHeader(nil, h.format, h.base, h.schema)
			if !bytes.Equal(again[:len(again)-1], line) {
				t.Fatalf("parsed header %q but writes %q", line, again)
			}
		}
	})
}

// FuzzRoundTrip: any record appended replays unchanged, in both formats;
// a string that is not valid UTF-8 (which JSON would turn into U+FFFD) is
// refused with ErrInvalidUTF8 and nothing is written.
func FuzzRoundTrip(f *testing.F) {
	f.Add("hello", int64(7), true)
	f.Add("line\nbreak \x00 \u2028 \"quoted\"", int64(-1), false)
	f.Add("bad \xff byte, a real \ufffd and a text \\ufffd", int64(3), false)
	f.Add("\\\ufffd\xc3", int64(0), true)
	f.Fuzz(func(t *testing.T, s string, n int64, plain bool) {
		type R struct {
			S string
			N int64
		}
		format := FormatV1
		if plain {
			format = FormatPlain
		}
		mem := vfs.NewMem()
		st, err := Open[R]("/r.log", quietOptions(Options{Format: format}, mem))
		if err != nil {
			t.Fatal(err)
		}
		in := []R{{s, n}, {s + s, -n}, {}}
		if !utf8.ValidString(s) {
			if _, err := st.Append(in[0]); !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("Append(%q) = %v, want ErrInvalidUTF8", s, err)
			}
			if _, _, err := st.AppendBatch(in[2], in[1]); !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("AppendBatch with %q = %v, want ErrInvalidUTF8", s+s, err)
			}
			if st.LastSeq() != 0 {
				t.Fatalf("a refused record was written: LastSeq %d", st.LastSeq())
			}
			in = in[2:]
		}
		for _, r := range in {
			if _, err := st.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		var out []R
		records(mem, "/r.log", 1, 0, nil, func(r Record[R], err error) bool {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r.Value)
			return true
		})
		if !slices.Equal(in, out) {
			t.Fatalf("wrote %+v, read %+v", in, out)
		}
	})
}
