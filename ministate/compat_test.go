// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministate"
)

// The Rust crate's own tests (ministate/src/lib.rs, mod tests), rerun
// against this package.

func TestRustInitialStateIsDefault(t *testing.T) {
	m := mustOpen[Counter, Inc](t, t.TempDir(), "counter.wal.jsonl", nil)
	defer mustClose(t, m)
	if got := state(m); got != (Counter{}) || m.Sequence() != 0 {
		t.Fatalf("state %+v, sequence %d; want zero", got, m.Sequence())
	}
}

func TestRustApplyIncrementsSequenceAndUpdatesState(t *testing.T) {
	m := mustOpen[Counter, Inc](t, t.TempDir(), "counter.wal.jsonl", nil)
	defer mustClose(t, m)
	for i, tc := range []struct {
		by, seq uint64
	}{{5, 1}, {10, 2}} {
		seq, err := m.Apply(Inc{By: uint32(tc.by)})
		if err != nil || seq != tc.seq || m.Sequence() != tc.seq {
			t.Fatalf("apply %d: seq %d, Sequence %d, err %v; want %d", i, seq, m.Sequence(), err, tc.seq)
		}
	}
	if got := state(m).Value; got != 15 {
		t.Fatalf("value %d, want 15", got)
	}
}

func TestRustRecoveryAfterRestart(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Counter, Inc](t, dir, "counter.wal.jsonl", nil)
	mustApply(t, m, Inc{100}, Inc{200})
	if got := state(m).Value; got != 300 {
		t.Fatalf("value %d, want 300", got)
	}
	mustClose(t, m)

	m = mustOpen[Counter, Inc](t, dir, "counter.wal.jsonl", nil)
	defer mustClose(t, m)
	if got := state(m).Value; got != 300 || m.Sequence() != 2 {
		t.Fatalf("after restart: value %d, sequence %d; want 300, 2", got, m.Sequence())
	}
}

func TestRustConcurrentReadsAreAllowed(t *testing.T) {
	m := mustOpen[Counter, Inc](t, t.TempDir(), "counter.wal.jsonl", nil)
	defer mustClose(t, m)
	mustApply(t, m, Inc{42})
	var wg sync.WaitGroup
	got := make([]uint32, 5)
	for i := range got {
		wg.Go(func() {
			m.View(func(s *Counter) { got[i] = s.Value })
		})
	}
	wg.Wait()
	for i, v := range got {
		if v != 42 {
			t.Fatalf("reader %d saw %d, want 42", i, v)
		}
	}
}

func TestRustWritesAreSerialized(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Counter, Inc](t, dir, "counter.wal.jsonl", nil)
	var wg sync.WaitGroup
	seqs := make([]uint64, 10)
	for i := range seqs {
		wg.Go(func() {
			seq, err := m.Apply(Inc{By: 1})
			if err != nil {
				t.Error(err)
			}
			seqs[i] = seq
		})
	}
	wg.Wait()
	if got := state(m).Value; got != 10 || m.Sequence() != 10 {
		t.Fatalf("value %d, sequence %d; want 10, 10", got, m.Sequence())
	}
	seen := map[uint64]bool{}
	for _, s := range seqs {
		if s < 1 || s > 10 || seen[s] {
			t.Fatalf("sequence numbers %v are not 1..10 once each", seqs)
		}
		seen[s] = true
	}
	mustClose(t, m)
	m = mustOpen[Counter, Inc](t, dir, "counter.wal.jsonl", nil)
	defer mustClose(t, m)
	if got := state(m).Value; got != 10 || m.Sequence() != 10 {
		t.Fatalf("after restart: value %d, sequence %d", got, m.Sequence())
	}
}

func TestRustJournalPathAndStateDir(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Counter, Inc](t, dir, "my.wal.jsonl", nil)
	defer mustClose(t, m)
	if m.JournalPath() != filepath.Join(dir, "my.wal.jsonl") || m.Dir() != dir {
		t.Fatalf("JournalPath %q, StateDir %q", m.JournalPath(), m.Dir())
	}
}

