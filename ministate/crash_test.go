// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"errors"
	"fmt"
	"github.com/mini-go/mini/internal/crashtest"
	"slices"
	"syscall"
	"testing"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// The crash tests run a scripted workload on the simulated file system,
// crash it before every one of its operations in turn (and, for some
// points, let a random part of the unsynced data survive, out of order),
// then open what the "disk" holds and check the recovered state against
// the mutations the workload had been told were durable: exactly those,
// plus possibly the one that was interrupted (all of a batch, or none).

// PushNew is Push for a value not on the tape yet: a Validator.
type PushNew struct {
	V int `json:"v"`
}

func (p PushNew) Apply(s *Tape) { Push(p).Apply(s) }

func (p PushNew) Validate(s *Tape) error {
	if slices.Contains(s.Items, p.V) {
		return fmt.Errorf("%d is on the tape already", p.V)
	}
	return nil
}

func tapeRegistry() *ministate.Registry[Tape] {
	reg := ministate.NewRegistry[Tape]()
	ministate.Register[Push](reg, "Push")
	ministate.Register[PushNew](reg, "PushNew")
	return reg
}

type crashStep struct {
	kind string // apply, valid, refused, batch, vbatch, vbatch-refused, snapshot, compact, reopen
	n    int    // mutations in a batch
}

type crashScenario struct {
	name     string
	opts     ministate.Options
	registry bool // M is Mutator[Tape] with tapeRegistry; else M is Push
	steps    []crashStep
}

func steps(kind string, n int) []crashStep {
	s := make([]crashStep, n)
	for i := range s {
		s[i] = crashStep{kind: kind}
	}
	return s
}

func crashScenarios() []crashScenario {
	return []crashScenario{
		{name: "apply and batch", opts: ministate.Options{MaxSegmentBytes: 250}, steps: slices.Concat(
			steps("apply", 3), []crashStep{{kind: "batch", n: 3}}, steps("apply", 1),
			[]crashStep{{kind: "batch", n: 2}, {kind: "reopen"}}, steps("apply", 2))},
		{name: "snapshot and compact", opts: ministate.Options{MaxSegmentBytes: 200}, steps: slices.Concat(
			steps("apply", 3), []crashStep{{kind: "snapshot"}}, steps("apply", 4), []crashStep{{kind: "compact"}},
			steps("apply", 2), []crashStep{{kind: "batch", n: 2}, {kind: "compact"}, {kind: "compact"}},
			[]crashStep{{kind: "reopen"}}, steps("apply", 1))},
		{name: "policy every 3", opts: ministate.Options{SnapshotEvery: 3, MaxSegmentBytes: 200, KeepSnapshots: 1}, steps: slices.Concat(
			steps("apply", 5), []crashStep{{kind: "batch", n: 2}}, steps("apply", 2))},
		{name: "policy bytes, plain format", opts: ministate.Options{SnapshotBytes: 30, JournalFormat: ministore.FormatPlain}, steps: slices.Concat(
			steps("apply", 5), []crashStep{{kind: "reopen"}}, steps("apply", 1))},
		{name: "validated", registry: true, opts: ministate.Options{MaxSegmentBytes: 300}, steps: slices.Concat(
			steps("valid", 2), steps("refused", 1), steps("apply", 1), []crashStep{{kind: "vbatch", n: 3},
				{kind: "vbatch-refused", n: 2}, {kind: "compact"}}, steps("valid", 2), steps("refused", 1))},
	}
}

// crashModel is what the workload knows.
type crashModel struct {
	acked    []int  // values pushed by acknowledged mutations, in order
	records  uint64 // acknowledged records
	inflight []int  // the interrupted write's values: all or none may be there
	next     int    // next fresh value
}

func (c *crashModel) take(n int) []int {
	vs := make([]int, n)
	for i := range vs {
		vs[i] = c.next
		c.next++
	}
	return vs
}

