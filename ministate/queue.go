// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/mini-go/mini/internal/jsonline"
)

// writeQueue puts the writers' records in one order, the journal's, and
// keeps the speculative state their Validators see.
//
// Every writer queues its record here, under the lock, and so takes its
// sequence number: the records are appended to the journal in queue order
// by one writer at a time (the leader), with one AppendBatch for all the
// records queued while the previous one was being written. A leader that
// waits for an fsync to end (ministore writes nothing while it syncs) lets
// the next group gather behind it, so validated writers share fsyncs like
// the others.
//
// A Validator must see the state with every record queued before it
// applied, in order, and nothing else. The queued records are not applied
// yet (they are applied once durable), so when some are pending the
// validator sees spec: a copy of the state (Clone, or a JSON round trip)
// with the pending records applied, kept up to date by applying each newly
// queued record to it as well: the mutations themselves when they are
// plain values (see plainValues), else decoded from the record's payload,
// as recovery would, so that the copy shares no memory with the mutation
// the state gets.
// When nothing is pending, the validator reads the state itself and no copy
// exists. spec is made when a validated writer finds records pending, and
// dropped when the queue is found drained, when a refused batch has left
// it half-applied, and when the Manager fails.
type writeQueue[S any, M Mutator[S]] struct {
	next     uint64        // sequence number of the next queued record
	appended uint64        // every queued record up to here is in the journal
	leading  bool          // a writer is appending the batch
	done     chan struct{} // closed when the gathering batch is appended (or failed)
	turn     chan struct{} // closed when the gathering batch may take the lead
	err      error         // the append failed: the Manager has failed

	batch    []jsonline.Borrowed // payloads waiting for the leader
	batchMs  [][]M
	batchLen []int

	// pending holds the queued records with sequence numbers above the
	// state's (trimmed as they are applied): what a new spec needs.
	pending []queued[M]
	spec    *S
	// specSet mirrors spec != nil, for writers deciding outside the lock
	// whether to decode their record for it.
	specSet atomic.Bool
}

// setSpec sets q.spec. Called with m.qmu held.
func (q *writeQueue[S, M]) setSpec(s *S) {
	q.spec = s
	q.specSet.Store(s != nil)
}

// queued is a record in the queue.
type queued[M any] struct {
	seq     uint64
	payload []byte
}

// enqueue validates ms (if validated) against the state with every queued
// record applied, queues its record, and returns once the record is in the
// journal (not yet durable), with its sequence number. The writer is in
// flight (begin) if and only if enqueue returns a nil error.
//
// copies, if not nil, is ms decoded from payload, made by the caller
// outside the lock for the spec (see applySpec).
func (m *Manager[S, M]) enqueue(ms, copies []M, payload []byte, validated bool) (uint64, error) {
	q := &m.q
	m.qmu.Lock()
	defer m.qmu.Unlock()
	if err := m.begin(); err != nil {
		q.setSpec(nil)
		q.pending = nil // failed or closing: nothing will be applied
		return 0, err
	}
	applied := m.seq.Load()
	// Drop what has been applied from pending.
	i := 0
	for i < len(q.pending) && q.pending[i].seq <= applied {
		i++
	}
	clear(q.pending[:i])
	q.pending = q.pending[i:]
	if len(q.pending) == 0 {
		q.setSpec(nil) // the state has caught up with it
	}
	if validated {
		if err := m.validateQueued(ms, copies, payload); err != nil {
			m.abandon()
			return 0, err
		}
	} else if q.spec != nil {
		m.applySpec(copies, payload)
	}
	seq := q.next
	q.next++
	q.pending = append(q.pending, queued[M]{seq: seq, payload: payload})
	q.batch = append(q.batch, payload)
	q.batchMs = append(q.batchMs, ms)
	q.batchLen = append(q.batchLen, len(payload))
	// Wait for the batch this record joined to be appended, leading it
	// if no one else is leading: a waiter wakes when its batch is done,
	// or, while it is still gathering, when the leader before is done.
	mine := q.done
	for q.appended < seq && q.err == nil {
		if !q.leading {
			m.lead()
			continue
		}
		turn := q.turn
		if q.done != mine {
			turn = nil // taken by a leader: wait for it
		}
		m.qmu.Unlock()
		select {
		case <-mine:
		case <-turn:
		}
		m.qmu.Lock()
	}
	if q.appended < seq {
		// The leader's append failed and the Manager has failed; the
		// writer is out of flight (lead ended it).
		return 0, q.err
	}
	return seq, nil
}

// leadRounds bounds how many batches one leader appends in a row.
const leadRounds = 4

// lead appends the queued batch to the journal, and then the batch that
// gathered meanwhile, if any, up to leadRounds: the leader is running,
// where a waiter handed the lead would first have to be woken, and an
// fsync that starts in between would leave that batch for the next one.
// Called, and returns, with m.qmu held; releases it meanwhile.
func (m *Manager[S, M]) lead() {
	q := &m.q
	q.leading = true
	var err error
	for round := 0; round < leadRounds && len(q.batch) > 0 && err == nil; round++ {
		payloads, mss, sizes, done := q.batch, q.batchMs, q.batchLen, q.done
		first := q.next - uint64(len(payloads))
		q.batch, q.batchMs, q.batchLen = nil, nil, nil
		q.done = make(chan struct{})
		m.qmu.Unlock()
		var got, last uint64
		got, last, err = m.log.AppendBatch(payloads...)
		if err == nil && got != first {
			err = fmt.Errorf("journal gave sequence number %d to a record queued as %d", got, first)
		}
		err = m.register(first, mss, sizes, err)
		m.qmu.Lock()
		if err != nil {
			// The Manager has failed. The records queued behind this
			// batch will never be logged: end their writers' flight too.
			q.err = err
			for range q.batch {
				m.abandon()
			}
			q.batch, q.batchMs, q.batchLen = nil, nil, nil
			q.setSpec(nil)
			q.pending = nil
		} else {
			q.appended = last
		}
		close(done)
	}
	q.leading = false
	if len(q.batch) > 0 || err != nil {
		// The next batch needs a leader (or, after a failure, its
		// writers need to hear of it).
		close(q.turn)
		q.turn = make(chan struct{})
	}
}

