// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/vfs"
)

// With group commit, several writers' records become durable together.
// The state must still apply them in the order of their sequence numbers:
// the value a writer pushed sits at position seq-1 of the tape, and the
// tape equals the journal read in order.
func TestApplyOrderIsLogOrder(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen[Tape, Push](t, dir, "tape.log", nil)
	const writers, each = 16, 12
	type result struct {
		v   int
		seq uint64
	}
	results := make(chan result, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				v := w*1000 + i
				var seq uint64
				var err error
				if i%5 == 4 { // some batches: one record, two values
					seq, err = m.ApplyBatch(Push{v}, Push{-v})
				} else {
					seq, err = m.Apply(Push{v})
				}
				if err != nil {
					t.Error(err)
					return
				}
				results <- result{v, seq}
				// Read your writes: the state holds the mutation when
				// Apply returns.
				if m.Sequence() < seq {
					t.Errorf("Sequence %d after Apply returned %d", m.Sequence(), seq)
				}
			}
		})
	}
	// Readers run alongside and always see a consistent state.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				m.View(func(s *Tape) {
					n := 0
					for _, c := range s.Count {
						n += c
					}
					if n != len(s.Items) {
						t.Errorf("torn read: %d counted, %d items", n, len(s.Items))
					}
				})
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(results)

	// Rebuild the expected tape from the returned sequence numbers.
	bySeq := map[uint64]int{}
	for r := range results {
		if _, dup := bySeq[r.seq]; dup {
			t.Fatalf("sequence number %d returned twice", r.seq)
		}
		bySeq[r.seq] = r.v
	}
	var want []int
	for seq := uint64(1); seq <= uint64(len(bySeq)); seq++ {
		v, ok := bySeq[seq]
		if !ok {
			t.Fatalf("no write got sequence number %d", seq)
		}
		want = append(want, v)
		if v%1000%5 == 4 {
			want = append(want, -v)
		}
	}
	if got := state(m); !slices.Equal(got.Items, want) {
		t.Fatalf("the state applied the records out of sequence order")
	}
	// The journal, read in order, holds the same.
	_, recs := journalLines(t, m.JournalPath())
	var fromLog []int
	for _, r := range recs {
		ms, err := ministate.DecodeRecord[Tape, Push](nil, json.RawMessage(r))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ms {
			fromLog = append(fromLog, p.V)
		}
	}
	if !slices.Equal(fromLog, want) {
		t.Fatal("the journal's order differs from the state's")
	}
	mustClose(t, m)
	m = mustOpen[Tape, Push](t, dir, "tape.log", nil)
	defer mustClose(t, m)
	if !slices.Equal(state(m).Items, want) {
		t.Fatal("recovery gave another order")
	}
}

// Concurrent validated mutations each see the state with every earlier
// record applied: each value gets on the tape exactly once, however the
// writers race.
func TestValidatorsUnderConcurrency(t *testing.T) {
	m := mustOpen[Tape, ministate.Mutator[Tape]](t, t.TempDir(), "tape.log",
		&ministate.Options{Registry: tapeRegistry(), Logger: testutil.Quiet()})
	defer mustClose(t, m)
	const writers, values = 6, 30
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for v := range values {
				var err error
				switch {
				case w == 0 && v%3 == 0: // unvalidated writes mixed in
					_, err = m.Apply(Push{1000 + v})
				case v%4 == 0: // a validated batch: v twice would be refused
					_, err = m.ApplyBatch(PushNew{v}, Push{2000 + w*100 + v})
				default:
					_, err = m.Apply(PushNew{v})
				}
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, ministate.ErrRefused):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := state(m)
	times := map[int]int{}
	for _, v := range got.Items {
		times[v]++
	}
	for v := range values {
		if times[v] != 1 {
			t.Fatalf("value %d is on the tape %d times: %v", v, times[v], got.Items)
		}
	}
	if m.Sequence() != uint64(accepted.Load()) {
		t.Fatalf("sequence %d, accepted %d", m.Sequence(), accepted.Load())
	}
	t.Logf("%d accepted, %d refused", accepted.Load(), refused.Load())
}

// GatedTape blocks its JSON encoding while gate is armed, so a test can
// hold a snapshot in the middle of encoding the state.
type GatedTape struct {
	Items []int `json:"items"`
}

var (
	gateMu      sync.Mutex
	gateStarted chan struct{}
	gateRelease chan struct{}
)

