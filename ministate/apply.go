// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"errors"
	"fmt"
	"slices"
)

// Apply logs mut, makes it durable, applies it to the state and returns its
// sequence number. When Apply returns nil the mutation is on stable storage
// and visible to View; when it returns an error the state does not hold the
// mutation (the journal may, if the error came from an fsync, but the
// Manager then refuses further writes until it is opened again).
//
// If mut implements Validator, it is validated first, against the state
// with every mutation logged before it applied; a refusal leaves no trace
// (ErrRefused). Concurrent Apply calls share fsyncs (group commit), with or
// without Validators, and their mutations are applied in the order of their
// sequence numbers, which is their order in the journal.
//
// With Options.SnapshotEvery or SnapshotBytes set, the Apply that crosses
// the threshold then takes a snapshot and compacts the journal before it
// returns. Its mutation is already applied by then: a failed automatic
// snapshot is logged as a warning, not returned.
//
// A panic in mut's Apply method stops the Manager (ErrFailed): the record
// is logged, so the state can no longer be brought up to date; the panic is
// reported as an error to the caller.
func (m *Manager[S, M]) Apply(mut M) (seq uint64, err error) {
	return m.submit([]M{mut})
}

// ApplyBatch logs ms as one record and applies them in order, atomically
// across crashes: after a crash, recovery finds all of them or none. It
// returns the record's sequence number; the batch uses one sequence number.
// If any of ms is a Validator, each is validated on a copy of the state
// with the batch's earlier mutations applied (see Cloner), and a refusal of
// any refuses the whole batch.
func (m *Manager[S, M]) ApplyBatch(ms ...M) (seq uint64, err error) {
	if len(ms) == 0 {
		return 0, ErrEmptyBatch
	}
	return m.submit(slices.Clone(ms))
}

// submit is Apply and ApplyBatch: encode (in the caller's goroutine, in
// parallel with other writers), take a place in the log (validated against
// the state as it will find it), then wait until the record is durable and
// applied.
func (m *Manager[S, M]) submit(ms []M) (uint64, error) {
	payload, err := m.codec.Encode(ms)
	if err != nil {
		return 0, err
	}
	validated := validates[S](ms)
	var copies []M
	switch {
	case !validated && !m.q.specSet.Load():
	case plainValues(ms):
		// Nothing in them can be shared by two states: the speculative
		// copy can take the mutations themselves.
		copies = ms
	default:
		// Decoded here, in parallel with other writers, rather than
		// under the queue's lock; a failure is left for the lock holder
		// to meet again and report.
		if c, err := m.codec.Decode(payload, nil); err == nil {
			copies = c
		}
	}
	seq, err := m.enqueue(ms, copies, payload, validated)
	if err != nil {
		return 0, err
	}
	if err := m.complete(seq); err != nil {
		return 0, err
	}
	if m.policy {
		m.autoSnapshot()
	}
	return seq, nil
}

// begin registers a writer as in flight. Called with m.qmu held.
func (m *Manager[S, M]) begin() error {
	m.w.Lock()
	defer m.w.Unlock()
	if m.w.closing {
		return ErrClosed
	}
	if m.w.err != nil {
		return m.w.err
	}
	m.w.inflight++
	return nil
}

// abandon undoes begin for a writer that logged nothing.
func (m *Manager[S, M]) abandon() {
	m.w.Lock()
	m.doneLocked()
	m.w.Unlock()
}

// doneLocked ends a writer's flight. Only the last one out wakes the
// waiters for an empty pipeline (Close): waking every writer each time one
// finishes would cost a wake-up per writer per writer.
func (m *Manager[S, M]) doneLocked() {
	m.w.inflight--
	if m.w.inflight == 0 {
		m.w.cond.Broadcast()
	}
}

// register records the logged (written, not yet fsync'd) records first,
// first+1, ... of a batch, or the failure to log them: it then ends the
// flight of each of their writers, and returns the Manager's error.
func (m *Manager[S, M]) register(first uint64, mss [][]M, sizes []int, err error) error {
	m.w.Lock()
	defer m.w.Unlock()
	if err == nil {
		// Every record logged and not yet applied belongs to a writer in
		// flight, so the batch is in (applied, applied+inflight]. Anything
		// else means the journal's numbering does not continue the state.
		applied := m.seq.Load()
		last := first + uint64(len(mss)) - 1
		if first <= applied || last > applied+uint64(m.w.inflight) {
			err = fmt.Errorf("journal gave sequence number %d to a batch of %d records, but the state is at %d with %d writers in flight", first, len(mss), applied, m.w.inflight)
		}
	}
	if err != nil {
		m.failLocked(err) // wakes everyone
		for range mss {
			m.doneLocked()
		}
		return m.w.err
	}
	for i, ms := range mss {
		m.w.ready[first+uint64(i)] = pending[M]{ms: ms, size: sizes[i]}
	}
	m.w.registered = max(m.w.registered, first+uint64(len(mss))-1)
	return nil
}

