// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"
)

// De-duplication (PushWithID).
//
// A message pushed with an ID carries it in its envelope, with its push
// time: {"id":"ID","t":MS,"v":VALUE}. The table of the IDs pushed within
// DedupWindow is kept in memory, and rebuilt by Open from the messages
// themselves: the first PushWithID of a queue writes a "dedup" record (from
// this message on, messages may carry IDs), and every checkpoint after it
// carries "dedup", the lowest message that holds an ID still within the
// window (or the next message, if none does). Open reads the messages from
// there on. The message journal is not cut above that mark, so a message
// with an ID stays on disk for DedupWindow even once every consumer has
// acknowledged it. A message is in the table once its Push is durable (it
// is registered with its publication), so a retry after a crash finds it.

// dedupTable is the de-duplication state; guarded by the engine's mu.
type dedupTable struct {
	on   bool // IDs are in use: checkpoints carry the mark
	ids  map[string]dedupEntry
	fifo []dedupItem // in order of registration, about push time
	head int
	busy map[string]chan struct{} // IDs being pushed; closed when done
}

type dedupEntry struct {
	seq uint64
	t   int64 // push time, ms since 1970
}

type dedupItem struct {
	id  string
	seq uint64
	t   int64
}

func (d *dedupTable) add(id string, seq uint64, t int64) {
	if d.ids == nil {
		d.ids = map[string]dedupEntry{}
	}
	d.ids[id] = dedupEntry{seq, t}
	d.fifo = append(d.fifo, dedupItem{id, seq, t})
}

// expire forgets the IDs pushed window or longer before now.
func (d *dedupTable) expire(now int64, window time.Duration) {
	limit := now - window.Milliseconds()
	for d.head < len(d.fifo) && d.fifo[d.head].t <= limit {
		it := d.fifo[d.head]
		if e, ok := d.ids[it.id]; ok && e.seq == it.seq {
			delete(d.ids, it.id)
		}
		d.fifo[d.head] = dedupItem{}
		d.head++
	}
	d.fifo, d.head = compactFront(d.fifo, d.head)
}

// mark returns the lowest message Open must read to rebuild the table:
// that of the oldest ID still known, or the one after published.
func (d *dedupTable) mark(published uint64) uint64 {
	m := published + 1
	for _, it := range d.fifo[d.head:] {
		m = min(m, it.seq)
	}
	return m
}

// pushWithID pushes value with de-duplication ID id, unless a message with
// that ID was pushed within DedupWindow: then it returns that message's
// sequence number and dup true. Two pushes of one ID at once are
// serialized: the second waits for the first and returns its number.
func (e *engine) pushWithID(ctx context.Context, id string, value []byte, meta msgMeta, block bool) (seq uint64, dup bool, err error) {
	if err := e.startDedup(); err != nil {
		return 0, false, err
	}
	var done chan struct{}
	for done == nil {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return 0, false, ErrClosed
		}
		e.dedup.expire(time.Now().UnixMilli(), e.opts.DedupWindow)
		if ent, ok := e.dedup.ids[id]; ok {
			e.mu.Unlock()
			return ent.seq, true, nil
		}
		ch, busy := e.dedup.busy[id]
		if !busy {
			done = make(chan struct{})
			e.dedup.busy[id] = done
		}
		e.mu.Unlock()
		if busy {
			select {
			case <-ch:
			case <-e.closing:
			case <-ctx.Done():
				return 0, false, ctx.Err()
			}
		}
	}
	defer func() {
		e.mu.Lock()
		delete(e.dedup.busy, id)
		e.mu.Unlock()
		close(done)
	}()
	meta.id, meta.hasID, meta.t = id, true, time.Now().UnixMilli()
	payload := appendMetaEnvelope(nil, meta, value)
	seq, _, err = e.pushMeta(ctx, []json.RawMessage{payload}, block, []dedupItem{{id: id, t: meta.t}})
	if err == nil && e.pushedSinceCP.Load() >= dedupCheckpointBytes(e.opts) {
		e.maybeCheckpoint() // keeps what Open reads short
	}
	return seq, false, err
}

// dedupCheckpointBytes is how much PushWithID pushes between checkpoints
// at most (apart from the window), so that Open reads little to rebuild the
// ID table after a crash.
func dedupCheckpointBytes(o Options) int64 { return 4 * o.checkpointBytes }

// startDedup writes the "dedup" record before the first message with an ID.
func (e *engine) startDedup() error {
	e.mu.Lock()
	on := e.dedup.on
	e.mu.Unlock()
	if on {
		return nil
	}
	e.dedupInit.Lock()
	defer e.dedupInit.Unlock()
	e.cpMu.RLock()
	defer e.cpMu.RUnlock()
	e.mu.Lock()
	on, from, err := e.dedup.on, e.cache.published+1, e.usableLocked(nil)
	e.mu.Unlock()
	if on || err != nil {
		return err
	}
	if err := e.appendCons(appendSeqRecord(nil, opDedup, nil, from, 0)); err != nil {
		return err
	}
	e.mu.Lock()
	e.dedup.on = true
	e.mu.Unlock()
	e.dedupOn.Store(true)
	return nil
}

// loadDedup rebuilds the table at Open from the messages from on.
func (e *engine) loadDedup(from uint64) error {
	e.dedup.on = true
	e.dedupOn.Store(true)
	from = max(from, e.msgs.FirstSeq())
	if from == 0 || from > e.cache.published {
		return nil
	}
	now := time.Now().UnixMilli()
	limit := now - e.opts.DedupWindow.Milliseconds()
	for rec, err := range e.msgs.All(from) {
		if err != nil {
			return e.ioErr("read messages", err)
		}
		if !bytes.HasPrefix(rec.Value, []byte(`{"id":`)) {
			continue
		}
		env, perr := parseEnvelope(rec.Value)
		if perr == nil && env.hasID && env.t > limit {
			e.dedup.add(env.id, rec.Seq, env.t)
		}
	}
	e.dedup.expire(now, e.opts.DedupWindow)
	return nil
}

var errEmptyID = errors.New("miniqueue: empty de-duplication ID")
