// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	other := ministate.NewRegistry[Counter]()
	ministate.Register[Inc](other, "Inc")
	pushOnly := ministate.NewRegistry[Tape]()
	ministate.Register[Push](pushOnly, "Push")
	for _, tc := range []struct {
		name string
		open func() error
		want string
	}{
		{"empty folder", func() error { _, err := ministate.Open[Tape, Push]("", "j", nil); return err }, "empty directory"},
		{"empty journal", func() error { _, err := ministate.Open[Tape, Push](dir, "", nil); return err }, "empty directory or journal"},
		{"negative option", func() error {
			_, err := ministate.Open[Tape, Push](dir, "j", &ministate.Options{SnapshotBytes: -1})
			return err
		}, "negative"},
		{"interface without registry", func() error {
			_, err := ministate.Open[Tape, ministate.Mutator[Tape]](dir, "j", nil)
			return err
		}, "set Options.Registry"},
		{"registry for another state", func() error {
			_, err := ministate.Open[Tape, ministate.Mutator[Tape]](dir, "j", &ministate.Options{Registry: other})
			return err
		}, "Registry is for state"},
		{"kind not assignable to M", func() error {
			_, err := ministate.Open[Tape, PushNew](dir, "j", &ministate.Options{Registry: pushOnly})
			return err
		}, "not assignable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.open(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Tape, Push](t, dir, "tape.log", nil)
	defer mustClose(t, m)
	if _, err := ministate.Open[Tape, Push](dir, "tape.log", nil); !errors.Is(err, ministore.ErrLocked) {
		t.Fatalf("second Open = %v, want ministore.ErrLocked", err)
	}
}

func TestOptionsNotModified(t *testing.T) {
	opts := &ministate.Options{SnapshotEvery: 3}
	before := *opts
	m := mustOpen[Tape, Push](t, t.TempDir(), "tape.log", opts)
	mustApply(t, m, Push{1}, Push{2}, Push{3})
	mustClose(t, m)
	if !reflect.DeepEqual(*opts, before) {
		t.Fatalf("Open changed the options: %+v, was %+v", *opts, before)
	}
}

func TestApplyAndView(t *testing.T) {
	m := mustOpen[Tape, Push](t, t.TempDir(), "tape.log", nil)
	defer mustClose(t, m)
	for i, want := range []uint64{1, 2, 3} {
		seq, err := m.Apply(Push{i * 10})
		if err != nil || seq != want {
			t.Fatalf("Apply = %d, %v; want %d", seq, err, want)
		}
		m.View(func(s *Tape) {
			if len(s.Items) != i+1 || s.Items[i] != i*10 {
				t.Fatalf("View after Apply %d sees %v", i, s.Items)
			}
		})
	}
	seq, err := m.ApplyBatch(Push{100}, Push{200})
	if err != nil || seq != 4 || m.Sequence() != 4 {
		t.Fatalf("ApplyBatch = %d, %v, Sequence %d; want one record, 4", seq, err, m.Sequence())
	}
	if _, err := m.ApplyBatch(); !errors.Is(err, ministate.ErrEmptyBatch) {
		t.Fatalf("empty ApplyBatch = %v", err)
	}
	if got := state(m); !got.equal(tapeOf(0, 10, 20, 100, 200)) {
		t.Fatalf("state %v", got.Items)
	}
}

// A refused mutation leaves no trace: not in the journal, not in the
// state, not in the sequence number.
func TestRefusedLeavesNoTrace(t *testing.T) {
	dir := t.TempDir()
	opts := &ministate.Options{Registry: tapeRegistry(), Logger: testutil.Quiet()}
	m := mustOpen[Tape, ministate.Mutator[Tape]](t, dir, "tape.log", opts)
	mustApply(t, m, ministate.Mutator[Tape](PushNew{1}), ministate.Mutator[Tape](PushNew{2}))
	journal := func() []byte {
		b, err := os.ReadFile(m.JournalPath())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	before := journal()
	for _, tc := range []struct {
		name  string
		batch []ministate.Mutator[Tape]
	}{
		{"single", []ministate.Mutator[Tape]{PushNew{1}}},
		{"first of batch", []ministate.Mutator[Tape]{PushNew{2}, Push{7}}},
		{"later in batch, against the batch's own effect", []ministate.Mutator[Tape]{PushNew{3}, Push{4}, PushNew{4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq, err := m.ApplyBatch(tc.batch...)
			if !errors.Is(err, ministate.ErrRefused) || seq != 0 {
				t.Fatalf("ApplyBatch = %d, %v; want ErrRefused", seq, err)
			}
			if !bytes.Equal(journal(), before) || m.Sequence() != 2 || !state(m).equal(tapeOf(1, 2)) {
				t.Fatalf("refused mutation left a trace: seq %d, state %v, journal\n%s", m.Sequence(), state(m).Items, journal())
			}
		})
	}
	// A batch whose validators pass on the scratch copy is applied.
	if seq, err := m.ApplyBatch(PushNew{3}, Push{4}, PushNew{5}); err != nil || seq != 3 {
		t.Fatalf("valid batch = %d, %v", seq, err)
	}
	mustClose(t, m)
	m = mustOpen[Tape, ministate.Mutator[Tape]](t, dir, "tape.log", opts)
	defer mustClose(t, m)
	if got := state(m); !got.equal(tapeOf(1, 2, 3, 4, 5)) || m.Sequence() != 3 {
		t.Fatalf("reopened: %v at %d", got.Items, m.Sequence())
	}
}

// ClonedTape counts its Clone calls.
type ClonedTape struct {
	Items  []int `json:"items"`
	clones *int
}

func (c *ClonedTape) Clone() ClonedTape {
	if c.clones != nil {
		*c.clones++
	}
	return ClonedTape{Items: slices.Clone(c.Items), clones: c.clones}
}

type PushC struct{ V int }

func (p PushC) Apply(s *ClonedTape) {
	s.Items = append(s.Items, p.V)
	if s.clones == nil {
		s.clones = new(int)
	}
}

func TestCopyIsDeep(t *testing.T) {
	t.Run("JSON round trip", func(t *testing.T) {
		m := mustOpen[Tape, Push](t, t.TempDir(), "tape.log", nil)
		defer mustClose(t, m)
		mustApply(t, m, Push{1}, Push{2})
		c, err := m.Copy()
		if err != nil {
			t.Fatal(err)
		}
		c.Items[0] = 99
		c.Count["x"] = 5
		if got := state(m); !got.equal(tapeOf(1, 2)) {
			t.Fatalf("changing the copy changed the state: %+v", got)
		}
	})
	t.Run("Cloner", func(t *testing.T) {
		m := mustOpen[ClonedTape, PushC](t, t.TempDir(), "tape.log", nil)
		defer mustClose(t, m)
		mustApply(t, m, PushC{1}, PushC{2})
		c, err := m.Copy()
		if err != nil || c.clones == nil || *c.clones != 1 {
			t.Fatalf("Copy did not use Clone: %+v, %v", c, err)
		}
		c.Items[0] = 99
		m.View(func(s *ClonedTape) {
			if s.Items[0] != 1 {
				t.Fatalf("changing the copy changed the state: %v", s.Items)
			}
		})
		// A snapshot captures through Clone too.
		if _, err := m.CreateSnapshot(); err != nil || *c.clones != 2 {
			t.Fatalf("CreateSnapshot: %v, clones %d", err, *c.clones)
		}
	})
}

func TestClosed(t *testing.T) {
	m := mustOpen[Tape, Push](t, t.TempDir(), "tape.log", nil)
	mustApply(t, m, Push{1})
	mustClose(t, m)
	for name, f := range map[string]func() error{
		"Apply":          func() error { _, err := m.Apply(Push{2}); return err },
		"ApplyBatch":     func() error { _, err := m.ApplyBatch(Push{2}); return err },
		"CreateSnapshot": func() error { _, err := m.CreateSnapshot(); return err },
		"Compact":        func() error { _, err := m.Compact(); return err },
	} {
		if err := f(); !errors.Is(err, ministate.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if got := state(m); !got.equal(tapeOf(1)) || m.Sequence() != 1 {
		t.Errorf("reads after Close: %v at %d", got.Items, m.Sequence())
	}
}

// journalLines returns the records of a journal as raw JSON, with their
// sequence numbers.
func journalLines(t *testing.T, path string) (seqs []uint64, recs []string) {
	t.Helper()
	for r, err := range ministore.Records[json.RawMessage](path, 0) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, r.Seq)
		recs = append(recs, string(r.Value))
	}
	return seqs, recs
}

// Pair is a mutation whose JSON is an array.
type Pair [2]int

func (p Pair) Apply(s *Tape) { Push{p[0]}.Apply(s); Push{p[1]}.Apply(s) }

func TestRecordFormat(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Tape, Push](t, dir, "tape.log", nil)
	mustApply(t, m, Push{1})
	if _, err := m.ApplyBatch(Push{2}, Push{3}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ApplyBatch(Push{4}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, m)
	_, recs := journalLines(t, filepath.Join(dir, "tape.log"))
	want := []string{`{"v":1}`, `[{"v":2},{"v":3}]`, `{"v":4}`}
	if !slices.Equal(recs, want) {
		t.Fatalf("records %q, want %q", recs, want)
	}

	// A mutation that encodes as an array is stored as a batch of one.
	// (One Manager per folder: snapshots belong to the folder.)
	dir = t.TempDir()
	pm := mustOpen[Tape, Pair](t, dir, "pairs.log", nil)
	mustApply(t, pm, Pair{5, 6})
	mustClose(t, pm)
	if _, recs := journalLines(t, filepath.Join(dir, "pairs.log")); !slices.Equal(recs, []string{`[[5,6]]`}) {
		t.Fatalf("array mutation stored as %q", recs)
	}
	pm = mustOpen[Tape, Pair](t, dir, "pairs.log", nil)
	defer mustClose(t, pm)
	if got := state(pm); !got.equal(tapeOf(5, 6)) || pm.Sequence() != 1 {
		t.Fatalf("array mutation recovered as %v at %d", got.Items, pm.Sequence())
	}

	// With a registry: serde's enum form.
	dir = t.TempDir()
	rm := mustOpen[Tape, ministate.Mutator[Tape]](t, dir, "kinds.log", &ministate.Options{Registry: tapeRegistry(), Logger: testutil.Quiet()})
	mustApply(t, rm, ministate.Mutator[Tape](Push{7}))
	if _, err := rm.ApplyBatch(PushNew{8}, Push{9}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, rm)
	want = []string{`{"Push":{"v":7}}`, `[{"PushNew":{"v":8}},{"Push":{"v":9}}]`}
	if _, recs := journalLines(t, filepath.Join(dir, "kinds.log")); !slices.Equal(recs, want) {
		t.Fatalf("registry records %q, want %q", recs, want)
	}
}

func TestGapErrors(t *testing.T) {
	// setup writes records 1..5 with a snapshot at 2, then lets edit
	// damage the folder.
	setup := func(t *testing.T, edit func(dir, journal string)) error {
		dir := t.TempDir()
		m := mustOpen[Tape, Push](t, dir, "tape.log", nil)
		mustApply(t, m, Push{1}, Push{2})
		if _, err := m.CreateSnapshot(); err != nil {
			t.Fatal(err)
		}
		mustApply(t, m, Push{3}, Push{4}, Push{5})
		mustClose(t, m)
		edit(dir, filepath.Join(dir, "tape.log"))
		m, err := ministate.Open[Tape, Push](dir, "tape.log", &ministate.Options{Logger: testutil.Quiet()})
		if err == nil {
			m.Close()
		}
		return err
	}
	withStore := func(t *testing.T, fn func(s *ministore.Store[json.RawMessage]) error) func(string, string) {
		return func(_, journal string) {
			s, err := ministore.Open[json.RawMessage](journal, &ministore.Options{Logger: testutil.Quiet(), Schema: ministore.AnySchema})
			if err != nil {
				t.Fatal(err)
			}
			if err := fn(s); err != nil {
				t.Fatal(err)
			}
			mustClose(t, s)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(t *testing.T) func(dir, journal string)
		want ministate.GapError
	}{
		{"journal starts after the snapshot's next record", func(t *testing.T) func(string, string) {
			return withStore(t, func(s *ministore.Store[json.RawMessage]) error { return s.TruncateFront(4) })
		}, ministate.GapError{SnapshotSeq: 2, FirstSeq: 4, LastSeq: 5}},
		{"journal ends before the snapshot", func(t *testing.T) func(string, string) {
			return withStore(t, func(s *ministore.Store[json.RawMessage]) error { return s.TruncateBack(1) })
		}, ministate.GapError{SnapshotSeq: 2, FirstSeq: 1, LastSeq: 1}},
		{"journal missing", func(t *testing.T) func(string, string) {
			return func(_, journal string) { os.Remove(journal) }
		}, ministate.GapError{SnapshotSeq: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := setup(t, tc.edit(t))
			var ge *ministate.GapError
			if !errors.As(err, &ge) || !errors.Is(err, ministate.ErrGap) {
				t.Fatalf("Open = %v, want a *GapError", err)
			}
			tc.want.Journal = ge.Journal
			if *ge != tc.want {
				t.Fatalf("GapError %+v, want %+v", *ge, tc.want)
			}
			t.Log(err)
		})
	}
	// The edge that is not a gap: the journal starts right after the
	// snapshot.
	if err := setup(t, withStore(t, func(s *ministore.Store[json.RawMessage]) error { return s.TruncateFront(3) })); err != nil {
		t.Fatalf("journal starting at snapshot+1: %v", err)
	}
}

// corruptNewestSnapshot flips a byte in the newest snapshot's state file.
func corruptNewestSnapshot(t *testing.T, dir string) {
	t.Helper()
	snaps, err := minisnap.Open(dir, &minisnap.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	infos, err := snaps.List()
	if err != nil || len(infos) == 0 {
		t.Fatalf("List = %v, %v", infos, err)
	}
	b, err := os.ReadFile(infos[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(infos[0].Path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedSnapshot(t *testing.T) {
	var logged bytes.Buffer
	opts := &ministate.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	t.Run("falls back while the journal covers the older snapshot", func(t *testing.T) {
		dir := t.TempDir()
		m := mustOpen[Tape, Push](t, dir, "tape.log", opts)
		mustApply(t, m, Push{1}, Push{2})
		m.CreateSnapshot()
		mustApply(t, m, Push{3})
		m.CreateSnapshot()
		mustApply(t, m, Push{4})
		mustClose(t, m)
		corruptNewestSnapshot(t, dir)
		m = mustOpen[Tape, Push](t, dir, "tape.log", opts)
		defer mustClose(t, m)
		if seq, _ := m.SnapshotSeq(); !state(m).equal(tapeOf(1, 2, 3, 4)) || seq != 2 {
			t.Fatalf("recovered %v from snapshot %d", state(m).Items, seq)
		}
		if !strings.Contains(logged.String(), "passed over a damaged snapshot") {
			t.Fatalf("no warning logged: %s", logged.String())
		}
	})
	t.Run("gap when the journal was compacted behind it", func(t *testing.T) {
		dir := t.TempDir()
		m := mustOpen[Tape, Push](t, dir, "tape.log", opts)
		mustApply(t, m, Push{1}, Push{2})
		m.CreateSnapshot()
		mustApply(t, m, Push{3}, Push{4})
		m.Compact()
		mustApply(t, m, Push{5})
		mustClose(t, m)
		corruptNewestSnapshot(t, dir)
		if _, err := ministate.Open[Tape, Push](dir, "tape.log", opts); !errors.Is(err, ministate.ErrGap) {
			t.Fatalf("Open = %v, want ErrGap", err)
		}
	})
	t.Run("every snapshot damaged, journal whole: full replay", func(t *testing.T) {
		dir := t.TempDir()
		m := mustOpen[Tape, Push](t, dir, "tape.log", opts)
		mustApply(t, m, Push{1}, Push{2})
		m.CreateSnapshot()
		mustApply(t, m, Push{3})
		mustClose(t, m)
		corruptNewestSnapshot(t, dir)
		m = mustOpen[Tape, Push](t, dir, "tape.log", opts)
		defer mustClose(t, m)
		if _, ok := m.SnapshotSeq(); !state(m).equal(tapeOf(1, 2, 3)) || ok {
			t.Fatalf("recovered %v (snapshot used: %v)", state(m).Items, ok)
		}
	})
}

// Boom panics in Apply when its flag is set.
type Boom struct {
	V     int  `json:"v"`
	Panic bool `json:"panic"`
}

func (b Boom) Apply(s *Tape) {
	if b.Panic {
		panic("boom")
	}
	Push{b.V}.Apply(s)
}

func TestPanickingApply(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Tape, Boom](t, dir, "tape.log", nil)
	mustApply(t, m, Boom{V: 1})
	if _, err := m.Apply(Boom{V: 2, Panic: true}); !errors.Is(err, ministate.ErrFailed) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panicking Apply = %v, want ErrFailed naming the panic", err)
	}
	if _, err := m.Apply(Boom{V: 3}); !errors.Is(err, ministate.ErrFailed) {
		t.Fatalf("Apply after the panic = %v, want ErrFailed", err)
	}
	mustClose(t, m)
	_, err := ministate.Open[Tape, Boom](dir, "tape.log", &ministate.Options{Logger: testutil.Quiet()})
	var re *ministate.RecordError
	if !errors.As(err, &re) || re.Seq != 2 || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("reopen = %v, want a RecordError for record 2", err)
	}
}

func TestUndecodableRecord(t *testing.T) {
	for _, tc := range []struct {
		name, record string
	}{
		{"unknown kind", `{"Pop":{}}`},
		{"wrong shape", `{"Push":"x"}`},
		{"empty batch", `[]`},
		{"null", `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := ministore.Open[json.RawMessage](filepath.Join(dir, "tape.log"), &ministore.Options{Logger: testutil.Quiet(), Schema: ministore.AnySchema})
			if err != nil {
				t.Fatal(err)
			}
			s.Append(json.RawMessage(`{"Push":{"v":1}}`))
			s.Append(json.RawMessage(tc.record))
			mustClose(t, s)
			_, err = ministate.Open[Tape, ministate.Mutator[Tape]](dir, "tape.log", &ministate.Options{Registry: tapeRegistry(), Logger: testutil.Quiet()})
			var re *ministate.RecordError
			if !errors.As(err, &re) || re.Seq != 2 {
				t.Fatalf("Open = %v, want a RecordError at record 2", err)
			}
			if tc.name == "unknown kind" && !errors.Is(err, ministate.ErrUnknownKind) {
				t.Fatalf("Open = %v, want ErrUnknownKind", err)
			}
		})
	}
}

// A journal whose numbering does not continue the state (emptied by hand
// past its end) makes the first Apply fail instead of hanging.
func TestMisalignedJournal(t *testing.T) {
	mem := vfs.NewMem()
	path := "/d/tape.log"
	s, err := ministore.Open[json.RawMessage](path, &ministore.Options{FS: mem, Logger: testutil.Quiet(), Schema: ministore.AnySchema})
	if err != nil {
		t.Fatal(err)
	}
	s.Append(json.RawMessage(`{"v":1}`))
	if err := s.TruncateFront(10); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	m := mustOpen[Tape, Push](t, "/d", "tape.log", memOptions(mem, ministate.Options{}))
	defer m.Close()
	if _, err := m.Apply(Push{2}); !errors.Is(err, ministate.ErrFailed) || !strings.Contains(err.Error(), "sequence number 10") {
		t.Fatalf("Apply = %v, want ErrFailed about sequence number 10", err)
	}
}

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Tape, Push](t, dir, "tape.log", nil)
	for i := range 6 {
		mustApply(t, m, Push{i})
	}
	seq, err := m.Compact()
	if err != nil || seq != 6 {
		t.Fatalf("Compact = %d, %v", seq, err)
	}
	// The journal keeps its newest record, so it never becomes empty.
	if seqs, _ := journalLines(t, m.JournalPath()); !slices.Equal(seqs, []uint64{6}) {
		t.Fatalf("journal after Compact holds %v, want [6]", seqs)
	}
	// Nothing new: Compact reuses the snapshot.
	if seq, err := m.Compact(); err != nil || seq != 6 {
		t.Fatalf("second Compact = %d, %v", seq, err)
	}
	mustApply(t, m, Push{6}, Push{7})
	if _, err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	if seqs, _ := journalLines(t, m.JournalPath()); !slices.Equal(seqs, []uint64{8}) {
		t.Fatalf("journal after the second Compact holds %v, want [8]", seqs)
	}
	mustApply(t, m, Push{8})
	mustClose(t, m)
	snaps, _ := minisnap.Open(dir, &minisnap.Options{ReadOnly: true})
	if infos, _ := snaps.List(); len(infos) != 2 || infos[0].Seq != 8 || infos[1].Seq != 6 {
		t.Fatalf("snapshots %+v, want 8 and 6 (Keep 2)", infos)
	}
	m = mustOpen[Tape, Push](t, dir, "tape.log", nil)
	defer mustClose(t, m)
	if got := state(m); !got.equal(tapeOf(0, 1, 2, 3, 4, 5, 6, 7, 8)) || m.Sequence() != 9 {
		t.Fatalf("reopened: %v at %d", got.Items, m.Sequence())
	}
}

func TestSnapshotPolicy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  ministate.Options
		snaps []uint64 // sequence numbers of the automatic snapshots
	}{
		{"every 4 records", ministate.Options{SnapshotEvery: 4}, []uint64{4, 8}},
		{"every 30 bytes", ministate.Options{SnapshotBytes: 30}, []uint64{5, 10}}, // {"v":N} is 7 bytes
		{"either threshold", ministate.Options{SnapshotEvery: 3, SnapshotBytes: 1 << 20}, []uint64{3, 6, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := tc.opts
			o.Logger, o.KeepSnapshots = testutil.Quiet(), -1
			m := mustOpen[Tape, Push](t, dir, "tape.log", &o)
			var vs []int
			for i := range 10 {
				mustApply(t, m, Push{i})
				vs = append(vs, i)
			}
			last := tc.snaps[len(tc.snaps)-1]
			if seq, ok := m.SnapshotSeq(); !ok || seq != last {
				t.Fatalf("SnapshotSeq = %d, %v; want %d", seq, ok, last)
			}
			// Compacted behind the newest snapshot.
			if seqs, _ := journalLines(t, m.JournalPath()); seqs[0] != last {
				t.Fatalf("journal starts at %d, want %d", seqs[0], last)
			}
			mustClose(t, m)
			snaps, _ := minisnap.Open(dir, &minisnap.Options{ReadOnly: true})
			infos, _ := snaps.List()
			var got []uint64
			for _, in := range infos {
				got = append([]uint64{in.Seq}, got...)
			}
			if !slices.Equal(got, tc.snaps) {
				t.Fatalf("snapshots at %v, want %v", got, tc.snaps)
			}
			m = mustOpen[Tape, Push](t, dir, "tape.log", &o)
			defer mustClose(t, m)
			if !state(m).equal(tapeOf(vs...)) || m.Sequence() != 10 {
				t.Fatalf("reopened: %v at %d", state(m).Items, m.Sequence())
			}
		})
	}
}

// A failing automatic snapshot is logged, does not fail the Apply, and
// starts the threshold over.
func TestSnapshotPolicyFailure(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	ff.FailWhen(func(op vfs.Op) error {
		if strings.Contains(op.Path, ".tmp-snap") && op.Kind == vfs.OpMkdir {
			return fmt.Errorf("no snapshots today")
		}
		return nil
	})
	var logged bytes.Buffer
	m, err := ministate.Open[Tape, Push]("/d", "tape.log", &ministate.Options{SnapshotEvery: 2, FS: ff,
		Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer mustClose(t, m)
	for i := range 5 {
		mustApply(t, m, Push{i})
	}
	if n := strings.Count(logged.String(), "automatic snapshot failed"); n != 2 {
		t.Fatalf("%d failures logged, want 2 (at 2 and 4):\n%s", n, logged.String())
	}
	if _, ok := m.SnapshotSeq(); ok {
		t.Fatal("a snapshot is reported although none was written")
	}
}

func TestJournalInSubfolder(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Tape, Push](t, dir, filepath.Join("wal", "tape.log"), nil)
	mustApply(t, m, Push{1})
	if _, err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	mustApply(t, m, Push{2})
	mustClose(t, m)
	if _, err := os.Stat(filepath.Join(dir, "wal", "tape.log")); err != nil {
		t.Fatal(err)
	}
	m = mustOpen[Tape, Push](t, dir, filepath.Join("wal", "tape.log"), nil)
	defer mustClose(t, m)
	if !state(m).equal(tapeOf(1, 2)) || m.Sequence() != 2 {
		t.Fatalf("reopened: %v at %d", state(m).Items, m.Sequence())
	}
}

// PanicCheck's Validate panics.
type PanicCheck struct{}

func (PanicCheck) Apply(*Tape)          {}
func (PanicCheck) Validate(*Tape) error { panic("bad check") }

func TestPanickingValidate(t *testing.T) {
	m := mustOpen[Tape, PanicCheck](t, t.TempDir(), "tape.log", nil)
	defer mustClose(t, m)
	_, err := m.Apply(PanicCheck{})
	if err == nil || errors.Is(err, ministate.ErrRefused) || !strings.Contains(err.Error(), "bad check") {
		t.Fatalf("Apply with a panicking Validate = %v", err)
	}
	if m.Sequence() != 0 {
		t.Fatal("the mutation was logged")
	}
	// The Manager still works.
	if _, err := m.Apply(PanicCheck{}); err == nil {
		t.Fatal("second call succeeded")
	}
}
