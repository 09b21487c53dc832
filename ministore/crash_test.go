// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"github.com/mini-go/mini/internal/crashtest"
	"github.com/mini-go/mini/internal/testutil"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// The crash tests run a scripted workload on the simulated file system,
// crash it before every one of its operations in turn (and, for some points,
// let a random part of the unsynced data survive, out of order), then open
// what the "disk" holds and check it against a model of what the workload
// had been told was durable.

type rec struct {
	seq uint64
	id  int // unique per written record; stored as V
}

// step is one operation of a workload.
type step struct {
	kind string // "append", "batch", "front", "back", "sync", "close-reopen"
	n    int    // records for "batch"
	seq  uint64 // for "front" and "back"
	pad  int    // bytes of K in each record of "append" and "batch"
}

type scenario struct {
	name  string
	opts  Options
	steps []step
}

func appends(n int) []step {
	s := make([]step, n)
	for i := range s {
		s[i] = step{kind: "append"}
	}
	return s
}

func crashScenarios() []scenario {
	var s []scenario
	s = append(s, scenario{"append with rotation", Options{MaxSegmentBytes: 200}, appends(25)})
	s = append(s, scenario{"append no prealloc", Options{MaxSegmentBytes: 300, NoPreallocate: true}, appends(15)})
	s = append(s, scenario{"plain format", Options{MaxSegmentBytes: 200, Format: FormatPlain}, appends(15)})
	s = append(s, scenario{"batch", Options{MaxSegmentBytes: 250}, []step{
		{kind: "batch", n: 3}, {kind: "batch", n: 1}, {kind: "batch", n: 5}, {kind: "append"}, {kind: "batch", n: 4},
	}})
	s = append(s, scenario{"batches spanning blocks", Options{MaxSegmentBytes: 64 << 10}, []step{
		{kind: "batch", n: 120}, {kind: "append"}, {kind: "batch", n: 150}, {kind: "batch", n: 90},
	}})
	s = append(s, scenario{"retention", Options{MaxSegmentBytes: 150, MaxSegments: 2}, appends(20)})
	s = append(s, scenario{"truncate front", Options{MaxSegmentBytes: 200}, slices.Concat(
		appends(12), []step{{kind: "front", seq: 3}, {kind: "front", seq: 8}}, appends(3),
		[]step{{kind: "front", seq: 14}, {kind: "front", seq: 40}}, appends(2),
		[]step{{kind: "back", seq: 10}}, appends(2))}) // renumber below the first
	// TruncateFront at sequence numbers inside segments (the front bound),
	// with rotation and retention around it, and past the end.
	s = append(s, scenario{"front bound", Options{MaxSegmentBytes: 200, MaxSegments: 3}, slices.Concat(
		appends(7), []step{{kind: "front", seq: 5}}, appends(6), []step{{kind: "front", seq: 11}, {kind: "front", seq: 12}},
		appends(8), []step{{kind: "back", seq: 20}, {kind: "front", seq: 21}}, appends(2),
		[]step{{kind: "front", seq: 30}, {kind: "back", seq: 25}}, appends(2))})
	// Updates of the bound in place, alternating slots, across a reopen
	// (which finds the slot and generation to write next).
	s = append(s, scenario{"front bound in place", Options{MaxSegmentBytes: 400}, slices.Concat(
		appends(8), []step{{kind: "front", seq: 2}, {kind: "front", seq: 3}, {kind: "close-reopen"}, {kind: "front", seq: 4}},
		appends(2), []step{{kind: "front", seq: 6}})})
	// Many updates in place between rotations, retention moving the
	// bound (keepBound), TruncateBack, reopens (which find the slot to
	// write next), a cut past the end (the file deleted) and a new first
	// bound after it.
	s = append(s, scenario{"front bound mixed", Options{MaxSegmentBytes: 250, MaxSegments: 3}, slices.Concat(
		appends(6), []step{{kind: "front", seq: 2}, {kind: "front", seq: 3}, {kind: "front", seq: 4}},
		appends(3), []step{{kind: "front", seq: 8}, {kind: "back", seq: 8}, {kind: "front", seq: 9}},
		appends(5), []step{{kind: "close-reopen"}, {kind: "front", seq: 11}, {kind: "front", seq: 12}},
		appends(4), []step{{kind: "close-reopen"}, {kind: "front", seq: 40}},
		appends(3), []step{{kind: "front", seq: 41}, {kind: "front", seq: 42}, {kind: "back", seq: 42}},
		appends(2))})
	s = append(s, scenario{"front bound sync never", Options{MaxSegmentBytes: 250, Sync: SyncNever}, slices.Concat(
		appends(6), []step{{kind: "front", seq: 4}}, appends(3), []step{{kind: "front", seq: 10}}, appends(2))})
	s = append(s, scenario{"truncate back", Options{MaxSegmentBytes: 200}, slices.Concat(
		appends(12), []step{{kind: "back", seq: 10}, {kind: "back", seq: 2}}, appends(4),
		[]step{{kind: "back", seq: 0}}, appends(2))})
	s = append(s, scenario{"sync never", Options{MaxSegmentBytes: 250, Sync: SyncNever}, slices.Concat(
		appends(4), []step{{kind: "sync"}}, appends(6), []step{{kind: "sync"}}, appends(2))})
	s = append(s, scenario{"reopen", Options{MaxSegmentBytes: 250}, slices.Concat(
		appends(5), []step{{kind: "close-reopen"}}, appends(5))})
	// Each Close writes a clean-end proof and the Open after it uses it:
	// a crash while the proof is written, and appends, truncation and
	// rotation after an Open that used one.
	s = append(s, scenario{"reopen with clean-end proofs", Options{MaxSegmentBytes: 300}, slices.Concat(
		[]step{{kind: "close-reopen"}}, appends(3), []step{{kind: "close-reopen"}, {kind: "back", seq: 2}},
		appends(2), []step{{kind: "close-reopen"}, {kind: "close-reopen"}}, appends(4))})
	// Big payloads are written from their own buffers in the vectored
	// write; a batch of 64 KiB or more grows the file instead of
	// preallocating.
	s = append(s, scenario{"big records", Options{MaxSegmentBytes: 16 << 10}, []step{
		{kind: "append", pad: 3000}, {kind: "append"}, {kind: "batch", n: 3, pad: 2100}, {kind: "append", pad: 5000},
		{kind: "batch", n: 24, pad: 3000}, {kind: "append"}, {kind: "append", pad: 2500},
	}})
	// A batch that leaves little preallocated space; the next batches
	// need a new step of zeros, in a segment nearly full.
	s = append(s, scenario{"preallocated space used up", Options{MaxSegmentBytes: 96 << 10}, []step{
		{kind: "batch", n: 23, pad: 2800}, {kind: "append", pad: 2800}, {kind: "append"},
	}})
	return s
}

