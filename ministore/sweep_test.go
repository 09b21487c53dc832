// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/damagetest"
	"github.com/mini-go/mini/vfs"
)

// TestDamageSweep damages the files of a one-segment and a three-segment
// journal in every way internal/damagetest generates, one variant at a
// time, and runs every reader on each: Replay (through Records), Inspect,
// and Open followed by All. It fails on
//
//   - a record proven durable (in a sealed segment, or named by the "sync"
//     field of a record still whole in the file) missing without an error;
//   - a record returned with a wrong value or out of order;
//   - an error that is not a *JournalError;
//   - readers that disagree (one fails, another does not, or they return
//     different records);
//   - a file Open changed without a .broken copy of what it cut, or changed
//     at all when it failed;
//   - a panic, or a reader that does not return within 10 s.
//
// It logs the count of variants in each class. The default run samples
// the offsets of the bit flips, byte values and truncations (in the
// active file one in 24, always keeping its header and the bytes around
// every '\n'; in sealed segments one in 29); MINI_DAMAGE_FULL=1 tries
// every offset.
func TestDamageSweep(t *testing.T) {
	// No writer races these reads: do not wait before reading again.
	defer func(p time.Duration) { relistPause = p }(relistPause)
	relistPause = 0
	for _, tc := range []struct {
		name string
		opts Options
		n    int
	}{
		{"one segment", Options{}, 20},
		{"three segments", Options{MaxSegmentBytes: 600}, 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := buildSweepJournal(t, tc.opts, tc.n)
			if tc.opts.MaxSegmentBytes != 0 && len(j.files) != 3 {
				t.Fatalf("setup: %d files, want 3", len(j.files))
			}
			var c, reasons damagetest.Counter
			j.reasons = &reasons
			for fi, f := range j.files {
				opts := &damagetest.Options{Offsets: damagetest.Sample(f.data, 24)}
				if fi < len(j.files)-1 && !damagetest.Full() {
					// Any damage to a sealed segment is corruption: a
					// light sample of its offsets will do by default.
					opts.Offsets = func(off int) bool { return off%29 == fi }
				}
				for v := range damagetest.Variants(f.data, opts) {
					class := j.check(t, fi, v)
					v.Name = filepath.Base(f.name) + ":" + v.Name
					c.Add(class, v)
					if t.Failed() {
						c.Log(t)
						t.FailNow()
					}
				}
			}
			t.Log("errors by reason (numbers as N):")
			reasons.Log(t)
			c.Log(t)
		})
	}
}

// reasonOf returns the reason of a *JournalError with its numbers and
// quoted text replaced by N and "…", so errors of one kind count together.
func reasonOf(err error) string {
	var je *JournalError
	if !errors.As(err, &je) {
		return err.Error()
	}
	msg := strings.TrimPrefix(je.Err.Error(), "ministore: ")
	msg = quotedRE.ReplaceAllString(msg, `"…"`)
	return numberRE.ReplaceAllString(msg, "N")
}

var (
	quotedRE = regexp.MustCompile(`"(\\.|[^"\\])*"`)
	numberRE = regexp.MustCompile(`[0-9]+`)
)

// Classes of TestDamageSweep besides damagetest's.
const (
	classVersion = "unknown version (ErrVersion)"
	classShorter = "fewer records, none proven lost"
)

type sweepFile struct {
	name string
	data []byte
}

type sweepRecord struct {
	seq, synced uint64
	v           int
	line        []byte // without its '\n'
	file        int
}

type sweepJournal struct {
	reasons *damagetest.Counter // errors of Open+All by reason
	path    string
	files   []sweepFile // sealed segments, oldest first, then the active file
	recs    []sweepRecord
}

// buildSweepJournal writes n records with one Append each on a Mem and
// closes the store.
func buildSweepJournal(t *testing.T, o Options, n int) *sweepJournal {
	t.Helper()
	m := vfs.NewMem()
	j := &sweepJournal{path: "/d/j.log"}
	s, err := Open[kv](j.path, quietOptions(o, m))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	list, err := listSegments(m, j.path)
	if err != nil {
		t.Fatal(err)
	}
	for i, sf := range list {
		b := readMemFile(t, m, sf.path)
		j.files = append(j.files, sweepFile{name: sf.path, data: b})
		for _, line := range splitLines(b)[1:] {
			rec, err := parseLine(FormatV1, line)
			if err != nil {
				t.Fatal(err)
			}
			j.recs = append(j.recs, sweepRecord{seq: rec.seq, synced: rec.synced, v: len(j.recs) + 1, line: line, file: i})
		}
	}
	if len(j.recs) != n {
		t.Fatalf("setup: %d records, want %d", len(j.recs), n)
	}
	return j
}

