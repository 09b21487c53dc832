// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// A Queue is a durable queue of messages of type T in one directory. It is
// safe for concurrent use.
type Queue[T any] struct {
	e   *engine
	dir string

	mu        sync.Mutex
	consumers map[string]*Consumer[T]
}

// Open opens the queue in the directory dir, creating the directory and the queue
// if they do not exist. It takes an advisory lock on the directory: a second
// Open of it, in this process or another, fails with ErrLocked until Close.
//
// Open reads the consumer journal (kept short by checkpoints) and the end
// of the message journal, not the messages themselves (except with
// MaxBytes, where it reads those still held to count their bytes). Every
// message that was received and not acknowledged before the queue was
// closed or its process stopped is ready to be delivered again at once.
//
// Open also opens the dead-letter queue (the directory "dead") if there is
// one, and fails if anything in the queue or the dead-letter queue is
// damaged: an error matching ministore.ErrCorrupt (a journal file that
// does not verify) or ErrCorrupt (a *RecordError: queue records that do not
// fit together, or one of a queue's two journals missing).
func Open[T any](dir string, opts *Options) (*Queue[T], error) {
	dir, o, err := openArgs(dir, opts)
	if err != nil {
		return nil, err
	}
	if err := vfs.MkdirAll(o.FS, dir, 0o755); err != nil {
		return nil, fmt.Errorf("miniqueue: create %s: %w", dir, err)
	}
	lock, err := o.FS.Lock(filepath.Join(dir, lockFile))
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("miniqueue: lock %s: %w", dir, err)
	}
	e, err := openEngine(dir, o)
	if err != nil {
		lock.Close()
		return nil, err
	}
	e.lock = lock
	// Open the dead-letter queue now, if there is one, so that its damage
	// is Open's error and DeadLetters().Len() counts from memory.
	if _, err = e.deadQueue(false); err == nil {
		err = e.finishDeadLetters()
	}
	if err != nil {
		e.close()
		return nil, err
	}
	e.maybeCheckpoint()
	return &Queue[T]{e: e, dir: dir, consumers: map[string]*Consumer[T]{}}, nil
}

// Dir returns the queue's directory.
func (q *Queue[T]) Dir() string { return q.dir }

// Push appends v to the queue and returns its sequence number. The message
// is on stable storage when Push returns; concurrent Pushes share fsyncs.
//
// With MaxBytes set and the queue full, Push fails with an error matching
// ErrFull, or, with BlockWhenFull, waits for room (until Close).
func (q *Queue[T]) Push(v T) (seq uint64, err error) {
	return q.PushContext(context.Background(), v)
}

// PushContext is Push, with a limit on the wait for room when the queue is
// full and BlockWhenFull is set: it returns ctx's error when ctx ends first.
func (q *Queue[T]) PushContext(ctx context.Context, v T) (seq uint64, err error) {
	p, err := q.encode(v, 0)
	if err != nil {
		return 0, err
	}
	_, last, err := q.e.push(ctx, []json.RawMessage{p}, q.e.opts.BlockWhenFull)
	return last, err
}

// PushWithID is Push with de-duplication: if a message with the same id
// was pushed within Options.DedupWindow, it pushes nothing and returns that
// message's sequence number with dup true (whether or not it was received
// since). The ID is kept with the message, so this holds after a restart
// or a crash: a producer that retries a PushWithID whose outcome it does
// not know, even in a new process, gets one message. Two PushWithIDs of one
// id at once give one message; the second returns when the first did.
func (q *Queue[T]) PushWithID(id string, v T) (seq uint64, dup bool, err error) {
	if id == "" {
		return 0, false, errEmptyID
	}
	if !utf8.ValidString(id) {
		return 0, false, fmt.Errorf("miniqueue: de-duplication ID %q is not valid UTF-8", id)
	}
	b, err := q.e.opts.marshal(v)
	if err != nil {
		return 0, false, fmt.Errorf("miniqueue: encode message: %w", err)
	}
	if jsonline.ReplacedUTF8(b) {
		return 0, false, fmt.Errorf("miniqueue: encode message: %w in a string: it would be stored as U+FFFD", ministore.ErrInvalidUTF8)
	}
	return q.e.pushWithID(context.Background(), id, b, msgMeta{}, q.e.opts.BlockWhenFull)
}

// PushBatch appends vs with one write and one fsync, and returns the
// sequence numbers of the first and the last. It is not atomic across a
// crash: if the process dies during the call, a prefix of the batch may be
// in the queue. Under MaxBytes, the batch needs room for all of it.
func (q *Queue[T]) PushBatch(vs ...T) (first, last uint64, err error) {
	if len(vs) == 0 {
		return 0, 0, errors.New("miniqueue: empty batch")
	}
	ps := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		if ps[i], err = q.encode(v, 0); err != nil {
			return 0, 0, err
		}
	}
	return q.e.push(context.Background(), ps, q.e.opts.BlockWhenFull)
}