func (g GatedTape) MarshalJSON() ([]byte, error) {
	gateMu.Lock()
	started, release := gateStarted, gateRelease
	gateMu.Unlock()
	if started != nil {
		close(started)
		<-release
	}
	type plain GatedTape
	return json.Marshal(plain(g))
}

type PushG struct{ V int }

func (p PushG) Apply(s *GatedTape) { s.Items = append(s.Items, p.V) }

func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not finish within %v", what, d)
	}
}

// A snapshot holds writers off only while it encodes the state, and
// readers never: while the encoding is held, View returns and a writer's
// Apply does not; while the snapshot's files are written, both go on.
func TestSnapshotHoldsWritersOnlyWhileEncoding(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	var ioHeld atomic.Bool
	ioStarted, ioRelease := make(chan struct{}), make(chan struct{})
	ff.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpWrite && strings.Contains(op.Path, ".tmp-snap") && ioHeld.CompareAndSwap(false, true) {
			close(ioStarted)
			<-ioRelease
		}
		return nil
	})
	m := mustOpen[GatedTape, PushG](t, "/d", "tape.log", memOptions(ff, ministate.Options{}))
	defer mustClose(t, m)
	mustApply(t, m, PushG{1})

	gateMu.Lock()
	gateStarted, gateRelease = make(chan struct{}), make(chan struct{})
	started, release := gateStarted, gateRelease
	gateMu.Unlock()
	snapDone := make(chan error, 1)
	go func() { _, err := m.CreateSnapshot(); snapDone <- err }()
	<-started // the snapshot is encoding the state

	within(t, 5*time.Second, "View during the encoding", func() {
		m.View(func(s *GatedTape) {})
	})
	applied := make(chan error, 1)
	go func() { _, err := m.Apply(PushG{2}); applied <- err }()
	select {
	case err := <-applied:
		t.Fatalf("Apply returned (%v) while the snapshot was encoding the state", err)
	case <-time.After(100 * time.Millisecond):
	}
	gateMu.Lock()
	gateStarted, gateRelease = nil, nil
	gateMu.Unlock()
	close(release)

	<-ioStarted // the snapshot is writing its file
	within(t, 5*time.Second, "the held Apply once the encoding ended", func() {
		if err := <-applied; err != nil {
			t.Error(err)
		}
	})
	within(t, 5*time.Second, "Apply and View during the snapshot's I/O", func() {
		mustApply(t, m, PushG{3})
		m.View(func(s *GatedTape) {
			if !slices.Equal(s.Items, []int{1, 2, 3}) {
				t.Errorf("state %v", s.Items)
			}
		})
	})
	close(ioRelease)
	if err := <-snapDone; err != nil {
		t.Fatal(err)
	}
	if seq, _ := m.SnapshotSeq(); seq != 1 {
		t.Fatalf("snapshot at %d, want 1 (the state when it was captured)", seq)
	}
}

// Everything at once, for the race detector: writers, validated writers,
// readers, copies, explicit snapshots and compactions, the automatic
// policy; then recovery must give the same state.
func TestConcurrentEverything(t *testing.T) {
	dir := t.TempDir()
	opts := &ministate.Options{Registry: tapeRegistry(), SnapshotEvery: 7, MaxSegmentBytes: 512, Logger: testutil.Quiet()}
	m := mustOpen[Tape, ministate.Mutator[Tape]](t, dir, "tape.log", opts)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 30 {
				v := w*100 + i
				var err error
				switch i % 3 {
				case 0:
					_, err = m.Apply(Push{v})
				case 1:
					_, err = m.Apply(PushNew{v})
				case 2:
					_, err = m.ApplyBatch(Push{v}, PushNew{-v - 1})
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 6 {
			var err error
			if i%2 == 0 {
				_, err = m.CreateSnapshot()
			} else {
				_, err = m.Compact()
			}
			if err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for range 50 {
			if _, err := m.Copy(); err != nil {
				t.Error(err)
			}
			m.View(func(s *Tape) { _ = len(s.Items) })
		}
	})
	wg.Wait()
	want, seq := state(m), m.Sequence()
	mustClose(t, m)
	m = mustOpen[Tape, ministate.Mutator[Tape]](t, dir, "tape.log", opts)
	defer mustClose(t, m)
	if got := state(m); !got.equal(want) || m.Sequence() != seq || len(got.Items) != 4*30+4*10 {
		t.Fatalf("recovered %d items at %d, want %d at %d", len(got.Items), m.Sequence(), len(want.Items), seq)
	}
}
