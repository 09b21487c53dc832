// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// engine is a queue without a message type: two ministore journals in one
// directory, messages.log for the messages and consumers.log for what the
// consumers did with them, and the consumer state in memory. Queue[T] wraps
// one and adds the encoding of T; the dead-letter queue is another one, in
// the directory "dead". That one has no mode of its own: deadQueue opens it
// with options that turn off what it does not use (no MaxBytes, no message
// cache), it never receives, so it never has a dead-letter queue itself,
// and no PushWithID reaches it, so it never has a de-duplication table.
//
// Lock order (a lock is only taken while holding locks to its left):
//
//	Queue.mu → replayMu → dedupInit → cpRun → cpMu → dlqMu → mu
//
// and every lock of the queue's engine comes before every lock of its
// dead-letter engine (dlq), which never takes its queue's locks: a receiver
// holding cpMu shared moves a message there (moveDead), and dlqMu is held
// while the dead-letter engine opens or closes. mu is the innermost lock of
// an engine: nothing else is taken under it, and it is released before any
// journal I/O. The journals' own locks (ministore) come after all of
// these: appendCons runs under cpMu shared, truncations under cpRun.
type engine struct {
	opts     Options
	fs       vfs.FS
	dir      string
	log      *slog.Logger
	msgs     *ministore.Store[json.RawMessage]
	cons     *ministore.Store[json.RawMessage]
	msgPath  string
	consPath string
	lock     io.Closer // the directory lock; nil for a dead-letter queue
	ro       *roState  // not nil for a read-only engine (OpenReadOnly): msgs and cons are nil

	sink backup.Sink // the Backup in progress, for the journals' reports

	// cpMu orders consumer records against checkpoints: a change to the
	// consumer state holds it shared from the change in memory until its
	// record is in the journal; a checkpoint holds it exclusively while it
	// copies the state and appends it, so the checkpoint reflects exactly
	// the records before it.
	cpMu sync.RWMutex
	// cpRun lets one checkpoint (with the truncations after it) run at a time.
	cpRun           sync.Mutex
	sinceCP         atomic.Int64  // bytes of consumer records since the last checkpoint
	pushedSinceList atomic.Int64  // bytes pushed since the message segments were listed
	pushedSinceCP   atomic.Int64  // bytes pushed since the last checkpoint
	dedupOn         atomic.Bool   // dedup.on, for maybeCheckpoint
	freeAt          atomic.Uint64 // a message segment can go once every consumer is past this; 0: none known

	mu        sync.Mutex
	closed    bool
	closing   chan struct{}
	consumers map[string]*cstate
	base      uint64 // messages below are resolved by every consumer there was: a new first consumer starts here
	cache     msgCache
	cap       *capacity // nil without MaxBytes
	dedup     dedupTable
	removed   rangeSet   // messages deleted one by one (Queue.Delete), for consumers to come
	dedupInit sync.Mutex // one "dedup" record

	dlqMu    sync.Mutex // guards dlq; serializes replays and deletions of dead letters
	dlq      *engine
	replayMu sync.Mutex
}

const (
	messagesFile  = "messages.log"
	consumersFile = "consumers.log"
	deadDir       = "dead"
	lockFile      = "queue.lock"

	// The schemas the two journals record (ministore.Options.Schema), so
	// that no other program opens them as journals of its own.
	messagesSchema  = "miniqueue.messages"
	consumersSchema = "miniqueue.consumers"
)

// newEngine returns an engine on the queue in dir with nothing read yet:
// openEngine opens it for the program, readEngineOnce for a View.
func newEngine(dir string, o Options) *engine {
	return &engine{
		opts:      o,
		fs:        o.FS,
		dir:       dir,
		log:       o.Logger,
		msgPath:   filepath.Join(dir, messagesFile),
		consPath:  filepath.Join(dir, consumersFile),
		closing:   make(chan struct{}),
		consumers: map[string]*cstate{},
	}
}