// validateQueued runs the Validators among ms against the state as the
// record will find it: the spec when records are pending, else the state
// itself. A refusal leaves the spec as it was (or drops it, if a batch was
// half applied); an acceptance leaves it (if there is one) with the record
// applied. Called with m.qmu held.
func (m *Manager[S, M]) validateQueued(ms, copies []M, payload []byte) (err error) {
	q := &m.q
	defer func() {
		if r := recover(); r != nil {
			q.setSpec(nil)
			err = fmt.Errorf("ministate: validation panicked: %v", r)
		}
	}()
	// A single mutation, or a batch in which only the first validates, is
	// checked without applying anything; otherwise each is checked after
	// the batch's earlier ones are applied.
	stepwise := len(ms) > 1 && validates[S](ms[1:])
	if len(q.pending) == 0 && !stepwise {
		// Nothing pending: the state is the prefix. No writer can queue
		// or apply anything while m.qmu is held, but readers may read.
		m.mu.RLock()
		err = validateOne(ms[0], &m.state)
		m.mu.RUnlock()
		return err
	}
	if q.spec == nil {
		if err := m.makeSpec(); err != nil {
			return err
		}
	}
	if !stepwise {
		if err := validateOne(ms[0], q.spec); err != nil {
			return err
		}
		m.applySpec(copies, payload)
		return nil
	}
	if copies == nil {
		copies, err = m.codec.Decode(payload, nil)
	}
	if err != nil || len(copies) != len(ms) {
		q.setSpec(nil)
		return fmt.Errorf("ministate: validate a batch: its record does not decode: %v", err)
	}
	for i, mut := range ms {
		if v, ok := any(mut).(Validator[S]); ok {
			if err := v.Validate(q.spec); err != nil {
				q.setSpec(nil) // half applied
				return fmt.Errorf("%w: batch element %d: %w", ErrRefused, i, err)
			}
		}
		copies[i].Apply(q.spec)
	}
	return nil
}

func validateOne[S any, M Mutator[S]](mut M, s *S) error {
	if v, ok := any(mut).(Validator[S]); ok {
		if err := v.Validate(s); err != nil {
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	return nil
}

// makeSpec copies the state and applies the pending records to the copy.
// Called with m.qmu held, and with q.pending trimmed to the records above
// the state's sequence number at some instant before.
func (m *Manager[S, M]) makeSpec() error {
	q := &m.q
	m.mu.RLock()
	applied := m.seq.Load() // consistent with the state under m.mu
	spec, err := m.clone()
	m.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("ministate: copy state to validate: %w", err)
	}
	var ms []M
	for _, p := range q.pending {
		if p.seq <= applied {
			continue
		}
		if ms, err = m.codec.Decode(p.payload, ms[:0]); err != nil {
			return fmt.Errorf("ministate: validate: record %d does not decode: %w", p.seq, err)
		}
		if err := replay(&spec, ms); err != nil {
			return fmt.Errorf("ministate: validate: record %d: %w", p.seq, err)
		}
	}
	q.setSpec(&spec)
	return nil
}

// applySpec applies a newly queued record to the spec: copies, its
// mutations decoded from payload (or the mutations themselves, when they
// are plain values), or payload decoded now. If it does not decode or its Apply panics, the spec is dropped
// (the next validation makes a new one and reports the record); the record
// itself is logged as usual. Called with m.qmu held and q.spec set.
func (m *Manager[S, M]) applySpec(copies []M, payload []byte) {
	q := &m.q
	var err error
	if copies == nil {
		copies, err = m.codec.Decode(payload, nil)
	}
	if err == nil {
		err = replay(q.spec, copies)
	}
	if err != nil {
		q.setSpec(nil)
	}
}

// plainValues reports whether every mutation in ms is a plain value:
// booleans, numbers and strings, in structs and arrays, and nothing that
// refers to memory a state could keep and change (slices, maps, pointers,
// interfaces, channels, functions). Apply gets its own copy of such a
// mutation, so the state and the speculative copy can both be given the
// same one.
func plainValues[M any](ms []M) bool {
	for _, m := range ms {
		t := reflect.TypeOf(any(m))
		if t == nil {
			return false
		}
		plain, ok := plainTypes.Load(t)
		if !ok {
			plain, _ = plainTypes.LoadOrStore(t, isPlain(t))
		}
		if !plain.(bool) {
			return false
		}
	}
	return true
}

var plainTypes sync.Map // reflect.Type -> bool

func isPlain(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return isPlain(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !isPlain(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// dropSpec discards the speculative state after a failure.
func (m *Manager[S, M]) dropSpec() {
	m.qmu.Lock()
	m.q.setSpec(nil)
	m.q.pending = nil
	m.qmu.Unlock()
}

// clone deep-copies the state. The caller holds m.mu (shared is enough).
func (m *Manager[S, M]) clone() (S, error) {
	if c, ok := any(&m.state).(Cloner[S]); ok {
		return c.Clone(), nil
	}
	var s S
	b, err := json.Marshal(&m.state)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	return s, err
}
