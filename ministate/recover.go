// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/mini-go/mini/internal/decodepipe"
	"github.com/mini-go/mini/internal/jsonline"

	"github.com/mini-go/mini/minisnap"
)

// recover rebuilds the state: the newest snapshot that verifies, then the
// journal's records after it, checked by their sequence numbers (never by
// counting lines). It runs before the Manager is shared.
//
// The snapshot is decoded on a goroutine of its own while the journal's
// records after the newest snapshot listed are read and decoded (at most
// the decoding pipeline's few batches ahead); they are applied once the
// snapshot is restored. If the snapshot restored is another one (the
// newest is damaged, or there is none to restore), the records are read
// again from the one after it.
func (m *Manager[S, M]) recover() error {
	var snap restored[S]
	done := make(chan struct{})
	go func() {
		defer close(done)
		snap = m.restore()
	}()
	wait := func() *restored[S] {
		<-done
		return &snap
	}
	defer wait() // an early return leaves no goroutine behind
	from := uint64(1)
	// Not minisnap's Exists: see restore. A listing that fails, or a
	// newest snapshot whose metadata is damaged, is only a guess lost:
	// restore reports what is wrong.
	if infos, err := m.snaps.List(); err == nil && len(infos) > 0 && infos[0].Err == nil {
		from = infos[0].Seq + 1
	}
	again, err := m.replay(from, wait)
	if err == nil && again {
		// The guess was wrong: the snapshot restored is known by now.
		again, err = m.replay(snap.seq+1, wait)
	}
	if err == nil && again {
		err = fmt.Errorf("ministate: replay %s: read from record %d, want %d", m.journal, from, snap.seq+1)
	}
	return err
}

// restored is what restore found: the state of the newest snapshot that
// verifies (S's zero value without one) and its sequence number.
type restored[S any] struct {
	state   S
	seq     uint64
	found   bool // a snapshot was restored
	skipped []*minisnap.CorruptError
	err     error
}

// restore restores the newest snapshot that verifies. It runs on a
// goroutine of its own, so a panic while decoding the state (S's
// UnmarshalJSON, a snapshot codec) is an error of Open, as a panicking
// Apply is, not a crash of the process that no caller could recover.
func (m *Manager[S, M]) restore() (r restored[S]) {
	defer func() {
		if p := recover(); p != nil {
			r = restored[S]{err: fmt.Errorf("ministate: restore snapshot in %s: decoding panicked: %v", m.dir, p)}
		}
	}()
	// Not minisnap's Exists: it reports false when the directory cannot be
	// listed, which would pass over the snapshots silently.
	seq, skipped, err := m.snaps.RestoreLatestGood(&r.state)
	switch {
	case errors.Is(err, minisnap.ErrNotFound):
	case err == nil:
		r.seq, r.found, r.skipped = seq, true, skipped
	case errors.Is(err, minisnap.ErrCorrupt) && m.log.FirstSeq() == 1:
		// Every snapshot is damaged, but the journal is whole.
		var zero S
		r.state = zero
		m.opts.Logger.Warn("ministate: every snapshot is damaged; replaying the whole journal", "dir", m.dir, "err", err)
	default:
		r.err = fmt.Errorf("ministate: restore snapshot in %s: %w", m.dir, err)
	}
	return r
}

