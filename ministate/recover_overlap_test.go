// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// settledGoroutines waits (up to a few seconds) until the number of
// goroutines is at most want, and returns the last count seen: a failed
// Open must leave nothing running, the snapshot's decoding goroutine and
// the decoding pipeline included.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(3 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(5 * time.Millisecond)
	}
	return n
}

// overlapDir writes records 1..12 (Push{i}) with snapshots at 4 and 8
// and closes cleanly. It returns the directory.
func overlapDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	m := mustOpen[Tape, Push](t, dir, "tape.log", nil)
	for i := 1; i <= 12; i++ {
		mustApply(t, m, Push{i})
		if i == 4 || i == 8 {
			if _, err := m.CreateSnapshot(); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustClose(t, m)
	return dir
}

// flipIn flips a byte in the middle of the file name in dir's snapshot
// seq ("snapshot.json" or "meta.json").
func flipIn(t *testing.T, dir string, seq uint64, name string) {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("snap-%020d", seq), name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// damageRecord changes the value of record seq in the journal (its CRC
// no longer verifies).
func damageRecord(t *testing.T, dir string, seq int) {
	t.Helper()
	p := filepath.Join(dir, "tape.log")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf(`"rec":{"v":%d}`, seq)
	if bytes.Count(b, []byte(old)) != 1 {
		t.Fatalf("record %d not found once in %s", seq, p)
	}
	b = bytes.Replace(b, []byte(old), fmt.Appendf(nil, `"rec":{"v":%d}`, seq+100), 1)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func journalStore(t *testing.T, dir string, fn func(s *ministore.Store[json.RawMessage]) error) {
	t.Helper()
	s, err := ministore.Open[json.RawMessage](filepath.Join(dir, "tape.log"), &ministore.Options{Logger: testutil.Quiet(), Schema: ministore.AnySchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(s); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
}

func seqs(from, to int) []int {
	var vs []int
	for i := from; i <= to; i++ {
		vs = append(vs, i)
	}
	return vs
}

// TestRecoverOverlap attacks recovery's overlap of the snapshot's decoding
// with the journal's (recover.go): the records read after the newest
// snapshot listed must be thrown away and read again whenever another
// snapshot is restored, and every failure must be the typed error naming
// the damaged file, with no goroutine left behind.
func TestRecoverOverlap(t *testing.T) {
	all := tapeOf(seqs(1, 12)...)
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, dir string)
		fs      func() (vfs.FS, func()) // nil: the OS
		want    *Tape                   // the state, or nil for an error
		snap    uint64                  // the snapshot restored (0: none)
		wantErr func(err error) bool
		inErr   string // the error names this (a file)
	}{
		{name: "whole", damage: func(*testing.T, string) {}, want: &all, snap: 8},
		{name: "newest snapshot's state damaged", damage: func(t *testing.T, d string) { flipIn(t, d, 8, "snapshot.json") }, want: &all, snap: 4},
		{name: "newest snapshot's meta damaged", damage: func(t *testing.T, d string) { flipIn(t, d, 8, "meta.json") }, want: &all, snap: 4},
		{name: "every snapshot damaged, journal whole", damage: func(t *testing.T, d string) {
			flipIn(t, d, 8, "snapshot.json")
			flipIn(t, d, 4, "meta.json")
		}, want: &all, snap: 0},
		{name: "no snapshot dir entries", damage: func(t *testing.T, d string) {
			os.RemoveAll(filepath.Join(d, fmt.Sprintf("snap-%020d", 8)))
			os.RemoveAll(filepath.Join(d, fmt.Sprintf("snap-%020d", 4)))
		}, want: &all, snap: 0},
		{name: "every snapshot damaged, journal compacted", damage: func(t *testing.T, d string) {
			journalStore(t, d, func(s *ministore.Store[json.RawMessage]) error { return s.TruncateFront(5) })
			flipIn(t, d, 8, "snapshot.json")
			flipIn(t, d, 4, "snapshot.json")
		}, wantErr: func(err error) bool { return errors.Is(err, minisnap.ErrCorrupt) }, inErr: "snap-"},
		{name: "newest damaged, journal compacted past the older", damage: func(t *testing.T, d string) {
			journalStore(t, d, func(s *ministore.Store[json.RawMessage]) error { return s.TruncateFront(7) })
			flipIn(t, d, 8, "snapshot.json")
		}, wantErr: func(err error) bool {
			var ge *ministate.GapError
			return errors.As(err, &ge) && ge.SnapshotSeq == 4 && ge.FirstSeq == 7
		}, inErr: "tape.log"},
		{name: "compacted up to the newest snapshot", damage: compactTo(8), want: &all, snap: 8},
		{name: "compacted up to the newest snapshot, which is damaged", damage: func(t *testing.T, d string) {
			compactTo(8)(t, d)
			flipIn(t, d, 8, "snapshot.json")
		}, wantErr: func(err error) bool {
			var ge *ministate.GapError
			return errors.As(err, &ge) && ge.SnapshotSeq == 4 && ge.FirstSeq == 9
		}, inErr: "tape.log"},
		{name: "snapshot newer than the journal's end", damage: func(t *testing.T, d string) {
			journalStore(t, d, func(s *ministore.Store[json.RawMessage]) error { return s.TruncateBack(6) })
		}, wantErr: func(err error) bool {
			var ge *ministate.GapError
			return errors.As(err, &ge) && ge.SnapshotSeq == 8 && ge.LastSeq == 6
		}, inErr: "tape.log"},
		{name: "newest snapshot newer than the journal's end and damaged", damage: func(t *testing.T, d string) {
			journalStore(t, d, func(s *ministore.Store[json.RawMessage]) error { return s.TruncateBack(6) })
			flipIn(t, d, 8, "snapshot.json")
		}, want: ptr(tapeOf(seqs(1, 6)...)), snap: 4},
		{name: "record after the snapshot damaged", damage: func(t *testing.T, d string) { damageRecord(t, d, 10) },
			wantErr: isCorrupt, inErr: "tape.log"},
		{name: "last record damaged", damage: func(t *testing.T, d string) { damageRecord(t, d, 12) },
			wantErr: isCorrupt, inErr: "tape.log"},
		{name: "record between the snapshots damaged, newest damaged", damage: func(t *testing.T, d string) {
			damageRecord(t, d, 6)
			flipIn(t, d, 8, "snapshot.json")
		}, wantErr: isCorrupt, inErr: "tape.log"},
		{name: "record after the newest damaged, newest damaged too", damage: func(t *testing.T, d string) {
			damageRecord(t, d, 10)
			flipIn(t, d, 8, "snapshot.json")
		}, wantErr: isCorrupt, inErr: "tape.log"},
		{name: "record below the older damaged, every snapshot damaged", damage: func(t *testing.T, d string) {
			damageRecord(t, d, 2)
			flipIn(t, d, 8, "snapshot.json")
			flipIn(t, d, 4, "snapshot.json")
		}, wantErr: isCorrupt, inErr: "tape.log"},
		{name: "every listing fails", damage: func(*testing.T, string) {}, fs: func() (vfs.FS, func()) {
			f := vfs.NewFaulty(vfs.OS)
			var n atomic.Int32
			f.FailWhen(func(op vfs.Op) error {
				// The journal's and minisnap.Open's listings pass;
				// recovery's (List, and the restore's) fail.
				if op.Kind == vfs.OpReadDir && n.Add(1) >= 3 {
					return errors.New("injected")
				}
				return nil
			})
			return f, nil
		}, wantErr: func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "injected") && strings.Contains(err.Error(), "ministate: restore snapshot")
		}},
		{name: "reading the older snapshot fails, newest damaged", damage: func(t *testing.T, d string) { flipIn(t, d, 8, "snapshot.json") }, fs: func() (vfs.FS, func()) {
			f := vfs.NewFaulty(vfs.OS)
			f.FailWhen(func(op vfs.Op) error {
				if op.Kind == vfs.OpRead && strings.Contains(op.Path, fmt.Sprintf("snap-%020d", 4)) {
					return errors.New("injected")
				}
				return nil
			})
			return f, nil
		}, wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "injected") }},
		{name: "reading the journal fails", damage: func(*testing.T, string) {}, fs: func() (vfs.FS, func()) {
			f := vfs.NewFaulty(vfs.OS)
			var opened atomic.Bool
			f.FailWhen(func(op vfs.Op) error {
				// The store's Open reads the journal first; fail the
				// reads after the snapshots were opened.
				if op.Kind == vfs.OpOpen && strings.Contains(op.Path, "snap-") {
					opened.Store(true)
				}
				if op.Kind == vfs.OpRead && opened.Load() && strings.HasSuffix(op.Path, "tape.log") {
					return errors.New("injected")
				}
				return nil
			})
			return f, nil
		}, wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "injected") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := overlapDir(t)
			tc.damage(t, dir)
			before := runtime.NumGoroutine()
			o := &ministate.Options{Logger: testutil.Quiet()}
			if tc.fs != nil {
				o.FS, _ = tc.fs()
			}
			m, err := ministate.Open[Tape, Push](dir, "tape.log", o)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer mustClose(t, m)
				if got := state(m); !got.equal(*tc.want) {
					t.Fatalf("state %v, want %v", got.Items, tc.want.Items)
				}
				if seq, ok := m.SnapshotSeq(); ok != (tc.snap != 0) || ok && seq != tc.snap {
					t.Fatalf("snapshot %d (%v) restored, want %d", seq, ok, tc.snap)
				}
				if m.Sequence() != uint64(len(tc.want.Items)) {
					t.Fatalf("Sequence %d, want %d", m.Sequence(), len(tc.want.Items))
				}
				return
			}
			if err == nil {
				m.Close()
				t.Fatalf("Open succeeded with %v, want an error", state(m).Items)
			}
			if !tc.wantErr(err) || !strings.Contains(err.Error(), tc.inErr) {
				t.Fatalf("Open = %v (%T), not the error wanted (naming %q)", err, err, tc.inErr)
			}
			t.Log(err)
			if n := settledGoroutines(before); n > before {
				t.Fatalf("%d goroutines after the failed Open, %d before", n, before)
			}
			// Nothing holds the lock: the folder opens again (the
			// damage may make that fail, but not with ErrLocked).
			if m, err := ministate.Open[Tape, Push](dir, "tape.log", &ministate.Options{Logger: testutil.Quiet()}); errors.Is(err, ministore.ErrLocked) {
				t.Fatalf("reopen: %v", err)
			} else if err == nil {
				m.Close()
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// compactTo drops the journal's records up to seq, as Compact does after
// a snapshot at seq.
func compactTo(seq uint64) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		journalStore(t, dir, func(s *ministore.Store[json.RawMessage]) error { return s.TruncateFront(seq + 1) })
	}
}

