// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/mini-go/mini/ministore"
)

// A View is a queue's state as its directory held it when OpenReadOnly read
// it: the messages, the consumers, their floors and deliveries, the dead
// letters. It is read without the directory's lock, beside the program that
// has the queue open, and never writes. It does not change after
// OpenReadOnly: open another View to look again.
type View[T any] struct {
	e *engine
}

// roState is what a read-only engine read from its directory.
type roState struct {
	first    uint64                 // the first message on disk; 0 if none
	messages *ministore.JournalInfo // messages.log, from ministore.Stat
	cons     *ministore.JournalInfo // consumers.log
}

// OpenReadOnly reads the queue in the directory dir without taking its lock,
// so that a queue another process has open (Open) can be looked at, and
// returns what it read as a View. It writes nothing: no lock file, no
// repair of a torn tail, no .broken copy, no checkpoint, no creation of a
// missing directory, queue or dead-letter queue (a directory without a queue is
// an error matching fs.ErrNotExist).
//
// It reads the consumer journal to its end, then the ends of the message
// journal (ministore.Stat), then the dead-letter queue the same way. A
// record half written at the end of a journal, which the live program may
// be writing, is the end of it, not an error. If the program rotates or
// cuts a journal under the read (a checkpoint deletes old segments) or
// the two journals read do not fit together (the program moved on between
// the two reads), OpenReadOnly reads again, a few times, before it returns
// the error. Damage is an error as for Open: ministore.ErrCorrupt for a
// journal file that does not verify, ErrCorrupt for queue records that do
// not fit together.
//
// Of opts, FS, Logger and Codec (which decodes the values Peek and
// DeadLetters return) are used; the others are the program's choices and
// change nothing in what is read.
func OpenReadOnly[T any](dir string, opts *Options) (*View[T], error) {
	dir, o, err := openArgs(dir, opts)
	if err != nil {
		return nil, err
	}
	e, err := openEngineReadOnly(dir, o)
	if err != nil {
		return nil, err
	}
	if _, err := e.deadQueue(false); err != nil {
		return nil, err
	}
	return &View[T]{e: e}, nil
}

// readOnlyTries is how many times a read-only open reads a queue that
// keeps changing under it before it gives up with the error.
const readOnlyTries = 5

// openEngineReadOnly reads the state of the queue in dir without a lock.
func openEngineReadOnly(dir string, o Options) (*engine, error) {
	var err error
	for try := range readOnlyTries {
		if try > 0 {
			time.Sleep(time.Duration(try) * 20 * time.Millisecond)
		}
		var e *engine
		e, err = readEngineOnce(dir, o)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return e, err
		}
	}
	return nil, err
}

func readEngineOnce(dir string, o Options) (*engine, error) {
	e := newEngine(dir, o)
	e.ro = &roState{}
	consExists, err := journalExists(o.FS, e.consPath)
	if err != nil {
		return nil, fmt.Errorf("miniqueue: open %s: %w", e.consPath, err)
	}
	msgExists, err := journalExists(o.FS, e.msgPath)
	if err != nil {
		return nil, fmt.Errorf("miniqueue: open %s: %w", e.msgPath, err)
	}
	switch {
	case !consExists && !msgExists:
		return nil, fmt.Errorf("miniqueue: no queue in %s: %w", dir, fs.ErrNotExist)
	case !msgExists:
		return nil, &RecordError{Journal: e.msgPath, Err: fmt.Errorf("missing, but %s exists", e.consPath)}
	}
	if e.ro.cons, err = ministore.Stat(e.consPath, e.storeOptions()); err != nil {
		return nil, fmt.Errorf("miniqueue: read %s: %w", e.consPath, err)
	}
	// recover reads the consumer journal, then (msgBounds) the message
	// journal's ends: a message a consumer record names was pushed before
	// the record was written, so it is there.
	if _, err := e.recover(); err != nil {
		return nil, err
	}
	if !consExists && e.ro.messages.LastSeq > 0 {
		return nil, &RecordError{Journal: e.consPath, Err: fmt.Errorf("missing, but %s holds messages", e.msgPath)}
	}
	return e, nil
}