// replay reads the journal from record from on, decoding the records on
// every core (internal/decodepipe, as ministore's typed readers do), and
// once wait has returned the restored snapshot, applies them to its state
// in sequence order, then sets up the Manager with the result. It returns
// again = true, having set up nothing, if from is not the record after
// the snapshot: the caller reads again from there.
func (m *Manager[S, M]) replay(from uint64, wait func() *restored[S]) (again bool, err error) {
	var (
		snap   *restored[S]
		failed error
		next   = from
		bytes  int64
	)
	first, last := m.log.FirstSeq(), m.log.LastSeq()
	// start waits for the snapshot and checks that the records read from
	// from on continue it; false stops the reading.
	start := func() bool {
		snap = wait()
		switch {
		case snap.err != nil:
			failed = snap.err
		case snap.seq+1 != from:
			again = true
		case last < snap.seq || first > snap.seq+1:
			failed = &GapError{Journal: m.journal, SnapshotSeq: snap.seq, FirstSeq: first, LastSeq: last}
		}
		return failed == nil && !again
	}
	if from <= last {
		decodepipe.Run(runtime.GOMAXPROCS(0),
			func(emit func(uint64, []byte) bool) error {
				for rec, err := range m.log.All(from) {
					if err != nil {
						return fmt.Errorf("ministate: replay %s: %w", m.journal, err)
					}
					if !emit(rec.Seq, rec.Value) {
						break
					}
				}
				return nil
			},
			m.recordDecoder,
			func(seq uint64, rec decoded[M], err error) bool {
				if snap == nil && !start() {
					return false
				}
				switch {
				case err != nil && seq == 0:
					failed = err // reading
				case err != nil:
					failed = &RecordError{Journal: m.journal, Seq: seq, Err: err}
				case seq != next:
					failed = &RecordError{Journal: m.journal, Seq: seq, Err: fmt.Errorf("out of order: want record %d", next)}
				default:
					if err := replayRecord(&snap.state, &rec); err != nil {
						failed = &RecordError{Journal: m.journal, Seq: seq, Err: err}
					}
				}
				if failed != nil {
					return false
				}
				bytes += int64(rec.size)
				next++
				return true
			})
	}
	if snap == nil && !start() {
		return again, failed
	}
	if failed != nil || again {
		return again, failed
	}
	if last > snap.seq && next != last+1 {
		return false, fmt.Errorf("ministate: replay %s: read records up to %d, journal ends at %d", m.journal, next-1, last)
	}
	for _, ce := range snap.skipped {
		m.opts.Logger.Warn("ministate: passed over a damaged snapshot", "dir", m.dir, "seq", ce.Seq, "err", ce)
	}
	if snap.found {
		m.snapNext.Store(snap.seq + 1)
	}
	m.state = snap.state
	applied := max(last, snap.seq)
	m.seq.Store(applied)
	m.w.durable, m.w.registered = applied, applied
	m.w.records = applied - snap.seq
	m.w.bytes = bytes
	m.stats.replayed = applied - snap.seq
	return false, nil
}

// decoded is a journal record decoded for recovery: its mutation (one),
// or its mutations (a batch: ms), and its payload's size. A single
// mutation is decoded in place, into the decoding pipeline's reused slots,
// so that recovery allocates no more than the mutations' own contents.
type decoded[M any] struct {
	one  M
	ms   []M // a batch; nil for a single mutation
	size int
}

// recordDecoder returns a decodepipe.Decoder of journal records. It
// carves the mutation slices of batches out of larger blocks: one
// allocation for many records instead of one each.
func (m *Manager[S, M]) recordDecoder() decodepipe.Decoder[decoded[M]] {
	var block []M
	dec := m.codec.NewDecoder() // lenient, as json.Unmarshal
	return func(_ uint64, payload []byte, v *decoded[M]) error {
		if d := jsonline.TrimSpace(payload); len(d) == 0 || d[0] != '[' {
			var zero M
			*v = decoded[M]{one: zero, size: len(payload)}
			return m.codec.DecodeInto(dec, d, &v.one)
		}
		if cap(block)-len(block) < 16 {
			block = make([]M, 0, 256)
		}
		ms, err := m.codec.DecodeWith(dec, payload, block[len(block):len(block):cap(block)])
		if err != nil {
			return err
		}
		if len(ms) <= cap(block)-len(block) && len(ms) > 0 && &ms[0] == &block[:len(block)+1][len(block)] {
			block = block[:len(block)+len(ms)]
			ms = ms[:len(ms):len(ms)] // appending to it reallocates
		}
		*v = decoded[M]{ms: ms, size: len(payload)}
		return nil
	}
}

// replayRecord applies the mutations of rec to state; a panicking Apply
// is an error.
func replayRecord[S any, M Mutator[S]](state *S, rec *decoded[M]) error {
	if rec.ms != nil {
		return replay(state, rec.ms)
	}
	return replayOne(state, rec.one)
}

func replayOne[S any, M Mutator[S]](state *S, mut M) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Apply panicked: %v", r)
		}
	}()
	mut.Apply(state)
	return nil
}

func replay[S any, M Mutator[S]](state *S, ms []M) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Apply panicked: %v", r)
		}
	}()
	for _, mut := range ms {
		mut.Apply(state)
	}
	return nil
}
