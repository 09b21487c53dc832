// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

// benchRecord is ministore's benchmark record (about 100 bytes of JSON),
// here also a mutation, so the state manager and the bare log write the
// same bytes.
type benchRecord struct {
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value string `json:"value"`
	N     int    `json:"n"`
}

type benchState struct {
	Puts int            `json:"puts"`
	Last map[string]int `json:"last"`
}

func (r benchRecord) Apply(s *benchState) {
	if s.Last == nil {
		s.Last = map[string]int{}
	}
	s.Puts++
	s.Last[r.Key] = r.N
}

func newBenchRecord(i int) benchRecord {
	return benchRecord{Op: "put", Key: "user/000000000042", Value: "the quick brown fox jumps over the lazy dog", N: i}
}

// BenchmarkApply compares Apply with ministore.Append of the same record,
// with 1 and 64 goroutines, every call fsync'd before it returns. ns/op is
// per mutation. The sub-benchmarks alternate so that both see the same
// disk conditions.
func BenchmarkApply(b *testing.B) {
	for _, g := range []int{1, 64} {
		b.Run(fmt.Sprintf("ministore/goroutines=%d", g), func(b *testing.B) {
			s, err := ministore.Open[benchRecord](filepath.Join(b.TempDir(), "j.log"), &ministore.Options{Logger: testutil.Quiet()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fanOut(b, g, func(i int) error { _, err := s.Append(newBenchRecord(i)); return err })
		})
		b.Run(fmt.Sprintf("ministate/goroutines=%d", g), func(b *testing.B) {
			m, err := ministate.Open[benchState, benchRecord](b.TempDir(), "j.log", &ministate.Options{Logger: testutil.Quiet()})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			fanOut(b, g, func(i int) error { _, err := m.Apply(newBenchRecord(i)); return err })
		})
	}
}

// fanOut runs op b.N times: in a b.Loop for one goroutine, shared by g
// goroutines otherwise.
func fanOut(b *testing.B, g int, op func(i int) error) {
	b.SetBytes(100)
	if g == 1 {
		i := 0
		for b.Loop() {
			if err := op(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
		return
	}
	var next atomic.Int64
	n := int64(b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > n {
					return
				}
				if err := op(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// checkedRecord is benchRecord as a Validator: it reads the state (the
// key's last value) and refuses nothing, so the validated and the plain
// benchmark log and apply the same records.
type checkedRecord benchRecord

func (r checkedRecord) Apply(s *benchState) { benchRecord(r).Apply(s) }

func (r checkedRecord) Validate(s *benchState) error {
	if s.Puts < 0 || s.Last[r.Key] < 0 {
		return errors.New("impossible")
	}
	return nil
}

// BenchmarkApplyValidated compares Apply of a mutation that implements
// Validator with Apply of the same mutation without one, 50 goroutines,
// every call fsync'd before it returns. ns/op is per mutation; the ratio
// of the two rates is what a Validator costs. The sub-benchmarks alternate
// so that both see the same disk conditions (run with -count).
func BenchmarkApplyValidated(b *testing.B) {
	const g = 50
	b.Run("plain", func(b *testing.B) {
		m, err := ministate.Open[benchState, benchRecord](b.TempDir(), "j.log", &ministate.Options{Logger: testutil.Quiet()})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		fanOut(b, g, func(i int) error { _, err := m.Apply(newBenchRecord(i)); return err })
	})
	b.Run("validated", func(b *testing.B) {
		m, err := ministate.Open[benchState, checkedRecord](b.TempDir(), "j.log", &ministate.Options{Logger: testutil.Quiet()})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		fanOut(b, g, func(i int) error { _, err := m.Apply(checkedRecord(newBenchRecord(i))); return err })
	})
}

// setMut is a small mutation for the recovery benchmark: it sets one of
// 1,000 keys.
type setMut struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

func (m setMut) Apply(s *map[string]int) {
	if *s == nil {
		*s = map[string]int{}
	}
	(*s)[m.Key] = m.N
}

func benchSet(i int) setMut { return setMut{Key: fmt.Sprintf("service/%04d", i%1000), N: i} }

// BenchmarkRecovery opens a state whose history is 1,000,000 mutations:
// once by replaying the whole journal, once from a snapshot taken 10,000
// mutations before the end plus the journal's tail. The journals are the
// same; ns/op is one Open (and Close). The records-typed sub-benchmark is
// the reference for full-replay: ministore.Records decoding the same
// journal into the mutation type and applying each to a state, with no
// Manager. Setup, outside the timed region, writes the journal with
// SyncNever in batches of 10,000 records, each synced, and leaves it as a
// crash would (no Close: the preallocated space is still there). The
// after-crash sub-benchmarks open a fresh copy of that folder every time,
// as the bench module's recovery rows do; the others time Open and Close
// of one folder, which after the first Open finds the journal as Close
// leaves it.
func BenchmarkRecovery(b *testing.B) {
	const total, tail = 1_000_000, 10_000
	root := b.TempDir()
	full, snap := filepath.Join(root, "full"), filepath.Join(root, "snap")
	s, err := ministore.Open[setMut](filepath.Join(full, "state.log"), &ministore.Options{Sync: ministore.SyncNever, Logger: testutil.Quiet()})
	if err != nil {
		b.Fatal(err)
	}
	var state map[string]int
	batch := make([]setMut, 0, 10_000)
	for i := 1; i <= total; i++ {
		batch = append(batch, benchSet(i))
		if i <= total-tail {
			batch[len(batch)-1].Apply(&state)
		}
		if len(batch) == cap(batch) {
			if _, _, err := s.AppendBatch(batch...); err != nil {
				b.Fatal(err)
			}
			// As every journal a Manager writes: each record's "sync"
			// field proves the batches before it durable, so Open has
			// only the last batch to write again (see ministore's
			// rewriteUnproven), not the whole newest segment.
			if err := s.Sync(); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	copyDir(b, full, snap)
	if err := s.Close(); err != nil { // releases the lock; full keeps the crash's layout
		b.Fatal(err)
	}
	copyDir(b, snap, full)
	snaps, err := minisnap.Open(snap, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := snaps.Create(state, total-tail); err != nil {
		b.Fatal(err)
	}

	// A copy of snap as the crash left it, for the sub-benchmarks that
	// open it so every time (the bench module's recovery row).
	crashed := filepath.Join(root, "crashed")
	linkCrashed(b, snap, crashed)

	open := func(dir string, codec ministore.Codec) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				m, err := ministate.Open[map[string]int, setMut](dir, "state.log", &ministate.Options{Logger: testutil.Quiet(), JournalCodec: codec})
				if err != nil {
					b.Fatal(err)
				}
				if m.Sequence() != total {
					b.Fatalf("recovered sequence %d, want %d", m.Sequence(), total)
				}
				if err := m.Close(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	// The first Open of each folder finds the journal as a crash leaves
	// it; the ones after it, as Close leaves it (with ministore's
	// clean-end proof).
	b.Run("full-replay", open(full, nil))
	records := func(codec ministore.Codec) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				var st map[string]int
				n := 0
				for rec, err := range ministore.RecordsWith[setMut](filepath.Join(full, "state.log"), 1, &ministore.Options{Codec: codec}) {
					if err != nil {
						b.Fatal(err)
					}
					rec.Value.Apply(&st)
					n++
				}
				if n != total {
					b.Fatalf("read %d records, want %d", n, total)
				}
			}
		}
	}
	b.Run("records-typed", records(nil))
	// Every Open of a fresh copy of the crashed folder: the newest segment
	// is read from what its "sync" fields do not prove, the snapshot is
	// restored while the tail is decoded. The copy is not timed.
	afterCrash := func(codec ministore.Codec) func(b *testing.B) {
		return func(b *testing.B) {
			n := 0
			for b.Loop() {
				b.StopTimer()
				n++
				dir := filepath.Join(root, fmt.Sprintf("run-%d", n))
				linkCrashed(b, crashed, dir)
				b.StartTimer()
				m, err := ministate.Open[map[string]int, setMut](dir, "state.log", &ministate.Options{Logger: testutil.Quiet(), JournalCodec: codec})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if m.Sequence() != total {
					b.Fatalf("recovered sequence %d, want %d", m.Sequence(), total)
				}
				if err := m.Close(); err != nil {
					b.Fatal(err)
				}
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		}
	}
	b.Run("snapshot+tail", open(snap, nil))
	b.Run("snapshot+tail-after-crash", afterCrash(nil))
	v2 := jsonv2codec.New()
	b.Run("full-replay-jsonv2", open(full, v2))
	b.Run("records-typed-jsonv2", records(v2))
	b.Run("snapshot+tail-jsonv2", open(snap, v2))
	b.Run("snapshot+tail-after-crash-jsonv2", afterCrash(v2))
}

// linkCrashed makes dst a copy of the crashed state folder src: the sealed
// segments (state.log.NNN), which Open does not write, as hard links; the
// rest copied and fsync'd, so a timed Open does not write back the copy.
func linkCrashed(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case isSealed(d.Name()):
			return os.Link(path, target)
		}
		in, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := f.Write(in); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		tb.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			tb.Fatal(err)
		}
		if err := out.Sync(); err != nil { // not written back by a timed Open
			tb.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			tb.Fatal(err)
		}
	}
}

// isSealed reports whether name is a sealed segment's: state.log.NNN.
func isSealed(name string) bool {
	num, ok := strings.CutPrefix(name, "state.log.")
	return ok && num != "" && strings.Trim(num, "0123456789") == ""
}
