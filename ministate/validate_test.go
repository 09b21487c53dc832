// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/vfs"
)

// witnessLog remembers, for each Witness accepted by its Validator, the
// tape it was validated against; Apply then checks that it is applied to
// exactly that tape.
type witnessLog struct {
	mu      sync.Mutex
	seen    map[int][]int
	checked atomic.Int64
	bad     []string
}

var witnesses = &witnessLog{seen: map[int][]int{}}

func (l *witnessLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen, l.bad = map[int][]int{}, nil
	l.checked.Store(0)
}

// Witness pushes V unless V is on the tape already (then its Validator
// refuses it). Its Apply checks the tape against the one its Validate saw.
// Apply is called on the state and on the Manager's speculative copies,
// which must both be exactly the prefix the validation saw; during
// recovery no validation was seen and nothing is checked.
type Witness struct {
	V int `json:"v"`
}

func (w Witness) Validate(s *Tape) error {
	if slices.Contains(s.Items, w.V) {
		return fmt.Errorf("%d is on the tape already", w.V)
	}
	witnesses.mu.Lock()
	witnesses.seen[w.V] = slices.Clone(s.Items)
	witnesses.mu.Unlock()
	return nil
}

func (w Witness) Apply(s *Tape) {
	witnesses.mu.Lock()
	want, ok := witnesses.seen[w.V]
	if ok && !slices.Equal(want, s.Items) {
		witnesses.bad = append(witnesses.bad, fmt.Sprintf("Witness{%d} validated against %v, applied to %v", w.V, want, s.Items))
	}
	witnesses.mu.Unlock()
	if ok {
		witnesses.checked.Add(1)
	}
	Push(w).Apply(s)
}

func witnessRegistry() *ministate.Registry[Tape] {
	reg := tapeRegistry()
	ministate.Register[Witness](reg, "Witness")
	return reg
}

// Validated mutations are checked against exactly the state they will be
// applied to (every earlier record, in log order, and nothing else), while
// 50 writers race: plain pushes, validated ones that may be refused (the
// values repeat), batches validated element by element, and a Validator
// batch refused half-way. The tape after it all must hold every accepted
// value exactly once, in the order of the journal, and every Witness must
// have been applied to the tape it was validated against.
func TestValidationSeesExactlyThePrefix(t *testing.T) {
	witnesses.reset()
	mem := vfs.NewMem()
	opts := memOptions(mem, ministate.Options{Registry: witnessRegistry()})
	m := mustOpen[Tape, ministate.Mutator[Tape]](t, "/d", "tape.log", opts)
	const writers, each, distinct = 50, 40, 300
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				v := (w*each + i) * 7919 % distinct // repeats: some are refused
				var err error
				switch {
				case w%5 == 0: // plain writes mixed in; never refused
					_, err = m.Apply(Push{-(w*each + i + 1)})
				case i%6 == 5: // every element validated after the earlier ones
					_, err = m.ApplyBatch(Witness{v}, Witness{distinct + v})
				case i%6 == 4: // refused at its second element: v twice
					_, err = m.ApplyBatch(Witness{2*distinct + v}, Witness{2*distinct + v})
					if !errors.Is(err, ministate.ErrRefused) {
						t.Errorf("batch with a value twice = %v, want ErrRefused", err)
					}
					err = nil
					continue
				default:
					_, err = m.Apply(Witness{v})
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
	mustClose(t, m)
	witnesses.mu.Lock()
	bad := witnesses.bad
	witnesses.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%d validations saw another state than the one applied, first: %s", len(bad), bad[0])
	}
	if witnesses.checked.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("%d checks, %d refusals: the test did not exercise validation", witnesses.checked.Load(), refused.Load())
	}
	times := map[int]int{}
	for _, v := range got.Items {
		times[v]++
		if times[v] > 1 {
			t.Fatalf("value %d is on the tape twice: a validation missed a queued record", v)
		}
	}
	// Recovery replays the journal: the same tape, so the state held
	// exactly the journal's records, in order.
	witnesses.reset()
	m = mustOpen[Tape, ministate.Mutator[Tape]](t, "/d", "tape.log", opts)
	defer mustClose(t, m)
	if again := state(m); !slices.Equal(again.Items, got.Items) {
		t.Fatalf("recovered tape differs from the one in memory:\n%v\n%v", again.Items, got.Items)
	}
	t.Logf("%d accepted, %d refused, %d applications checked", accepted.Load(), refused.Load(), len(got.Items))
}

// Validated mutations share fsyncs: 50 writers, each applying validated
// mutations on a disk where an fsync takes 2 ms, need far fewer fsyncs
// than mutations. (Before the speculative state, each validated mutation
// waited for every record in flight to be applied: about one fsync each.)
func TestValidatedWritersShareFsyncs(t *testing.T) {
	ff := vfs.NewFaulty(vfs.NewMem())
	var syncs atomic.Int64
	ff.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync {
			syncs.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	})
	m := mustOpen[Tape, ministate.Mutator[Tape]](t, "/d", "tape.log",
		memOptions(ff, ministate.Options{Registry: tapeRegistry()}))
	defer mustClose(t, m)
	const writers, each = 50, 10
	before := syncs.Load()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := m.Apply(PushNew{w*each + i}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	n := syncs.Load() - before
	t.Logf("%d validated mutations, %d fsyncs", writers*each, n)
	if n > writers*each/5 {
		t.Fatalf("%d fsyncs for %d validated mutations: they do not share fsyncs", n, writers*each)
	}
}