func readMemFile(t testing.TB, fsys vfs.FS, name string) []byte {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// memWith returns a Mem holding files, durable.
func memWith(t testing.TB, files []sweepFile) *vfs.Mem {
	t.Helper()
	m := vfs.NewMem()
	if err := vfs.MkdirAll(m, "/d", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		w, err := m.OpenFile(f.name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteAt(f.data, 0); err != nil {
			t.Fatal(err)
		}
		w.Sync()
		w.Close()
	}
	m.SyncDir("/d")
	return m
}

// proven returns the highest sequence number the damaged files prove
// durable: every record of a sealed segment, and every record up to the
// "sync" field of a record whose line is still whole in the active file.
func (j *sweepJournal) proven(files []sweepFile) uint64 {
	var p uint64
	active := len(files) - 1
	for _, r := range j.recs {
		if r.file < active {
			p = max(p, r.seq)
		} else if bytes.Contains(files[active].data, r.line) {
			p = max(p, r.synced)
		}
	}
	return p
}

// readResult is what one reader returned.
type readResult struct {
	vals []int
	err  error
}

func collect(seq func(func(Record[kv], error) bool)) readResult {
	var r readResult
	for rec, err := range seq {
		if err != nil {
			r.err = err
			break
		}
		if int(rec.Seq) != len(r.vals)+1 {
			r.err = fmt.Errorf("record %d after %d records", rec.Seq, len(r.vals))
			break
		}
		r.vals = append(r.vals, rec.Value.V)
	}
	return r
}

// check runs the readers on the journal with file fi replaced by v and
// returns the variant's class. It fails t on a broken promise.
func (j *sweepJournal) check(t *testing.T, fi int, v damagetest.Variant) string {
	t.Helper()
	files := slices.Clone(j.files)
	files[fi].data = v.Data
	m := memWith(t, files)
	var (
		replay, all readResult
		info        *JournalInfo
		ierr, oerr  error
		torn        *TornTail
		after       map[string][]byte
	)
	err := damagetest.Guard(10*time.Second, func() {
		replay = collect(func(y func(Record[kv], error) bool) { records(m, j.path, 1, 0, nil, y) })
		info, ierr = inspectFS(m, j.path, nil)
		s, err := Open[kv](j.path, quietOptions(Options{}, m))
		oerr = err
		if err == nil {
			all = collect(s.All(1))
			torn = s.TornTail()
		}
		after = snapshotMem(t, m)
		if err == nil {
			s.Close()
		}
	})
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s in %s: %s", v.Name, filepath.Base(files[fi].name), fmt.Sprintf(format, args...))
	}
	if err != nil {
		fail("%v", err)
		return "panic or hang"
	}
	if ierr != nil {
		fail("Inspect: %v", ierr)
	}
	if oerr != nil {
		all.err = oerr
	}
	proven := j.proven(files)
	for what, r := range map[string]readResult{"Replay": replay, "Open+All": all} {
		if r.err != nil {
			var je *JournalError
			if !errors.As(r.err, &je) || !(errors.Is(r.err, ErrCorrupt) || errors.Is(r.err, ErrVersion)) {
				fail("%s: error %v is not a *JournalError matching ErrCorrupt or ErrVersion", what, r.err)
			}
			continue
		}
		if uint64(len(r.vals)) < proven {
			fail("%s: %d records without an error, but %d are proven durable", what, len(r.vals), proven)
		}
		for i, got := range r.vals {
			if i >= len(j.recs) || got != j.recs[i].v {
				fail("%s: record %d has value %d", what, i+1, got)
				break
			}
		}
	}
	if (replay.err == nil) != (all.err == nil) || (replay.err == nil && len(replay.vals) != len(all.vals)) {
		fail("readers disagree: Replay %d records, %v; Open+All %d records, %v",
			len(replay.vals), replay.err, len(all.vals), all.err)
	}
	problem := info != nil && info.Problem != nil && !errors.Is(info.Problem, ErrTornTail)
	if problem != (replay.err != nil) {
		fail("Inspect's problem %v, Replay's error %v", info.Problem, replay.err)
	}
	j.checkFiles(fail, files, after, oerr == nil && all.err == nil, torn)
	switch {
	case errors.Is(all.err, ErrVersion) || errors.Is(replay.err, ErrVersion):
		return classVersion
	case all.err != nil || replay.err != nil:
		if j.reasons != nil {
			j.reasons.Add(reasonOf(cmp.Or(all.err, replay.err)), v)
		}
		return damagetest.TypedError
	case torn != nil:
		return damagetest.TornTail
	case len(all.vals) == len(j.recs):
		return damagetest.Intact
	}
	return classShorter
}

// checkFiles checks what Open left: nothing changed if it failed; else
// every file as it was but the active one, which Open may cut only with a
// .broken copy of the bytes it cut (or move aside whole).
func (j *sweepJournal) checkFiles(fail func(string, ...any), files []sweepFile, after map[string][]byte, opened bool, torn *TornTail) {
	want := map[string][]byte{}
	for _, f := range files {
		want[f.name] = f.data
	}
	if opened && torn != nil {
		cut := want[torn.Path]
		saved, ok := after[torn.Saved]
		switch {
		case torn.Saved == "" || !ok:
			fail("Open cut %s at %d without a .broken copy", torn.Path, torn.Offset)
		case torn.Offset == 0: // moved aside whole
			if !bytes.Equal(saved, cut) {
				fail("the file set aside holds %q, was %q", saved, cut)
			}
			want[torn.Path] = after[torn.Path] // a new active file
		case !bytes.Equal(saved, bytes.TrimRight(cut[torn.Offset:], "\x00")):
			fail("the .broken copy holds %q, Open cut %q", saved, cut[torn.Offset:])
		default:
			want[torn.Path] = cut[:torn.Offset]
		}
		want[torn.Saved] = saved
	}
	for name, b := range after {
		if w, ok := want[name]; opened && ok && len(w) == 0 {
			continue // an empty active file: Open writes a header in it
		}
		if w, ok := want[name]; !ok || !bytes.Equal(w, b) {
			fail("Open (opened %v) left %s with %d bytes (%q), want %d", opened, name, len(b), b, len(w))
		}
	}
	for name := range want {
		if _, ok := after[name]; !ok {
			fail("Open removed %s", name)
		}
	}
}

// snapshotMem returns the journal files in /d (not the lock file).
func snapshotMem(t testing.TB, m *vfs.Mem) map[string][]byte {
	names, err := m.ReadDir("/d")
	if err != nil {
		t.Error(err)
		return nil
	}
	out := map[string][]byte{}
	for _, n := range names {
		if filepath.Ext(n) == ".lock" {
			continue
		}
		out["/d/"+n] = readMemFile(t, m, "/d/"+n)
	}
	return out
}