// openEngine opens (or creates) the journals in dir and recovers the
// consumer state from them.
func openEngine(dir string, o Options) (*engine, error) {
	e := newEngine(dir, o)
	e.dedup = dedupTable{busy: map[string]chan struct{}{}}
	// The message journal is created first and the consumer journal
	// before any message is pushed, so a consumer journal without a
	// message journal, or messages without a consumer journal, are damage.
	consExists, err := journalExists(o.FS, e.consPath)
	if err != nil {
		return nil, fmt.Errorf("miniqueue: open %s: %w", e.consPath, err)
	}
	if consExists {
		if ok, err := journalExists(o.FS, e.msgPath); err != nil {
			return nil, fmt.Errorf("miniqueue: open %s: %w", e.msgPath, err)
		} else if !ok {
			return nil, &RecordError{Journal: e.msgPath, Err: fmt.Errorf("missing, but %s exists", e.consPath)}
		}
	}
	e.msgs, err = ministore.Open[json.RawMessage](e.msgPath, &ministore.Options{
		MaxSegmentBytes: o.MaxSegmentBytes, FS: o.FS, Logger: o.Logger, Schema: messagesSchema, Codec: o.Codec,
		BackupProgress: e.sink.Progress(o.BackupProgress)})
	if err != nil {
		return nil, fmt.Errorf("miniqueue: open %s: %w", e.msgPath, err)
	}
	if !consExists && e.msgs.LastSeq() > 0 {
		e.msgs.Close()
		return nil, &RecordError{Journal: e.consPath, Err: fmt.Errorf("missing, but %s holds messages", e.msgPath)}
	}
	e.cons, err = ministore.Open[json.RawMessage](e.consPath, &ministore.Options{
		MaxSegmentBytes: o.consSegmentBytes, FS: o.FS, Logger: o.Logger, Schema: consumersSchema,
		BackupProgress: e.sink.Progress(o.BackupProgress)})
	if err != nil {
		e.msgs.Close()
		return nil, fmt.Errorf("miniqueue: open %s: %w", e.consPath, err)
	}
	e.cache = newMsgCache(e.msgs.LastSeq(), o.CacheBytes)
	dedupFrom, err := e.recover()
	if err == nil && dedupFrom > 0 {
		err = e.loadDedup(dedupFrom)
	}
	if err != nil {
		e.msgs.Close()
		e.cons.Close()
		return nil, err
	}
	if o.MaxBytes > 0 {
		if err := e.countBytes(); err != nil {
			e.msgs.Close()
			e.cons.Close()
			return nil, err
		}
	}
	e.refreshMsgBases()
	return e, nil
}

// countBytes sets up the MaxBytes accounting by reading the messages every
// consumer has not resolved yet.
func (e *engine) countBytes() error {
	c := newCapacity(e.opts.MaxBytes)
	e.cap = &c
	from, ok := e.minFloorLocked()
	if !ok {
		from = e.base
	}
	if from > e.cache.published {
		return nil
	}
	for rec, err := range e.msgs.All(from) {
		if err != nil {
			return e.ioErr("read messages", err)
		}
		e.cap.add(rec.Seq, int64(len(rec.Value)))
	}
	return nil
}