// When an fsync fails while validated writers are queued, none of the
// records after the last durable one is applied (the speculative state
// they were validated against is discarded), every acknowledged mutation
// is in the state, and every later write fails.
func TestFailedSyncWithValidatorsQueued(t *testing.T) {
	ff := vfs.NewFaulty(vfs.NewMem())
	var syncs, failAt atomic.Int64
	failAt.Store(-1)
	ff.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync {
			time.Sleep(time.Millisecond)
			if syncs.Add(1) == failAt.Load() {
				return syscall.EIO
			}
		}
		return nil
	})
	m := mustOpen[Tape, ministate.Mutator[Tape]](t, "/d", "tape.log",
		memOptions(ff, ministate.Options{Registry: tapeRegistry()}))
	defer m.Close()
	failAt.Store(syncs.Load() + 5)
	var (
		mu    sync.Mutex
		acked []int
		wg    sync.WaitGroup
	)
	for w := range 20 {
		wg.Go(func() {
			for i := range 20 {
				v := w*20 + i
				_, err := m.Apply(PushNew{v})
				if err != nil {
					if !errors.Is(err, ministate.ErrFailed) {
						t.Errorf("Apply = %v, want ErrFailed", err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, v)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got := state(m)
	slices.Sort(got.Items)
	slices.Sort(acked)
	if !slices.Equal(got.Items, acked) || m.Sequence() != uint64(len(acked)) {
		t.Fatalf("state holds %d values at %d, %d were acknowledged", len(got.Items), m.Sequence(), len(acked))
	}
	if _, err := m.Apply(PushNew{100000}); !errors.Is(err, ministate.ErrFailed) {
		t.Fatalf("Apply after the failure = %v, want ErrFailed", err)
	}
}

// slowDecodes counts the SlowPush decodings running at once.
var slowDecodes struct{ active, peak atomic.Int64 }

// SlowPush is Push with a decoding that takes a while, so that decodings
// on several goroutines overlap.
type SlowPush struct {
	V int `json:"v"`
}

func (p SlowPush) Apply(s *Tape) { Push(p).Apply(s) }

func (p *SlowPush) UnmarshalJSON(b []byte) error {
	n := slowDecodes.active.Add(1)
	for {
		peak := slowDecodes.peak.Load()
		if n <= peak || slowDecodes.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	time.Sleep(20 * time.Microsecond)
	slowDecodes.active.Add(-1)
	type plain SlowPush
	return json.Unmarshal(b, (*plain)(p))
}

// Recovery decodes the journal on several goroutines and applies the
// records in their order: the tape comes back in journal order, and
// decodings overlapped.
func TestRecoveryDecodesInParallel(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS >= 2")
	}
	mem := vfs.NewMem()
	opts := memOptions(mem, ministate.Options{})
	m := mustOpen[Tape, SlowPush](t, "/d", "tape.log", opts)
	const n = 3000
	want := make([]int, n)
	batch := make([]SlowPush, 0, 100)
	for i := range n {
		want[i] = i
		batch = append(batch, SlowPush{i})
		if len(batch) == cap(batch) {
			for _, p := range batch {
				mustApply(t, m, p)
			}
			batch = batch[:0]
		}
	}
	mustClose(t, m)
	slowDecodes.peak.Store(0)
	m = mustOpen[Tape, SlowPush](t, "/d", "tape.log", opts)
	defer mustClose(t, m)
	if got := state(m); !slices.Equal(got.Items, want) {
		t.Fatalf("recovered %d items, not the journal's order", len(got.Items))
	}
	if p := slowDecodes.peak.Load(); p < 2 {
		t.Fatalf("at most %d decoding at once: recovery decodes on one goroutine", p)
	}
}

// SetItems replaces the tape's items with its own slice, which the state
// then keeps; BumpFirst adds one to the first item in place. Both are
// Validators, so while writers overlap each is applied to the state and to
// the speculative copy: the copy must not get the same slice.
type SetItems struct {
	Items []int `json:"items"`
}

func (SetItems) Validate(*Tape) error { return nil }
func (p SetItems) Apply(s *Tape)      { s.Items = p.Items }

type BumpFirst struct{}

func (BumpFirst) Validate(s *Tape) error {
	if len(s.Items) == 0 {
		return errors.New("empty tape")
	}
	return nil
}
func (BumpFirst) Apply(s *Tape) {
	if len(s.Items) > 0 {
		s.Items[0]++
	}
}

// The state in memory equals what recovery rebuilds from the journal, even
// when a mutation hands the state memory of its own (a slice) and validated
// writers overlap.
func TestSpeculativeCopySharesNothing(t *testing.T) {
	reg := ministate.NewRegistry[Tape]()
	ministate.Register[SetItems](reg, "SetItems")
	ministate.Register[BumpFirst](reg, "BumpFirst")
	ff := vfs.NewFaulty(vfs.NewMem())
	ff.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync {
			time.Sleep(time.Millisecond) // so that writers overlap
		}
		return nil
	})
	opts := memOptions(ff, ministate.Options{Registry: reg})
	m := mustOpen[Tape, ministate.Mutator[Tape]](t, "/d", "tape.log", opts)
	var wg sync.WaitGroup
	for w := range 20 {
		wg.Go(func() {
			for i := range 30 {
				var err error
				if i%5 == 0 {
					_, err = m.Apply(SetItems{[]int{w, i}})
				} else {
					_, err = m.Apply(BumpFirst{})
				}
				if err != nil && !errors.Is(err, ministate.ErrRefused) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := state(m)
	mustClose(t, m)
	m = mustOpen[Tape, ministate.Mutator[Tape]](t, "/d", "tape.log", opts)
	defer mustClose(t, m)
	if again := state(m); !slices.Equal(again.Items, got.Items) {
		t.Fatalf("state in memory %v, recovered from the journal %v", got.Items, again.Items)
	}
}