func TestRustCreateSnapshot(t *testing.T) {
	m := mustOpen[Config, UpdateVersion](t, t.TempDir(), "config.wal.jsonl", nil)
	defer mustClose(t, m)
	mustApply(t, m, UpdateVersion{42}, UpdateVersion{84})
	seq, err := m.CreateSnapshot()
	if err != nil || seq != 2 {
		t.Fatalf("CreateSnapshot = %d, %v; want 2", seq, err)
	}
	// The Rust test reads the snapshot back with the snapshot store
	// (read-only: the Manager holds the folder).
	snaps, err := minisnap.Open(m.Dir(), &minisnap.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var restored Config
	rseq, err := snaps.Restore(&restored)
	if err != nil || restored.Version != 84 || rseq != 2 {
		t.Fatalf("Restore = %+v, %d, %v; want version 84 at 2", restored, rseq, err)
	}
	infos, err := snaps.List()
	if err != nil || len(infos) != 1 {
		t.Fatalf("List = %v, %v", infos, err)
	}
	if _, err := os.Stat(infos[0].Path); err != nil || filepath.Base(infos[0].Path) != "snapshot.json" {
		t.Fatalf("snapshot file %s: %v", infos[0].Path, err)
	}
}

func TestRustRecoveryFromSnapshotAndWALTail(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Config, UpdateVersion](t, dir, "test.wal.jsonl", nil)
	mustApply(t, m, UpdateVersion{10}, UpdateVersion{20})
	if _, err := m.CreateSnapshot(); err != nil {
		t.Fatal(err)
	}
	mustApply(t, m, UpdateVersion{30}) // after the snapshot
	mustClose(t, m)

	m = mustOpen[Config, UpdateVersion](t, dir, "test.wal.jsonl", nil)
	defer mustClose(t, m)
	if got := state(m); got.Version != 30 || m.Sequence() != 3 {
		t.Fatalf("state %+v, sequence %d; want version 30, 3", got, m.Sequence())
	}
	if seq, ok := m.SnapshotSeq(); !ok || seq != 2 {
		t.Fatalf("SnapshotSeq = %d, %v; want 2", seq, ok)
	}
}