// ioErr wraps an error of the journals underneath.
func (e *engine) ioErr(what string, err error) error {
	if errors.Is(err, ministore.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("miniqueue: %s: %w", what, err)
}

// lockUsable takes cpMu shared, then mu (the lock order), and checks that
// the queue and c (if not nil) can be used: it returns with both held, or
// with neither and the error.
func (e *engine) lockUsable(c *cstate) error {
	e.cpMu.RLock()
	e.mu.Lock()
	err := e.usableLocked(c)
	if err != nil {
		e.unlockBoth()
	}
	return err
}

// lockCurrent is lockUsable for the delivery seq, attempt of c, which it
// returns.
func (e *engine) lockCurrent(c *cstate, seq uint64, attempt int) (*pending, error) {
	e.cpMu.RLock()
	e.mu.Lock()
	p, err := e.currentLocked(c, seq, attempt)
	if err != nil {
		e.unlockBoth()
	}
	return p, err
}

// unlockBoth releases mu, then cpMu.
func (e *engine) unlockBoth() { e.mu.Unlock(); e.cpMu.RUnlock() }

// usableLocked returns the error every call on c gets, if any.
func (e *engine) usableLocked(c *cstate) error {
	switch {
	case e.closed:
		return ErrClosed
	case c != nil && c.deleted:
		return ErrDeleted
	}
	return nil
}

// minFloorLocked returns the lowest floor of all consumers: every message
// below it is resolved by all of them. ok is false when there is no
// consumer (then no message may be dropped).
func (e *engine) minFloorLocked() (floor uint64, ok bool) {
	for _, c := range e.consumers {
		if !ok || c.floor < floor {
			floor, ok = c.floor, true
		}
	}
	return floor, ok
}

// floorMovedLocked lets go of what no consumer needs any more.
func (e *engine) floorMovedLocked() {
	mf, ok := e.minFloorLocked()
	if !ok {
		return
	}
	e.base = max(e.base, mf)
	e.cache.dropBelow(mf)
	if e.cap != nil {
		e.cap.release(mf, e.cache.published)
	}
}

// push appends encoded messages and makes them visible to consumers once
// they are durable.
func (e *engine) push(ctx context.Context, payloads []json.RawMessage, block bool) (first, last uint64, err error) {
	return e.pushMeta(ctx, payloads, block, nil)
}

// pushMeta is push; ids, if any, gives each message's de-duplication ID and
// push time, registered as the message is published.
func (e *engine) pushMeta(ctx context.Context, payloads []json.RawMessage, block bool, ids []dedupItem) (first, last uint64, err error) {
	var size int64
	for _, p := range payloads {
		size += int64(len(p))
	}
	if err := e.reserve(ctx, size, block); err != nil {
		return 0, 0, err
	}
	if len(payloads) == 1 {
		last, err = e.msgs.Append(payloads[0])
		first = last
	} else {
		first, last, err = e.msgs.AppendBatch(payloads...)
	}
	e.mu.Lock()
	if e.cap != nil {
		e.cap.reserved -= size
	}
	if err == nil {
		for i, p := range payloads {
			e.publishLocked(first+uint64(i), p)
		}
		for i, it := range ids {
			e.dedup.add(it.id, first+uint64(i), it.t)
		}
	}
	e.mu.Unlock()
	if err != nil {
		return 0, 0, e.ioErr("push", err)
	}
	e.pushedSinceList.Add(size)
	e.pushedSinceCP.Add(size)
	return first, last, nil
}

// reserve waits, if block, until size more bytes fit under MaxBytes, and
// reserves them.
func (e *engine) reserve(ctx context.Context, size int64, block bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if e.closed {
			return ErrClosed
		}
		if e.cap == nil {
			return nil
		}
		if e.cap.fits(size) {
			e.cap.reserved += size
			return nil
		}
		if !block || size > e.cap.max {
			return &FullError{Size: size, Used: e.cap.used + e.cap.reserved, Max: e.cap.max}
		}
		room := e.cap.room
		e.mu.Unlock()
		var err error
		select {
		case <-room:
		case <-e.closing:
		case <-ctx.Done():
			err = ctx.Err()
		}
		e.mu.Lock()
		if err != nil {
			return err
		}
	}
}

// publishLocked records that message seq is durable, and wakes receivers
// for the messages that became visible.
func (e *engine) publishLocked(seq uint64, p []byte) {
	n := e.cache.insert(seq, p, func(s uint64, q []byte) {
		if e.cap != nil {
			e.cap.add(s, int64(len(q)))
		}
	})
	if n == 0 {
		return
	}
	for _, c := range e.consumers {
		for i := 0; i < n && len(c.waiters) > 0; i++ {
			c.wakeOne()
		}
	}
}

