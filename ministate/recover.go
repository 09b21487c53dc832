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
func (m *Manager[S, M]) recover() error {
	var (
		state   S
		snapSeq uint64
	)
	// Not minisnap's Exists: it reports false when the directory cannot be
	// listed, which would pass over the snapshots silently.
	{
		seq, skipped, err := m.snaps.RestoreLatestGood(&state)
		switch {
		case errors.Is(err, minisnap.ErrNotFound):
		case err == nil:
			snapSeq = seq
			m.snapNext.Store(seq + 1)
			for _, ce := range skipped {
				m.opts.Logger.Warn("ministate: passed over a damaged snapshot", "dir", m.dir, "seq", ce.Seq, "err", ce)
			}
		case errors.Is(err, minisnap.ErrCorrupt) && m.log.FirstSeq() == 1:
			// Every snapshot is damaged, but the journal is whole.
			var zero S
			state = zero
			m.opts.Logger.Warn("ministate: every snapshot is damaged; replaying the whole journal", "dir", m.dir, "err", err)
		default:
			return fmt.Errorf("ministate: restore snapshot in %s: %w", m.dir, err)
		}
	}

	first, last := m.log.FirstSeq(), m.log.LastSeq()
	if last < snapSeq || first > snapSeq+1 {
		return &GapError{Journal: m.journal, SnapshotSeq: snapSeq, FirstSeq: first, LastSeq: last}
	}
	next := snapSeq + 1
	var bytes int64
	var failed error
	// Decoded on every core (internal/decodepipe, as ministore's typed
	// readers do), applied here in sequence order.
	decodepipe.Run(runtime.GOMAXPROCS(0),
		func(emit func(uint64, []byte) bool) error {
			for rec, err := range m.log.All(next) {
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
			switch {
			case err != nil && seq == 0:
				failed = err // reading
			case err != nil:
				failed = &RecordError{Journal: m.journal, Seq: seq, Err: err}
			case seq != next:
				failed = &RecordError{Journal: m.journal, Seq: seq, Err: fmt.Errorf("out of order: want record %d", next)}
			default:
				if err := replayRecord(&state, &rec); err != nil {
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
	if failed != nil {
		return failed
	}
	if last > snapSeq && next != last+1 {
		return fmt.Errorf("ministate: replay %s: read records up to %d, journal ends at %d", m.journal, next-1, last)
	}
	m.state = state
	applied := max(last, snapSeq)
	m.seq.Store(applied)
	m.w.durable, m.w.registered = applied, applied
	m.w.records = applied - snapSeq
	m.w.bytes = bytes
	m.stats.replayed = applied - snapSeq
	return nil
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