// rustReplay does what the Rust crate's open_with_snapshot does with a
// folder: read DIR/snapshot.json and DIR/snapshot.seq if present, read the
// journal's lines (header first), skip as many records as the snapshot's
// sequence number and apply the rest. It returns the state and the number
// of records applied in all.
func rustReplay[S any, M ministate.Mutator[S]](t *testing.T, dir, journal string) (S, uint64) {
	t.Helper()
	var (
		s    S
		skip uint64
	)
	if raw, err := os.ReadFile(filepath.Join(dir, "snapshot.seq")); err == nil {
		if skip, err = strconv.ParseUint(string(raw), 10, 64); err != nil {
			t.Fatalf("rust: snapshot.seq: %v", err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "snapshot.json"))
		if err != nil || json.Unmarshal(raw, &s) != nil {
			t.Fatalf("rust: snapshot.json: %v", err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, journal))
	if err != nil {
		t.Fatalf("rust: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "// MINISTORE JOURNAL v") {
		t.Fatalf("rust: journal has no header: %q", raw)
	}
	var records []M
	for sc.Scan() {
		var mut M
		if err := json.Unmarshal(sc.Bytes(), &mut); err != nil {
			t.Fatalf("rust: record %q: %v", sc.Text(), err)
		}
		records = append(records, mut)
	}
	if skip > uint64(len(records)) {
		t.Fatalf("rust: SnapshotSeqTooHigh")
	}
	for _, mut := range records[skip:] {
		mut.Apply(&s)
	}
	return s, uint64(len(records))
}

func TestRustFixtureCounter(t *testing.T) {
	dir := copyFixture(t, "ministate-counter")
	m := mustOpen[Counter, Inc](t, dir, "counter.wal.jsonl", nil)
	if got := state(m); got.Value != 300 || m.Sequence() != 2 {
		t.Fatalf("fixture: value %d, sequence %d; want 300, 2", got.Value, m.Sequence())
	}
	// Continue it.
	if seq, err := m.Apply(Inc{By: 50}); err != nil || seq != 3 {
		t.Fatalf("Apply = %d, %v; want 3", seq, err)
	}
	mustClose(t, m)

	raw, _ := os.ReadFile(filepath.Join(dir, "counter.wal.jsonl"))
	want := "// MINISTORE JOURNAL v0.1.4\n{\"by\":100}\n{\"by\":200}\n{\"by\":50}\n"
	if string(raw) != want {
		t.Fatalf("journal is\n%s\nwant the Rust format\n%s", raw, want)
	}
	if s, n := rustReplay[Counter, Inc](t, dir, "counter.wal.jsonl"); s.Value != 350 || n != 3 {
		t.Fatalf("the Rust crate would recover %+v at %d", s, n)
	}
	m = mustOpen[Counter, Inc](t, dir, "counter.wal.jsonl", nil)
	defer mustClose(t, m)
	if got := state(m); got.Value != 350 || m.Sequence() != 3 {
		t.Fatalf("reopened: value %d, sequence %d; want 350, 3", got.Value, m.Sequence())
	}
}

func TestRustFixtureSnapshot(t *testing.T) {
	dir := copyFixture(t, "ministate-snapshot")
	m := mustOpen[Config, UpdateVersion](t, dir, "test.wal.jsonl", nil)
	if got := state(m); got != (Config{Version: 30}) || m.Sequence() != 3 {
		t.Fatalf("fixture: %+v at %d; want version 30 at 3", got, m.Sequence())
	}
	if seq, ok := m.SnapshotSeq(); !ok || seq != 2 {
		t.Fatalf("SnapshotSeq = %d, %v; want the Rust snapshot at 2", seq, ok)
	}
	if seq, err := m.Apply(UpdateVersion{To: 40}); err != nil || seq != 4 {
		t.Fatalf("Apply = %d, %v; want 4", seq, err)
	}
	// The Rust crate can still recover the folder: its snapshot at 2
	// plus the journal from record 3.
	if s, n := rustReplay[Config, UpdateVersion](t, dir, "test.wal.jsonl"); s.Version != 40 || n != 4 {
		t.Fatalf("the Rust crate would recover %+v from %d records", s, n)
	}
	// A Go snapshot supersedes the Rust one for Go, and leaves the Rust
	// one (and the journal) as they were for Rust.
	if seq, err := m.CreateSnapshot(); err != nil || seq != 4 {
		t.Fatalf("CreateSnapshot = %d, %v", seq, err)
	}
	mustApply(t, m, UpdateVersion{To: 50})
	mustClose(t, m)
	if s, _ := rustReplay[Config, UpdateVersion](t, dir, "test.wal.jsonl"); s.Version != 50 {
		t.Fatalf("the Rust crate would recover %+v", s)
	}
	m = mustOpen[Config, UpdateVersion](t, dir, "test.wal.jsonl", nil)
	defer mustClose(t, m)
	if got := state(m); got.Version != 50 || m.Sequence() != 5 {
		t.Fatalf("reopened: %+v at %d; want version 50 at 5", got, m.Sequence())
	}
	if seq, _ := m.SnapshotSeq(); seq != 4 {
		t.Fatalf("recovered from snapshot %d, want the Go one at 4", seq)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "test.wal.jsonl"))
	if !strings.HasPrefix(string(raw), "// MINISTORE JOURNAL v0.1.4\n{\"to\":10}\n") || !strings.HasSuffix(string(raw), "{\"to\":40}\n{\"to\":50}\n") {
		t.Fatalf("journal left the Rust format:\n%s", raw)
	}
}

// SetValue and AddDelta are the variants of the Rust enum in the
// journal-plain fixture, {"Set":{"value":100}} and {"Inc":{"delta":25}},
// registered under the variants' names.
type SetValue struct {
	Value int `json:"value"`
}

func (s SetValue) Apply(c *int) { *c = s.Value }

type AddDelta struct {
	Delta int `json:"delta"`
}

func (a AddDelta) Apply(c *int) { *c += a.Delta }

func TestRustEnumJournalWithRegistry(t *testing.T) {
	dir := copyFixture(t, "journal-plain")
	reg := ministate.NewRegistry[int]()
	ministate.Register[SetValue](reg, "Set")
	ministate.Register[AddDelta](reg, "Inc")
	opts := &ministate.Options{Registry: reg, Logger: testutil.Quiet()}
	m := mustOpen[int, ministate.Mutator[int]](t, dir, "counter.log", opts)
	if got := state(m); got != 125 || m.Sequence() != 2 {
		t.Fatalf("fixture: %d at %d; want 125 at 2", got, m.Sequence())
	}
	mustApply(t, m, ministate.Mutator[int](AddDelta{Delta: 5}))
	mustClose(t, m)
	raw, _ := os.ReadFile(filepath.Join(dir, "counter.log"))
	if !strings.HasSuffix(string(raw), "{\"Inc\":{\"delta\":25}}\n{\"Inc\":{\"delta\":5}}\n") {
		t.Fatalf("journal does not continue in serde's enum form:\n%s", raw)
	}
}