// message returns the encoded message seq, from memory or from disk.
func (e *engine) message(seq uint64) ([]byte, error) {
	e.mu.Lock()
	p, ok := e.cache.get(seq)
	e.mu.Unlock()
	if ok {
		return p, nil
	}
	raw, err := e.msgs.Get(seq)
	if err != nil {
		return nil, e.ioErr(fmt.Sprintf("read message %d", seq), err)
	}
	return raw, nil
}

// appendCons appends a consumer record and waits until it is durable.
func (e *engine) appendCons(rec []byte) error {
	if _, err := e.cons.Append(rec); err != nil {
		return e.ioErr("write consumer record", err)
	}
	e.sinceCP.Add(int64(len(rec)) + 48)
	return nil
}

// appendConsBatch appends consumer records with one write and one fsync.
func (e *engine) appendConsBatch(recs ...[]byte) error {
	raw := make([]json.RawMessage, len(recs))
	n := 0
	for i, r := range recs {
		raw[i] = r
		n += len(r) + 48
	}
	if _, _, err := e.cons.AppendBatch(raw...); err != nil {
		return e.ioErr("write consumer records", err)
	}
	e.sinceCP.Add(int64(n))
	return nil
}

// consumer returns the state of the consumer name, creating it (durably)
// if it does not exist. A new consumer starts at the oldest message that
// some existing consumer has not resolved; if there is none, after every
// message the consumers that existed resolved (base).
func (e *engine) consumer(name string) (*cstate, error) {
	e.mu.Lock()
	c, err := e.consumers[name], e.usableLocked(nil)
	e.mu.Unlock()
	if c != nil || err != nil {
		return c, err
	}
	e.cpMu.RLock()
	defer e.cpMu.RUnlock()
	e.mu.Lock()
	if c, err := e.consumers[name], e.usableLocked(nil); c != nil || err != nil {
		e.mu.Unlock()
		return c, err
	}
	from, ok := e.minFloorLocked()
	if !ok {
		from = e.base
	}
	c = newCState(name, from)
	startRemoved(c, &e.removed)
	e.consumers[name] = c
	e.mu.Unlock()
	if err := e.appendCons(newRecord(name, from)); err != nil {
		e.mu.Lock()
		delete(e.consumers, name)
		e.mu.Unlock()
		return nil, err
	}
	return c, nil
}

// deleteConsumer removes a consumer; its receivers get ErrDeleted.
func (e *engine) deleteConsumer(name string) error {
	if err := e.lockUsable(nil); err != nil {
		return err
	}
	defer e.cpMu.RUnlock()
	c := e.consumers[name]
	if c == nil {
		e.mu.Unlock()
		return fmt.Errorf("miniqueue: no consumer %q", name)
	}
	e.floorMovedLocked() // base covers the deleted consumer's floor if it was the last
	c.deleted = true
	delete(e.consumers, name)
	c.wakeAll()
	e.floorMovedLocked()
	e.mu.Unlock()
	return e.appendCons(deleteRecord(name))
}

func (e *engine) consumerNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.consumers))
}

// close checkpoints the consumer state, so the next Open reads little, and
// closes the journals and the lock. Receivers waiting get ErrClosed.
func (e *engine) close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.closing)
	for _, c := range e.consumers {
		c.wakeAll()
	}
	e.mu.Unlock()

	var errs []error
	errs = append(errs, e.returnPrefetched())
	e.cpRun.Lock()
	if e.sinceCP.Load() > 0 {
		errs = append(errs, e.checkpointLocked())
	}
	e.cpRun.Unlock()
	e.dlqMu.Lock()
	if e.dlq != nil {
		errs = append(errs, e.dlq.close())
	}
	e.dlqMu.Unlock()
	errs = append(errs, e.msgs.Close(), e.cons.Close())
	if e.lock != nil {
		errs = append(errs, e.lock.Close())
	}
	return errors.Join(errs...)
}
