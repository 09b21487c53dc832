// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
)

// Files written by the Rust crate ministore 0.1.x (see testdata/mini-rs/README.md).
const fixtures = "../testdata/mini-rs"

// copyFixture copies a fixture folder into a temporary folder, so tests
// that open it for writing never change the original.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	return testutil.CopyDir(t, filepath.Join(fixtures, name), t.TempDir())
}

// counterMutation is the Rust enum CounterMutation { Set { value }, Inc { delta } }
// in serde's form {"Set":{"value":10}}.
type counterMutation struct {
	Set *struct {
		Value int `json:"value"`
	} `json:",omitempty"`
	Inc *struct {
		Delta int `json:"delta"`
	} `json:",omitempty"`
}

func applyCounter(v int, m counterMutation) int {
	switch {
	case m.Set != nil:
		return m.Set.Value
	case m.Inc != nil:
		return v + m.Inc.Delta
	}
	return v
}

func TestRustJournalPlain(t *testing.T) {
	recs, err := Replay[counterMutation](filepath.Join(fixtures, "journal-plain", "counter.log"))
	if err != nil {
		t.Fatal(err)
	}
	v := 0
	for _, m := range recs {
		v = applyCounter(v, m)
	}
	if len(recs) != 2 || v != 125 {
		t.Fatalf("%d records, counter %d; want 2 and 125", len(recs), v)
	}
}

func TestRustJournalRotated(t *testing.T) {
	var got []int
	var seqs []uint64
	for rec, err := range Records[counterMutation](filepath.Join(fixtures, "journal-rotated", "rot.log"), 1) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.Value.Set.Value)
		seqs = append(seqs, rec.Seq)
	}
	if !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("values %v", got)
	}
	if !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("a Rust record's sequence number is its position: %v", seqs)
	}
	// Reading from the middle skips by position.
	var from []int
	for rec, err := range Records[counterMutation](filepath.Join(fixtures, "journal-rotated", "rot.log"), 5) {
		if err != nil {
			t.Fatal(err)
		}
		from = append(from, rec.Value.Set.Value)
	}
	if !slices.Equal(from, []int{4, 5, 6}) {
		t.Fatalf("from 5: %v", from)
	}
}

func TestRustJournalTornTail(t *testing.T) {
	path := filepath.Join(fixtures, "journal-torn-tail", "journal.jsonl")
	recs, err := Replay[counterMutation](path)
	if err != nil || len(recs) != 2 {
		t.Fatalf("Replay: %d records, %v; want the 2 whole ones", len(recs), err)
	}
	dir := copyFixture(t, "journal-torn-tail")
	s := openT[counterMutation](t, filepath.Join(dir, "journal.jsonl"), nil)
	torn := s.TornTail()
	if torn == nil {
		t.Fatal("Open did not report the torn tail")
	}
	if torn.Line != 4 || torn.Bytes != int64(len(`{"Inc":{"del`)) {
		t.Fatalf("torn tail %+v", torn)
	}
	if s.LastSeq() != 2 || s.Format() != FormatPlain {
		t.Fatalf("LastSeq %d format %v", s.LastSeq(), s.Format())
	}
	seq, err := s.Append(counterMutation{Inc: &struct {
		Delta int `json:"delta"`
	}{Delta: 1}})
	if err != nil || seq != 3 {
		t.Fatalf("Append after repair: %d, %v", seq, err)
	}
	s.Close()
	b, _ := os.ReadFile(filepath.Join(dir, "journal.jsonl"))
	want := "// MINISTORE JOURNAL v0.1.4\n{\"Set\":{\"value\":10}}\n{\"Inc\":{\"delta\":5}}\n{\"Inc\":{\"delta\":1}}\n"
	if string(b) != want {
		t.Fatalf("file after repair and append:\n%s", b)
	}
}