// ack records that the write of c.inflight returned seq.
func (c *crashModel) ack(seq uint64) error {
	if seq != c.records+1 {
		return fmt.Errorf("write got sequence number %d, want %d", seq, c.records+1)
	}
	c.acked = append(c.acked, c.inflight...)
	c.records++
	c.inflight = nil
	return nil
}

const (
	crashDir     = "/data/state"
	crashJournal = "tape.log"
)

func crashOptions(sc crashScenario, fsys vfs.FS) *ministate.Options {
	o := memOptions(fsys, sc.opts)
	if sc.registry {
		o.Registry = tapeRegistry()
	}
	return o
}

func runWorkload(sc crashScenario, fsys vfs.FS) (*crashModel, error) {
	if sc.registry {
		return runWith(sc, fsys,
			func(v int) ministate.Mutator[Tape] { return Push{v} },
			func(v int) ministate.Mutator[Tape] { return PushNew{v} })
	}
	return runWith(sc, fsys, func(v int) Push { return Push{v} }, nil)
}

// runWith runs sc on fsys until the first error, and returns the model.
func runWith[M ministate.Mutator[Tape]](sc crashScenario, fsys vfs.FS, push, pushNew func(int) M) (mdl *crashModel, err error) {
	mdl = &crashModel{next: 1}
	m, err := ministate.Open[Tape, M](crashDir, crashJournal, crashOptions(sc, fsys))
	if err != nil {
		return mdl, err
	}
	defer func() {
		if m != nil {
			m.Close()
		}
	}()
	for _, st := range sc.steps {
		var seq uint64
		switch st.kind {
		case "apply", "valid":
			mdl.inflight = mdl.take(1)
			mk := push
			if st.kind == "valid" {
				mk = pushNew
			}
			if seq, err = m.Apply(mk(mdl.inflight[0])); err == nil {
				err = mdl.ack(seq)
			}
		case "batch", "vbatch":
			mdl.inflight = mdl.take(st.n)
			mk := push
			if st.kind == "vbatch" {
				mk = pushNew
			}
			var ms []M
			for _, v := range mdl.inflight {
				ms = append(ms, mk(v))
			}
			if seq, err = m.ApplyBatch(ms...); err == nil {
				err = mdl.ack(seq)
			}
		case "refused", "vbatch-refused":
			ms := []M{pushNew(mdl.acked[len(mdl.acked)-1])}
			if st.kind == "vbatch-refused" {
				v := mdl.take(1)[0]
				ms = []M{pushNew(v), pushNew(v)} // the second sees the first
			}
			if _, err = m.ApplyBatch(ms...); errors.Is(err, ministate.ErrRefused) {
				err = nil
			} else if err == nil {
				err = errors.New("a mutation that should be refused was accepted")
			}
		case "snapshot":
			_, err = m.CreateSnapshot()
		case "compact":
			_, err = m.Compact()
		case "reopen":
			if err = m.Close(); err == nil {
				m, err = ministate.Open[Tape, M](crashDir, crashJournal, crashOptions(sc, fsys))
			}
		}
		if err != nil {
			return mdl, err
		}
	}
	err = m.Close()
	m = nil
	return mdl, err
}

// readBack opens the state on fsys and checks it against the model, and
// that the Manager still takes writes. It returns what is wrong, or "".
func readBack(sc crashScenario, fsys vfs.FS, mdl *crashModel) string {
	if sc.registry {
		return readBackWith(sc, fsys, mdl, func(v int) ministate.Mutator[Tape] { return Push{v} })
	}
	return readBackWith(sc, fsys, mdl, func(v int) Push { return Push{v} })
}