// isCorrupt reports whether err is ministore's corruption error naming a
// journal file and an offset.
func isCorrupt(err error) bool {
	var je *ministore.JournalError
	return errors.As(err, &je) && errors.Is(err, ministore.ErrCorrupt) && strings.HasSuffix(je.Path, "tape.log") && je.Offset > 0
}

// TestOpenLockedLeavesNothing: an Open refused for the lock starts no
// recovery and leaves no goroutine.
func TestOpenLockedLeavesNothing(t *testing.T) {
	dir := overlapDir(t)
	m := mustOpen[Tape, Push](t, dir, "tape.log", nil)
	defer mustClose(t, m)
	before := runtime.NumGoroutine()
	for range 20 {
		if _, err := ministate.Open[Tape, Push](dir, "tape.log", &ministate.Options{Logger: testutil.Quiet()}); !errors.Is(err, ministore.ErrLocked) {
			t.Fatalf("second Open = %v, want ErrLocked", err)
		}
	}
	if n := settledGoroutines(before); n > before {
		t.Fatalf("%d goroutines after 20 refused Opens, %d before", n, before)
	}
}

// PanicTape is a Tape whose snapshot decoding panics when it holds 99.
type PanicTape struct{ Tape }

func (p *PanicTape) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &p.Tape); err != nil {
		return err
	}
	for _, v := range p.Items {
		if v == 99 {
			panic("snapshot decode boom")
		}
	}
	return nil
}

