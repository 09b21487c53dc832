// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"encoding/json"
	"iter"
	"time"
)

// DeadLetters is a queue's dead-letter queue: the messages that reached
// MaxDeliveries or did not decode, one entry per message and consumer. It
// lives in the queue's directory "dead", in the same format as the queue.
type DeadLetters[T any] struct {
	q *Queue[T]
}

// A DeadLetter is a message in the dead-letter queue.
type DeadLetter[T any] struct {
	ID       uint64    // its number in the dead-letter queue
	Consumer string    // the consumer that gave up on it
	Seq      uint64    // its sequence number in the queue
	Attempts int       // how many times it was delivered to that consumer
	Reason   string    // why it was moved
	Time     time.Time // when it was moved
	Value    T         // the message (zero if Raw does not decode into T)
	Raw      json.RawMessage
}

// All returns the dead letters, oldest first, read one at a time from
// disk. After an error the iteration ends.
func (d *DeadLetters[T]) All() iter.Seq2[DeadLetter[T], error] {
	return deadLetterSeq[T](d.q.e, func() (*engine, error) { return d.q.e.deadQueue(false) })
}

// deadLetterSeq returns the dead letters of the dead-letter queue dlq
// returns (none if nil) for All and View.DeadLetters.
func deadLetterSeq[T any](e *engine, dlq func() (*engine, error)) iter.Seq2[DeadLetter[T], error] {
	return func(yield func(DeadLetter[T], error) bool) {
		d, err := dlq()
		if err != nil {
			yield(DeadLetter[T]{}, err)
			return
		}
		if d == nil {
			return
		}
		stopped := false
		err = d.live(func(id uint64, ent deadEntry) bool {
			stopped = !yield(toDeadLetter[T](&e.opts, id, ent), nil)
			return !stopped
		})
		if err != nil && !stopped {
			yield(DeadLetter[T]{}, err)
		}
	}
}

func toDeadLetter[T any](o *Options, id uint64, ent deadEntry) DeadLetter[T] {
	dl := DeadLetter[T]{ID: id, Consumer: ent.Consumer, Seq: ent.Seq, Attempts: ent.Attempts,
		Reason: ent.Reason, Time: ent.Time, Raw: ent.Value}
	var v T
	if o.unmarshal(ent.Value, &v) == nil {
		dl.Value = v
	}
	return dl
}

// Get returns dead letter id, or an error matching ErrNotFound.
func (d *DeadLetters[T]) Get(id uint64) (DeadLetter[T], error) {
	dlq, err := d.q.e.deadQueue(false)
	if err != nil {
		return DeadLetter[T]{}, err
	}
	if dlq == nil {
		return DeadLetter[T]{}, ErrNotFound
	}
	ent, err := dlq.entry(id)
	if err != nil {
		return DeadLetter[T]{}, err
	}
	return toDeadLetter[T](&d.q.e.opts, id, ent), nil
}

// Len returns the number of dead letters. It counts from memory and has
// no error to report: Open opens the dead-letter queue and fails if it is
// damaged, and All and Get return the errors of reading it.
func (d *DeadLetters[T]) Len() int { return d.q.e.deadLen() }

// Replay puts dead letter id back into the queue as a new message for the
// consumer that gave up on it (only), with a fresh delivery count, and
// removes it from the dead-letter queue. If the process dies during
// Replay, the message may be replayed twice; it is never lost.
func (d *DeadLetters[T]) Replay(id uint64) error { return d.q.e.replay(id) }

// ReplayAll replays every dead letter and returns how many it replayed.
func (d *DeadLetters[T]) ReplayAll() (int, error) {
	var ids []uint64
	for dl, err := range d.All() {
		if err != nil {
			return 0, err
		}
		ids = append(ids, dl.ID)
	}
	for i, id := range ids {
		if err := d.Replay(id); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

// Delete removes dead letter id for good.
func (d *DeadLetters[T]) Delete(id uint64) error { return d.q.e.deleteDead(id) }