// model is what the workload knows: durable records must survive; volatile
// ones (appended but not yet known durable, including an interrupted
// append) may survive as a prefix after the durable ones.
type model struct {
	durable  []rec
	volatile []rec
	inflight *step // the operation that was interrupted, if any
	before   []rec // the durable records before inflight
	maybe    int   // of before, how many at its end were volatile
	nextID   int   // id of the next record written
	// dropsFront: retention may delete the oldest records.
	dropsFront bool
	next       uint64 // sequence number the next append gets
}

// quietOptions returns o on fsys with a silent logger.
func quietOptions(o Options, fsys vfs.FS) *Options {
	o.FS = fsys
	o.Logger = testutil.Quiet()
	return &o
}

// runWorkload runs sc on fsys until the first error, and returns the model.
func runWorkload(sc scenario, fsys vfs.FS) (*model, error) {
	m := &model{nextID: 1, next: 1, dropsFront: sc.opts.MaxSegments > 0}
	s, err := Open[kv](dirPath, quietOptions(sc.opts, fsys))
	if err != nil {
		return m, err
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	always := sc.opts.Sync == SyncAlways
	for i := range sc.steps {
		st := sc.steps[i]
		m.inflight, m.before = &st, slices.Clone(m.durable)
		switch st.kind {
		case "append", "batch":
			n := max(st.n, 1)
			var batch []kv
			for j := range n {
				r := rec{seq: m.next + uint64(j), id: m.nextID + j}
				m.volatile = append(m.volatile, r)
				batch = append(batch, kv{K: strings.Repeat("k", st.pad), V: r.id})
			}
			m.nextID += n
			var first uint64
			if st.kind == "append" {
				first, err = s.Append(batch[0])
			} else {
				first, _, err = s.AppendBatch(batch...)
			}
			if err != nil {
				return m, err
			}
			if first != m.next {
				return m, fmt.Errorf("append got seq %d, want %d", first, m.next)
			}
			m.next += uint64(n)
			if always {
				m.durable, m.volatile = append(m.durable, m.volatile...), nil
			}
		case "sync":
			if err = s.Sync(); err != nil {
				return m, err
			}
			m.durable, m.volatile = append(m.durable, m.volatile...), nil
		case "front":
			// It syncs first: the volatile records may survive as a prefix.
			m.maybe = len(m.volatile)
			m.before = append(m.before, m.volatile...)
			if err = s.TruncateFront(st.seq); err != nil {
				return m, err
			}
			m.durable, m.volatile = append(m.durable, m.volatile...), nil
			m.durable = slices.DeleteFunc(m.durable, func(r rec) bool { return r.seq < st.seq })
			m.next = max(m.next, st.seq)
		case "back":
			if err = s.TruncateBack(st.seq); err != nil {
				return m, err
			}
			m.durable = slices.DeleteFunc(m.durable, func(r rec) bool { return r.seq > st.seq })
			m.next = st.seq + 1
		case "close-reopen":
			if err = s.Close(); err != nil {
				return m, err
			}
			m.durable, m.volatile = append(m.durable, m.volatile...), nil
			if s, err = Open[kv](dirPath, quietOptions(sc.opts, fsys)); err != nil {
				s = nil
				return m, err
			}
		}
		m.inflight, m.maybe = nil, 0
	}
	m.inflight = &step{kind: "close"}
	m.before = slices.Clone(m.durable)
	if err := s.Close(); err != nil {
		return m, err
	}
	m.durable, m.volatile = append(m.durable, m.volatile...), nil
	m.inflight = nil
	return m, nil
}

const dirPath = "/data/j.log"

// reopen opens the journal on fsys and reads its records. It returns a
// description of a failure; else the caller closes the Store.
func reopen(sc scenario, fsys vfs.FS) (*Store[kv], []rec, string) {
	s, err := Open[kv](dirPath, quietOptions(sc.opts, fsys))
	if err != nil {
		return nil, nil, fmt.Sprintf("reopen failed: %v", err)
	}
	var got []rec
	for r, err := range s.All(1) {
		if err != nil {
			s.Close()
			return nil, nil, fmt.Sprintf("reading: %v", err)
		}
		got = append(got, rec{r.Seq, r.Value.V})
	}
	return s, got, ""
}

// readBack opens the journal on fsys, checks its records against the model
// and that appending still works. It returns a description of a mismatch.
func readBack(t *testing.T, sc scenario, fsys vfs.FS, m *model) string {
	s, got, msg := reopen(sc, fsys)
	if msg != "" {
		return msg
	}
	defer s.Close()
	if msg := m.accepts(got); msg != "" {
		return msg
	}
	// Every record is reachable by Get, and the store takes new records
	// with the next sequence number.
	for _, r := range got {
		if v, err := s.Get(r.seq); err != nil || v.V != r.id {
			return fmt.Sprintf("Get(%d) = %v, %v; want id %d", r.seq, v, err, r.id)
		}
	}
	last := s.LastSeq()
	if len(got) > 0 && last != got[len(got)-1].seq {
		return fmt.Sprintf("LastSeq %d, records end at %d", last, got[len(got)-1].seq)
	}
	seq, err := s.Append(kv{V: -1})
	if err != nil {
		return fmt.Sprintf("append after reopen: %v", err)
	}
	if last != 0 && seq != last+1 {
		return fmt.Sprintf("append after reopen got seq %d, want %d", seq, last+1)
	}
	return ""
}

// readBackAppended checks a journal after readBack appended its record
// with V -1 and the power failed: the record must be there, last.
func readBackAppended(t *testing.T, sc scenario, fsys vfs.FS, m *model) string {
	s, got, msg := reopen(sc, fsys)
	if msg != "" {
		return msg
	}
	defer s.Close()
	if len(got) == 0 || got[len(got)-1].id != -1 {
		return fmt.Sprintf("the record appended after reopening is lost: %v", got)
	}
	if m.inflight == nil || m.inflight.kind == "append" || m.inflight.kind == "batch" {
		// Every record read back before the append is still there.
		if msg := m.accepts(got[:len(got)-1]); msg != "" {
			return msg
		}
	}
	return ""
}

// accepts says whether got is a state the journal may be in, or why not.
func (m *model) accepts(got []rec) string {
	if m.inflight != nil {
		switch m.inflight.kind {
		case "front":
			// A suffix of the records before, holding everything >= seq
			// (of the volatile ones at its end, a prefix).
			for j := 0; j <= len(m.before); j++ {
				for e := max(j, len(m.before)-m.maybe); e <= len(m.before); e++ {
					if slices.Equal(got, m.before[j:e]) && (j == 0 || m.before[j-1].seq < m.inflight.seq) {
						return ""
					}
				}
			}
			return fmt.Sprintf("interrupted TruncateFront(%d): got %v, before %v", m.inflight.seq, got, m.before)
		case "back":
			for j := len(m.before); j >= 0; j-- {
				if slices.Equal(got, m.before[:j]) && (j == len(m.before) || m.before[j].seq > m.inflight.seq) {
					return ""
				}
			}
			return fmt.Sprintf("interrupted TruncateBack(%d): got %v, before %v", m.inflight.seq, got, m.before)
		}
	}
	durable := m.durable
	if m.dropsFront && len(got) > 0 {
		// Retention deletes the oldest segments: the durable records
		// still there must be a suffix.
		i := slices.IndexFunc(durable, func(r rec) bool { return r.seq == got[0].seq })
		if i >= 0 {
			durable = durable[i:]
		}
	}
	if len(got) < len(durable) || !slices.Equal(got[:len(durable)], durable) {
		return fmt.Sprintf("lost acknowledged records: got %v, want prefix %v", got, m.durable)
	}
	extra := got[len(durable):]
	if len(extra) > len(m.volatile) || !slices.Equal(extra, m.volatile[:len(extra)]) {
		return fmt.Sprintf("records never written or out of order: got %v after the durable ones, may have %v", extra, m.volatile)
	}
	return ""
}

func TestCrashAtEveryOperation(t *testing.T) {
	for _, sc := range crashScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			crashtest.CrashSweep(t, 1, uint64(len(sc.name)), func(c *crashtest.Crash) {
				m, err := runWorkload(sc, c.FS)
				if !c.Crashed(t, err) {
					if c.Variant == 0 {
						if msg := readBack(t, sc, c.Mem, m); msg != "" {
							t.Fatalf("after the full workload: %s", msg)
						}
					}
					return
				}
				if msg := readBack(t, sc, c.Disk(), m); msg != "" {
					t.Fatalf("crash before op %d (variant %d, inflight %+v): %s", c.K, c.Variant, m.inflight, msg)
				}
			})
		})
	}
}