// Appending to a Rust journal continues it in the Rust format, so the Rust
// crate can still replay it: header untouched, bare JSON lines.
func TestContinueRustJournal(t *testing.T) {
	dir := copyFixture(t, "journal-rotated")
	path := filepath.Join(dir, "rot.log")
	s := openT[counterMutation](t, path, &Options{MaxSegmentBytes: 60})
	if s.FirstSeq() != 1 || s.LastSeq() != 7 {
		t.Fatalf("first %d last %d", s.FirstSeq(), s.LastSeq())
	}
	for v := 7; v < 12; v++ {
		seq, err := s.Append(counterMutation{Set: &struct {
			Value int `json:"value"`
		}{Value: v}})
		if err != nil || seq != uint64(v+1) {
			t.Fatalf("Append %d: %d, %v", v, seq, err)
		}
	}
	s.Close()
	got := setValues(t, path)
	if !slices.Equal(got, seqRange(0, 11)) {
		t.Fatalf("values %v", got)
	}
	// What the Rust reader does: every file starts with the magic prefix,
	// every other line is one bare serde value.
	files, _ := listSegments(s.w.fs, path)
	if len(files) < 4 {
		t.Fatalf("expected rotation, got %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f.path)
		lines := splitLines(b)
		if !strings.HasPrefix(string(lines[0]), "// MINISTORE JOURNAL v0.") {
			t.Fatalf("%s header %q", f.path, lines[0])
		}
		for _, l := range lines[1:] {
			var m map[string]map[string]int
			if err := json.Unmarshal(l, &m); err != nil || m["Set"] == nil {
				t.Fatalf("%s: line %q is not a bare record", f.path, l)
			}
		}
	}
}

// The ministate fixtures hold plain journals of other record types.
func TestRustStateJournals(t *testing.T) {
	type inc struct {
		By int `json:"by"`
	}
	recs, err := Replay[inc](filepath.Join(fixtures, "ministate-counter", "counter.wal.jsonl"))
	if err != nil || len(recs) != 2 || recs[0].By+recs[1].By != 300 {
		t.Fatalf("counter: %v, %v", recs, err)
	}
	type update struct {
		To int `json:"to"`
	}
	var tos []int
	for rec, err := range Records[update](filepath.Join(fixtures, "ministate-snapshot", "test.wal.jsonl"), 3) {
		if err != nil {
			t.Fatal(err)
		}
		tos = append(tos, rec.Value.To)
	}
	if !slices.Equal(tos, []int{30}) {
		t.Fatalf("records from 3: %v", tos)
	}
}

func TestWritePlainFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[counterMutation](t, path, &Options{Format: FormatPlain})
	s.Append(counterMutation{Set: &struct {
		Value int `json:"value"`
	}{Value: 100}})
	s.Append(counterMutation{Inc: &struct {
		Delta int `json:"delta"`
	}{Delta: 25}})
	s.Close()
	b, _ := os.ReadFile(path)
	want := "// MINISTORE JOURNAL v0.1.4 base=1\n{\"Set\":{\"value\":100}}\n{\"Inc\":{\"delta\":25}}\n"
	if string(b) != want {
		t.Fatalf("plain file:\n%s", b)
	}
	// A v1 journal stays v1 even if FormatPlain is asked for later.
	path2 := filepath.Join(t.TempDir(), "v1.log")
	s2 := openT[kv](t, path2, nil)
	s2.Append(kv{V: 1})
	s2.Close()
	s2 = openT[kv](t, path2, &Options{Format: FormatPlain})
	if s2.Format() != FormatV1 {
		t.Fatalf("existing v1 journal reopened as %v", s2.Format())
	}
}

// The current Rust crates name sealed segments NAME.000001 (six digits):
// mini goes on with six digits, in numeric order, never NAME.003.
func TestContinueSixDigitSegments(t *testing.T) {
	dir := copyFixture(t, "journal-rotated")
	path := filepath.Join(dir, "rot.log")
	for _, n := range []string{"001", "002"} {
		if err := os.Rename(path+"."+n, path+".000"+n); err != nil {
			t.Fatal(err)
		}
	}
	s := openT[counterMutation](t, path, &Options{MaxSegmentBytes: 30})
	for v := 7; v < 20; v++ { // about one rotation per record: past .000009
		if _, err := s.Append(counterMutation{Set: &struct {
			Value int `json:"value"`
		}{Value: v}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sealed []string
	for _, e := range entries {
		if suffix, ok := strings.CutPrefix(e.Name(), "rot.log."); ok && strings.Trim(suffix, "0123456789") == "" {
			if len(suffix) != 6 {
				t.Errorf("sealed segment %s: want six digits", e.Name())
			}
			sealed = append(sealed, suffix)
		}
	}
	if len(sealed) < 11 {
		t.Fatalf("expected rotation past .000010, got %v", sealed)
	}
	got := setValues(t, path)
	if !slices.Equal(got, seqRange(0, 19)) {
		t.Fatalf("values %v", got)
	}
}

// NAME.001 and NAME.000001 are both segment 1: corruption naming the file,
// not a journal read twice.
func TestSameSegmentTwoWidths(t *testing.T) {
	dir := copyFixture(t, "journal-rotated")
	path := filepath.Join(dir, "rot.log")
	b, err := os.ReadFile(path + ".001")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".000001", b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open[counterMutation](path, nil)
	var je *JournalError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &je) || je.Path != path+".001" && je.Path != path+".000001" {
		t.Fatalf("Open with %s.001 and .000001: %v", path, err)
	}
	n := 0
	for _, err := range Records[counterMutation](path, 1) {
		if n++; !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Records: %v", err)
		}
		break
	}
	if n == 0 {
		t.Fatal("Records: no error")
	}
}

// setValues replays the counterMutation journal at path and returns the
// value of every record's Set.
func setValues(t *testing.T, path string) []int {
	t.Helper()
	var got []int
	for rec, err := range Records[counterMutation](path, 1) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.Value.Set.Value)
	}
	return got
}