func readBackWith[M ministate.Mutator[Tape]](sc crashScenario, fsys vfs.FS, mdl *crashModel, push func(int) M) string {
	m, err := ministate.Open[Tape, M](crashDir, crashJournal, crashOptions(sc, fsys))
	if err != nil {
		return fmt.Sprintf("Open failed: %v", err)
	}
	defer m.Close()
	got, seq := state(m), m.Sequence()
	switch {
	case got.equal(tapeOf(mdl.acked...)) && seq == mdl.records:
	case mdl.inflight != nil && got.equal(tapeOf(slices.Concat(mdl.acked, mdl.inflight)...)) && seq == mdl.records+1:
	default:
		return fmt.Sprintf("recovered %v at sequence %d; acknowledged %v at %d, in flight %v",
			got.Items, seq, mdl.acked, mdl.records, mdl.inflight)
	}
	next, err := m.Apply(push(-1))
	if err != nil || next != seq+1 {
		return fmt.Sprintf("Apply after recovery = %d, %v; want %d", next, err, seq+1)
	}
	if err := m.Close(); err != nil {
		return fmt.Sprintf("Close after recovery: %v", err)
	}
	return ""
}

func TestCrashAtEveryOperation(t *testing.T) {
	for _, sc := range crashScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			crashtest.CrashSweep(t, 4, uint64(len(sc.name)), func(c *crashtest.Crash) {
				mdl, err := runWorkload(sc, c.FS)
				if !c.Crashed(t, err) {
					if c.Variant == 0 {
						if msg := readBack(sc, c.Mem, mdl); msg != "" {
							t.Fatalf("after the full workload: %s", msg)
						}
					}
					return
				}
				if msg := readBack(sc, c.Disk(), mdl); msg != "" {
					t.Fatalf("crash before op %d (variant %d): %s", c.K, c.Variant, msg)
				}
			})
		})
	}
}

// TestIOErrorAtEveryOperation injects EIO or ENOSPC at every operation: the
// call that hits it fails with an error that wraps it (or, for the
// automatic snapshot, logs it and the workload goes on), and nothing
// acknowledged is lost, whether the process then reopens the folder or the
// power fails.
func TestIOErrorAtEveryOperation(t *testing.T) {
	for _, sc := range crashScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			crashtest.ErrorSweep(t, func(in *crashtest.Injection) {
				mdl, err := runWorkload(sc, in.FS)
				if !in.Reached(t, err) {
					return
				}
				powerLoss := in.Mem.CrashClone(vfs.CrashOptions{})
				if msg := readBack(sc, in.FS, mdl); msg != "" {
					t.Fatalf("error at op %d (%v), reopened: %s", in.K, in.Op(), msg)
				}
				if msg := readBack(sc, powerLoss, mdl); msg != "" {
					t.Fatalf("error at op %d (%v), then power loss: %s", in.K, in.Op(), msg)
				}
			})
		})
	}
}

// After a failed fsync the Manager refuses every later write with
// ErrFailed (and the I/O error), keeps the acknowledged state, and does not
// retry the fsync.
func TestFailedSyncStopsManager(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	syncs, failAt := 0, -1
	ff.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync {
			syncs++
			if syncs == failAt {
				return syscall.EIO
			}
		}
		return nil
	})
	m := mustOpen[Tape, Push](t, crashDir, crashJournal, memOptions(ff, ministate.Options{}))
	mustApply(t, m, Push{1}, Push{2})
	failAt = syncs + 1
	if _, err := m.Apply(Push{3}); !errors.Is(err, syscall.EIO) || !errors.Is(err, ministate.ErrFailed) || !errors.Is(err, ministore.ErrFailed) {
		t.Fatalf("Apply with a failing fsync = %v; want EIO, ministate.ErrFailed and ministore.ErrFailed", err)
	}
	before := syncs
	for _, f := range []func() error{
		func() error { _, err := m.Apply(Push{4}); return err },
		func() error { _, err := m.ApplyBatch(Push{5}, Push{6}); return err },
	} {
		if err := f(); !errors.Is(err, ministate.ErrFailed) {
			t.Fatalf("write after a failed fsync = %v, want ErrFailed", err)
		}
	}
	if syncs != before {
		t.Fatalf("fsync was called %d more times after it failed", syncs-before)
	}
	if got := state(m); !got.equal(tapeOf(1, 2)) || m.Sequence() != 2 {
		t.Fatalf("state after failure %v at %d; want the acknowledged [1 2] at 2", got.Items, m.Sequence())
	}
	m.Close()
}