// PushAt is Push for delayed delivery: the message is not delivered before
// t (to the millisecond, by the wall clock). Until then it waits in the
// queue and counts in Len and Lag; consumers receive the messages after it
// meanwhile. The time is in the message's record, so it holds across a
// restart or a crash. A t in the past means at once.
func (q *Queue[T]) PushAt(t time.Time, v T) (seq uint64, err error) {
	p, err := q.encode(v, unixMilliCeil(t))
	if err != nil {
		return 0, err
	}
	_, last, err := q.e.push(context.Background(), []json.RawMessage{p}, q.e.opts.BlockWhenFull)
	return last, err
}

// encode encodes a message: {"v":...}, with the push time when MaxAge is
// set, and with at (ms since 1970) if positive.
func (q *Queue[T]) encode(v T, at int64) (json.RawMessage, error) {
	b, err := q.e.opts.marshal(v)
	if err != nil {
		return nil, fmt.Errorf("miniqueue: encode message: %w", err)
	}
	if jsonline.ReplacedUTF8(b) {
		return nil, fmt.Errorf("miniqueue: encode message: %w in a string: it would be stored as U+FFFD", ministore.ErrInvalidUTF8)
	}
	if at > 0 || q.e.opts.MaxAge > 0 {
		return appendMetaEnvelope(nil, msgMeta{t: time.Now().UnixMilli(), at: at}, b), nil
	}
	return appendEnvelope(make([]byte, 0, len(b)+len(envPrefix)+1), b), nil
}

// Consumer returns the consumer called name, creating it if needed. Each
// consumer receives every message once (fan-out); the goroutines receiving
// from one consumer share its messages (competing workers). The default
// consumer, the one Queue.Receive uses, is called "".
//
// A new consumer starts at the oldest message that another consumer has
// not acknowledged yet. If there is no other consumer, it starts at the
// first message pushed, or, if consumers were deleted, after the messages
// they had all acknowledged. Its creation is durable when Consumer returns. If it cannot be
// created (the queue is closed, name is not valid UTF-8, a write failed),
// every call on the returned Consumer returns the error.
func (q *Queue[T]) Consumer(name string) *Consumer[T] {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c := q.consumers[name]; c != nil && c.err == nil && !c.isDeleted() {
		return c
	}
	c := &Consumer[T]{q: q, name: name}
	if !utf8.ValidString(name) {
		c.err = fmt.Errorf("miniqueue: consumer name %q is not valid UTF-8", name)
		return c
	}
	c.st, c.err = q.e.consumer(name)
	if c.err == nil {
		q.consumers[name] = c
	}
	return c
}

// Consumers returns the names of the consumers, sorted.
func (q *Queue[T]) Consumers() []string { return q.e.consumerNames() }

// DeleteConsumer deletes a consumer: its receivers get ErrDeleted, and the
// queue no longer keeps messages for it.
func (q *Queue[T]) DeleteConsumer(name string) error {
	return q.e.deleteConsumer(name)
}

// Receive receives a message for the default consumer; see
// Consumer.Receive.
func (q *Queue[T]) Receive(ctx context.Context) (*Message[T], error) {
	return q.Consumer("").Receive(ctx)
}

// ReceiveBatch receives up to n messages for the default consumer; see
// Consumer.ReceiveBatch.
func (q *Queue[T]) ReceiveBatch(ctx context.Context, n int) ([]*Message[T], error) {
	return q.Consumer("").ReceiveBatch(ctx, n)
}

// Messages ranges over the messages of the default consumer; see
// Consumer.Messages.
func (q *Queue[T]) Messages(ctx context.Context) iter.Seq2[*Message[T], error] {
	return q.Consumer("").Messages(ctx)
}

// Purge removes every message up to upTo (every message, if upTo is 0)
// for every consumer, and for the consumers created later: they are not
// delivered again, deliveries in flight get ErrAcked on Ack, and their
// space comes back like that of acknowledged messages. Messages after upTo
// are not touched. Purge returns when it is on stable storage.
func (q *Queue[T]) Purge(upTo uint64) error { return q.e.purge(upTo) }

// Delete removes message seq for every consumer, and for the consumers
// created later, as Purge does for a prefix. It fails with an error
// matching ErrNoMessage if no consumer still holds the message (or, with
// no consumer, if the queue does not keep it for the first one). Delete
// returns when it is on stable storage.
func (q *Queue[T]) Delete(seq uint64) error { return q.e.remove(seq) }

// DeadLetters returns the queue's dead-letter queue.
func (q *Queue[T]) DeadLetters() *DeadLetters[T] { return &DeadLetters[T]{q: q} }

// Len returns the number of messages the queue holds for its slowest
// consumer: those it has not acknowledged, in flight ones included. With no
// consumer, it is the number of messages a new consumer would receive.
func (q *Queue[T]) Len() int { return q.e.length() }

// Close closes the queue. Receivers waiting get ErrClosed; messages received
// and not acknowledged will be delivered again when the queue is reopened.
// Close writes a checkpoint of the consumer state so that the next Open
// reads little. Calling Close again returns nil.
func (q *Queue[T]) Close() error { return q.e.close() }