// failLocked stops the Manager. Called with m.w held.
func (m *Manager[S, M]) failLocked(err error) {
	if m.w.err == nil {
		if errors.Is(err, ErrFailed) {
			m.w.err = err
		} else {
			m.w.err = fmt.Errorf("%w: %w", ErrFailed, err)
		}
	}
	m.w.cond.Broadcast()
}

// complete makes record seq durable, unless an fsync already covered it,
// applies every logged record that is durable and next in line, and waits
// until seq itself is applied.
//
// The journal is written in SyncNever mode and fsync'd here, with group
// commit: Append puts the record in the file and gives it its sequence
// number; then one writer at a time (the syncer) calls Sync, which makes
// every record written before it durable, so when it returns every record
// up to the journal's LastSeq before the call is durable. (Records are
// written in sequence order, so that is a watermark.) Writers whose records
// it covered do not fsync again; one of the others leads the next Sync.
//
// The syncer then applies the run of durable records after the last
// applied one, in sequence order, and wakes the others, which find their
// records applied. A record whose writer registered it late (after the
// run stopped before it) is applied by that writer, with the records after
// it. Records are never applied out of order or before they are durable.
func (m *Manager[S, M]) complete(seq uint64) error {
	m.w.Lock()
	for m.seq.Load() < seq && m.w.err == nil {
		switch {
		case m.w.durable >= seq:
			// Durable, not applied: apply the run if it is ready,
			// else wait for the writer of the record it lacks.
			if m.applyReadyLocked() || m.seq.Load() >= seq || m.w.err != nil {
				continue
			}
			m.w.cond.Wait()
		case m.w.syncing:
			m.w.cond.Wait()
		default:
			m.w.syncing = true
			target := m.w.registered
			m.w.Unlock()
			target = max(target, m.log.LastSeq())
			err := m.log.Sync()
			m.w.Lock()
			m.w.syncing = false
			if err != nil {
				m.failLocked(err) // wakes everyone
				continue
			}
			m.w.durable = max(m.w.durable, target)
			if !m.applyReadyLocked() {
				m.w.cond.Broadcast() // the next syncer
			}
		}
	}
	ok := m.seq.Load() >= seq
	m.doneLocked()
	err := m.w.err
	m.w.Unlock()
	if ok {
		return nil
	}
	m.dropSpec() // nothing queued will be applied
	return err
}

// applyReadyLocked applies the durable records that follow the last
// applied one, and reports whether there were any (it then wakes the
// waiters). It is called, and returns, with m.w held, but releases it
// meanwhile: applyMu comes first in the lock order.
func (m *Manager[S, M]) applyReadyLocked() bool {
	m.w.Unlock()
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.w.Lock()
	if m.w.err != nil {
		return false
	}
	applied := m.seq.Load()
	var run []pending[M]
	for next := applied + 1; next <= m.w.durable; next++ {
		p, ok := m.w.ready[next]
		if !ok {
			break
		}
		delete(m.w.ready, next)
		run = append(run, p)
	}
	if len(run) == 0 {
		return false
	}
	m.w.Unlock()
	done, err := m.applyRun(applied, run)
	m.w.Lock()
	if err != nil {
		m.failLocked(err)
	}
	m.w.records += uint64(done)
	m.stats.applies.Add(uint64(done))
	for _, p := range run[:done] {
		m.w.bytes += int64(p.size)
		m.stats.mutations.Add(uint64(len(p.ms)))
	}
	m.w.cond.Broadcast()
	return true
}

// applyRun applies run, the records after applied, under the write lock,
// and moves the state's sequence number on before releasing it, so that
// under m.mu the two always agree. It returns how many it applied; a panic
// in Apply stops it.
func (m *Manager[S, M]) applyRun(applied uint64, run []pending[M]) (done int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.seq.Store(applied + uint64(done)) }()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: Apply of record %d panicked: %v (the state may hold part of it)", ErrFailed, applied+uint64(done)+1, r)
		}
	}()
	for _, p := range run {
		for _, mut := range p.ms {
			mut.Apply(&m.state)
		}
		done++
	}
	return done, nil
}