type PushP struct {
	V int `json:"v"`
}

func (p PushP) Apply(s *PanicTape) { Push(p).Apply(&s.Tape) }

// PanicPush is a mutation whose decoding panics for V == 99.
type PanicPush struct {
	V int `json:"v"`
}

func (p *PanicPush) UnmarshalJSON(b []byte) error {
	var v struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.V == 99 {
		panic("record decode boom")
	}
	p.V = v.V
	return nil
}

func (p PanicPush) Apply(s *Tape) { Push(p).Apply(s) }

// TestRecoverDecodePanics: a panic while decoding the snapshot (on the
// goroutine recovery decodes it on) or a record (on the decoding
// pipeline's workers) is an error of Open, as a panicking Apply is, not
// a crash of the process nobody can recover from.
func TestRecoverDecodePanics(t *testing.T) {
	t.Run("snapshot", func(t *testing.T) {
		dir := t.TempDir()
		m := mustOpen[PanicTape, PushP](t, dir, "tape.log", nil)
		mustApply(t, m, PushP{1}, PushP{99})
		if _, err := m.CreateSnapshot(); err != nil {
			t.Fatal(err)
		}
		mustApply(t, m, PushP{3})
		mustClose(t, m)
		before := runtime.NumGoroutine()
		_, err := ministate.Open[PanicTape, PushP](dir, "tape.log", &ministate.Options{Logger: testutil.Quiet()})
		if err == nil || !strings.Contains(err.Error(), "snapshot decode boom") || !strings.Contains(err.Error(), dir) {
			t.Fatalf("Open = %v, want an error naming the panic and the folder", err)
		}
		if n := settledGoroutines(before); n > before {
			t.Fatalf("%d goroutines after the failed Open, %d before", n, before)
		}
	})
	t.Run("record", func(t *testing.T) {
		dir := t.TempDir()
		m := mustOpen[Tape, PanicPush](t, dir, "tape.log", nil)
		mustApply(t, m, PanicPush{1}, PanicPush{2}, PanicPush{99}, PanicPush{4})
		mustClose(t, m)
		before := runtime.NumGoroutine()
		_, err := ministate.Open[Tape, PanicPush](dir, "tape.log", &ministate.Options{Logger: testutil.Quiet()})
		var re *ministate.RecordError
		if !errors.As(err, &re) || re.Seq != 3 || !strings.Contains(err.Error(), "record decode boom") {
			t.Fatalf("Open = %v, want a RecordError for record 3 naming the panic", err)
		}
		if n := settledGoroutines(before); n > before {
			t.Fatalf("%d goroutines after the failed Open, %d before", n, before)
		}
	})
}
