// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// A Consumer is a named reader of a queue, with its own position: every
// consumer receives every message. Goroutines sharing a Consumer share its
// messages, each message going to one of them at a time. It is safe for
// concurrent use.
type Consumer[T any] struct {
	q    *Queue[T]
	name string
	st   *cstate
	err  error // why the consumer could not be created
}

// Name returns the consumer's name ("" for the default consumer).
func (c *Consumer[T]) Name() string { return c.name }

func (c *Consumer[T]) isDeleted() bool {
	if c.st == nil {
		return false
	}
	c.q.e.mu.Lock()
	defer c.q.e.mu.Unlock()
	return c.st.deleted
}

// Receive waits for the next message and returns it, or returns ctx's
// error when ctx ends first (at once if it already has). The message is
// hidden from the consumer's other receivers until it is acknowledged
// (Message.Ack), released (Message.Nack) or its visibility timeout runs out;
// then it is delivered again, with Attempt one higher. Its delivery count
// is on stable storage before Receive returns.
//
// Messages due for redelivery come first, lowest sequence number first,
// then new messages in order. A message that does not decode into T, or
// that was delivered MaxDeliveries times already, goes to the dead-letter
// queue instead, and Receive goes on to the next.
func (c *Consumer[T]) Receive(ctx context.Context) (*Message[T], error) {
	return c.receive(ctx, true)
}

// ReceiveBatch waits for a message as Receive does, then takes up to n-1
// more that are ready at once, without waiting, and returns them in the
// order received (at least one, unless it fails). Each is a delivery as
// from Receive, with its own Ack; each delivery count is on stable storage
// before ReceiveBatch returns. If an error stops it after the first
// message, it returns the messages it has and no error.
func (c *Consumer[T]) ReceiveBatch(ctx context.Context, n int) ([]*Message[T], error) {
	if n < 1 {
		return nil, fmt.Errorf("miniqueue: ReceiveBatch of %d messages", n)
	}
	m, err := c.receive(ctx, true)
	if err != nil {
		return nil, err
	}
	ms := []*Message[T]{m}
	for len(ms) < n {
		m, err := c.receive(ctx, false)
		if err != nil {
			break
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func (c *Consumer[T]) receive(ctx context.Context, wait bool) (*Message[T], error) {
	if c.err != nil {
		return nil, c.err
	}
	m := &Message[T]{c: c}
	seq, attempt, err := c.q.e.receive(ctx, c.st, wait, func(value []byte) error {
		var v T
		if err := c.q.e.opts.unmarshal(value, &v); err != nil {
			return err
		}
		m.Value = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.Seq, m.Attempt = seq, attempt
	return m, nil
}

// Messages returns an iterator over the consumer's messages: it calls
// Receive until ctx ends or the queue is closed, which end the iteration
// without an error. Any other error is yielded, and ends it.
//
//	for m, err := range c.Messages(ctx) {
//		if err != nil { ... }
//		process(m.Value)
//		m.Ack()
//	}
func (c *Consumer[T]) Messages(ctx context.Context) iter.Seq2[*Message[T], error] {
	return func(yield func(*Message[T], error) bool) {
		for {
			m, err := c.Receive(ctx)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, ErrClosed) {
					return
				}
				yield(nil, err)
				return
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}

// Lag returns the number of messages the consumer has not acknowledged,
// those in flight included.
func (c *Consumer[T]) Lag() int {
	if c.st == nil {
		return 0
	}
	e := c.q.e
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(c.st.lag(e.cache.published))
}

// Stats returns the consumer's figures.
func (c *Consumer[T]) Stats() ConsumerStats {
	if c.st == nil {
		return ConsumerStats{Name: c.name}
	}
	e := c.q.e
	e.mu.Lock()
	defer e.mu.Unlock()
	return consumerStats(c.st, e.cache.published)
}