func (e *engine) storeOptions() *ministore.Options {
	return &ministore.Options{FS: e.fs, AllowUnknownFields: true}
}

// consRecords returns the records of the consumer journal, from the first
// left.
func (e *engine) consRecords() iter.Seq2[ministore.Record[json.RawMessage], error] {
	if e.ro == nil {
		return e.cons.All(1)
	}
	return ministore.RecordsWith[json.RawMessage](e.consPath, 0, e.storeOptions())
}

// msgBounds returns the first message on disk (0 if none) and the last
// one pushed. A read-only engine reads them from the files now.
func (e *engine) msgBounds() (first, last uint64, err error) {
	if e.ro == nil {
		return e.msgs.FirstSeq(), e.cache.published, nil
	}
	info, err := ministore.Stat(e.msgPath, e.storeOptions())
	if err != nil {
		return 0, 0, fmt.Errorf("miniqueue: read %s: %w", e.msgPath, err)
	}
	e.ro.messages, e.ro.first = info, info.FirstSeq
	e.cache = newMsgCache(info.LastSeq, 0)
	return info.FirstSeq, info.LastSeq, nil
}

// readMessages returns the message records from from on.
func (e *engine) readMessages(from uint64) iter.Seq2[ministore.Record[json.RawMessage], error] {
	if e.ro == nil {
		return e.msgs.All(from)
	}
	return func(yield func(ministore.Record[json.RawMessage], error) bool) {
		for {
			var te *ministore.TruncatedError
			for rec, err := range ministore.RecordsWith[json.RawMessage](e.msgPath, from, e.storeOptions()) {
				if errors.As(err, &te) && te.First > from {
					break // the program freed messages every consumer resolved meanwhile
				}
				if !yield(rec, err) || err != nil {
					return
				}
				from = rec.Seq + 1
			}
			if te == nil || te.First <= from {
				return
			}
			from = te.First
		}
	}
}

// length is Queue.Len.
func (e *engine) length() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.consumers) == 0 {
		return int(e.cache.published + 1 - min(e.base, e.cache.published+1))
	}
	var n uint64
	for _, c := range e.consumers {
		n = max(n, c.lag(e.cache.published))
	}
	return int(n)
}

// Dir returns the queue's directory.
func (v *View[T]) Dir() string { return v.e.dir }

// Consumers returns the names of the consumers, sorted.
func (v *View[T]) Consumers() []string { return v.e.consumerNames() }

// Len is Queue.Len as of the View.
func (v *View[T]) Len() int { return v.e.length() }

// Stats returns the queue's figures as the directory holds them. Unlike
// Queue.Stats, whose counters count what the program did since its Open,
// the counters of a View are zero: Bytes, MaxBytes, each ConsumerStats'
// Delivered ... Discarded, and Journal and ConsumerJournal but for their
// gauges Segments and Bytes. A consumer's InFlight counts the messages
// whose delivery is recorded and that are not resolved, those nacked with a
// delay still running excepted: in the program they are in flight, or
// prefetched for the next receiver (an Ack records the next delivery with
// it), or waiting to be delivered again after a visibility timeout or a
// Nack, which the files cannot tell apart.
func (v *View[T]) Stats() Stats {
	e := v.e
	s := Stats{FirstSeq: e.ro.first, LastSeq: e.cache.published, Len: e.length(), DeadLetters: e.deadLen()}
	e.mu.Lock()
	for _, n := range slices.Sorted(maps.Keys(e.consumers)) {
		c := e.consumers[n]
		cs := ConsumerStats{Name: c.name, Lag: int(c.lag(e.cache.published)), Floor: c.floor}
		for _, p := range c.pend {
			if p.attempts > 0 && p.status != stDelayed {
				cs.InFlight++
			}
		}
		s.Consumers = append(s.Consumers, cs)
	}
	e.mu.Unlock()
	s.Journal.Segments, s.Journal.Bytes = journalGauges(e.ro.messages)
	s.ConsumerJournal.Segments, s.ConsumerJournal.Bytes = journalGauges(e.ro.cons)
	return s
}

