// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/mini-go/mini/ministore"
)

// A Message is one delivery of a message to a consumer.
type Message[T any] struct {
	Value   T      // the message
	Seq     uint64 // its sequence number in the queue, from 1 on
	Attempt int    // 1 on its first delivery to this consumer, then 2, 3, ...

	c *Consumer[T]
}

// Consumer returns the name of the consumer the message was delivered to.
func (m *Message[T]) Consumer() string { return m.c.name }

// Ack acknowledges the message: it will not be delivered to this consumer
// again. Ack returns when that is on stable storage. The first Ack of a
// message wins, whichever delivery it comes from; Ack on a message already
// acknowledged (through an older or newer delivery) returns a *MessageError
// matching ErrAcked.
func (m *Message[T]) Ack() error {
	return m.wrap(m.c.q.e.ack(m.c.st, m.Seq))
}

// Nack releases the message: it is delivered again, to any receiver of the
// consumer, after delay; with delay 0, after Options.BackOff's delay for
// this attempt (at once without BackOff); with delay < 0, at once. A
// delayed Nack returns when the delay is on stable storage: the message is
// not delivered before its time, even after a restart or a crash. A Nack
// without delay writes nothing.
func (m *Message[T]) Nack(delay time.Duration) error {
	return m.wrap(m.c.q.e.nack(m.c.st, m.Seq, m.Attempt, delay))
}

// Term gives up on the message at once: it moves it to the dead-letter
// queue with reason (prefixed with "Term: "), whatever its delivery count,
// and it is not delivered to this consumer again. Term returns when the
// dead letter and the message's removal from the consumer are on stable
// storage; the message is then in the dead-letter queue once, even if a
// crash cuts Term short (Open finishes the move or, if the dead letter was
// not written yet, the message is delivered again). Term fails like Nack on
// a message already acknowledged (ErrAcked) or delivered again since
// (ErrStale). A reason that is not valid UTF-8 is refused
// (ministore.ErrInvalidUTF8) before anything is written: it would not read
// back as given.
func (m *Message[T]) Term(reason string) error {
	if !utf8.ValidString(reason) {
		return fmt.Errorf("miniqueue: Term reason: %w: it would be stored as U+FFFD", ministore.ErrInvalidUTF8)
	}
	return m.wrap(m.c.q.e.term(m.c.st, m.Seq, m.Attempt, reason))
}

// Extend keeps the message hidden from the consumer's other receivers for d
// from now, for a receiver that needs longer than the visibility timeout.
// It fails with ErrStale if the message was delivered again since this
// delivery.
func (m *Message[T]) Extend(d time.Duration) error {
	return m.wrap(m.c.q.e.extend(m.c.st, m.Seq, m.Attempt, d))
}

func (m *Message[T]) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrAcked) || errors.Is(err, ErrStale) || err == ErrClosed || err == ErrDeleted:
		return &MessageError{Consumer: m.c.name, Seq: m.Seq, Attempt: m.Attempt, Err: err}
	}
	return err
}