// TestIOErrorAtEveryOperation injects EIO or ENOSPC at every operation:
// the call fails with a clear error, later writes are refused after a
// failed write or fsync, and nothing acknowledged is lost, whether the
// machine then keeps running or loses power.
func TestIOErrorAtEveryOperation(t *testing.T) {
	for _, sc := range crashScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			crashtest.ErrorSweep(t, func(in *crashtest.Injection) {
				m, err := runWorkload(sc, in.FS)
				if !in.Reached(t, err) {
					return
				}
				powerLoss := in.Mem.CrashClone(vfs.CrashOptions{})
				// The process goes on: the page cache still holds what was written.
				if msg := readBack(t, sc, in.FS, m); msg != "" {
					t.Fatalf("error at op %d (%v), reopened: %s", in.K, in.Op(), msg)
				}
				// Or the power fails right after.
				if msg := readBack(t, sc, powerLoss, m); msg != "" {
					t.Fatalf("error at op %d (%v), then power loss: %s", in.K, in.Op(), msg)
				}
				// Or the process reopens the journal, appends (readBack
				// did: a record with V -1), and then the power fails:
				// what it read and what it acknowledged must survive.
				if msg := readBackAppended(t, sc, in.Mem.CrashClone(vfs.CrashOptions{}), m); msg != "" {
					t.Fatalf("error at op %d (%v), reopen, append, then power loss: %s", in.K, in.Op(), msg)
				}
			})
		})
	}
}

// After a failed fsync the store refuses every later write, and never
// retries the fsync.
func TestFailedSyncStopsStore(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	syncs := 0
	ff.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync {
			syncs++
			if syncs == 3 {
				return syscall.EIO
			}
		}
		return nil
	})
	s, err := Open[kv](dirPath, quietOptions(Options{}, ff))
	if err != nil {
		t.Fatal(err)
	}
	var failed error
	for i := range 10 {
		if _, err := s.Append(kv{V: i}); err != nil {
			failed = err
			break
		}
	}
	if !errors.Is(failed, syscall.EIO) || !errors.Is(failed, ErrFailed) {
		t.Fatalf("Append error %v, want EIO and ErrFailed", failed)
	}
	before := syncs
	for range 3 {
		if _, err := s.Append(kv{}); !errors.Is(err, ErrFailed) {
			t.Fatalf("Append after failed fsync = %v", err)
		}
	}
	if err := s.Sync(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Sync after failed fsync = %v", err)
	}
	if syncs != before {
		t.Fatalf("fsync was called %d more times after it failed", syncs-before)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = io.EOF
}