// journalGauges returns the files of a journal and their bytes,
// preallocated zeros at the end of the newest excluded, as
// ministore.Stats counts them.
func journalGauges(info *ministore.JournalInfo) (segments int, bytes int64) {
	for i, s := range info.Segments {
		if i == len(info.Segments)-1 {
			bytes += s.End
		} else {
			bytes += s.Bytes
		}
	}
	return len(info.Segments), bytes
}

// Journals describes the queue's two journal files as read:
// messages.log and consumers.log (see ministore.Stat).
func (v *View[T]) Journals() (messages, consumers ministore.JournalInfo) {
	return *v.e.ro.messages, *v.e.ro.cons
}

// A Peeked is a message a consumer has not acknowledged, as View.Peek
// reads it.
type Peeked[T any] struct {
	Seq        uint64
	Value      T               // zero if Raw does not decode into T
	Raw        json.RawMessage // the message's JSON, as pushed
	Deliveries int             // deliveries recorded for the consumer so far
}

// Peek returns the messages that consumer has not resolved (acknowledged,
// dead-lettered, purged or deleted), oldest first, up to the last message
// the View saw, read one at a time from disk; nothing is received. A
// consumer that does not exist is an error matching fs.ErrNotExist. After
// an error the iteration ends.
func (v *View[T]) Peek(consumer string) iter.Seq2[Peeked[T], error] {
	return func(yield func(Peeked[T], error) bool) {
		e := v.e
		e.mu.Lock()
		c := e.consumers[consumer]
		if c == nil {
			e.mu.Unlock()
			yield(Peeked[T]{}, fmt.Errorf("miniqueue: no consumer %q in %s: %w", consumer, e.dir, fs.ErrNotExist))
			return
		}
		floor, last := c.floor, e.cache.published
		e.mu.Unlock()
		if floor > last {
			return
		}
		for rec, err := range e.readMessages(floor) {
			if err != nil {
				yield(Peeked[T]{}, err)
				return
			}
			if rec.Seq > last {
				return
			}
			e.mu.Lock()
			resolved, n := c.resolved(rec.Seq), 0
			if p := c.pend[rec.Seq]; p != nil {
				n = p.attempts
			}
			e.mu.Unlock()
			if resolved {
				continue
			}
			env, err := parseEnvelope(rec.Value)
			if err != nil {
				yield(Peeked[T]{}, &RecordError{Journal: e.msgPath, Seq: rec.Seq, Err: err})
				return
			}
			if env.targeted && env.to != consumer {
				continue // replayed from the dead letters for another consumer
			}
			p := Peeked[T]{Seq: rec.Seq, Raw: env.value, Deliveries: n}
			if e.opts.unmarshal(env.value, &p.Value) != nil {
				var zero T
				p.Value = zero
			}
			if !yield(p, nil) {
				return
			}
		}
	}
}

// DeadLetters returns the dead letters as of the View, oldest first, read
// one at a time from disk. After an error the iteration ends.
func (v *View[T]) DeadLetters() iter.Seq2[DeadLetter[T], error] {
	return deadLetterSeq[T](v.e, func() (*engine, error) {
		v.e.dlqMu.Lock()
		defer v.e.dlqMu.Unlock()
		return v.e.dlq, nil
	})
}

// Close returns nil: a View holds no file open between calls, and its
// methods go on working. It is there so that a View can be used where a
// Queue is closed.
func (v *View[T]) Close() error { return nil }
