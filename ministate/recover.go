package ministate

import (
	"errors"
	"fmt"

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
	// Not minisnap's Exists: it reports false when the folder cannot be
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
	var (
		buf   []M
		bytes int64
	)
	for rec, err := range m.log.All(next) {
		if err != nil {
			return fmt.Errorf("ministate: replay %s: %w", m.journal, err)
		}
		if rec.Seq != next {
			return &RecordError{Journal: m.journal, Seq: rec.Seq, Err: fmt.Errorf("out of order: want record %d", next)}
		}
		buf, err = m.codec.decode(rec.Value, buf[:0])
		if err != nil {
			return &RecordError{Journal: m.journal, Seq: rec.Seq, Err: err}
		}
		if err := replay(&state, buf); err != nil {
			return &RecordError{Journal: m.journal, Seq: rec.Seq, Err: err}
		}
		bytes += int64(len(rec.Value))
		next++
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
