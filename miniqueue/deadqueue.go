// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// The dead-letter queue is an engine of its own in the directory "dead", with
// one consumer, "". A dead letter is a message of it: a deadEntry holding
// the original message's value, consumer, sequence number and delivery
// count. Replaying or deleting a dead letter acknowledges it there, so the
// dead-letter queue gives its disk space back like any queue.

// deadQueue returns the dead-letter queue, opening it, and creating it if
// create is set. Without create it returns nil if there is none.
func (e *engine) deadQueue(create bool) (*engine, error) {
	e.dlqMu.Lock()
	defer e.dlqMu.Unlock()
	if e.dlq != nil {
		return e.dlq, nil
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	dir := filepath.Join(e.dir, deadDir)
	if !create {
		// Either journal makes a dead-letter queue: openEngine reports the
		// other one missing.
		for _, name := range []string{messagesFile, consumersFile} {
			ok, err := journalExists(e.fs, filepath.Join(dir, name))
			if err != nil {
				return nil, fmt.Errorf("miniqueue: open %s: %w", dir, err)
			}
			if ok {
				create = true
			}
		}
		if !create {
			return nil, nil
		}
	}
	o := e.opts
	o.MaxBytes, o.CacheBytes = 0, 0 // see engine
	if e.ro != nil {
		d, err := openEngineReadOnly(dir, o)
		if err != nil {
			return nil, err
		}
		e.dlq = d
		return d, nil
	}
	d, err := openEngine(dir, o)
	if err != nil {
		return nil, err
	}
	if _, err := d.consumer(""); err != nil {
		d.close()
		return nil, err
	}
	e.dlq = d
	return d, nil
}

// deadConsumer returns the one consumer of a dead-letter queue.
func (d *engine) deadConsumer() *cstate {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.consumers[""]
}

// live calls fn for every dead letter not yet replayed or deleted, oldest
// first, until fn returns false. It streams them from disk.
func (d *engine) live(fn func(id uint64, ent deadEntry) bool) error {
	d.mu.Lock()
	c := d.consumers[""]
	if c == nil {
		d.mu.Unlock()
		return nil
	}
	floor, last := c.floor, d.cache.published
	done := slices.Clone(c.done.r)
	d.mu.Unlock()
	if last < floor {
		return nil
	}
	for rec, err := range d.readMessages(floor) {
		if err != nil {
			return d.ioErr("read dead letters", err)
		}
		if rec.Seq > last {
			break
		}
		if inSpans(done, rec.Seq) {
			continue
		}
		ent, err := decodeDead(rec.Value)
		if err != nil {
			return &RecordError{Journal: d.msgPath, Seq: rec.Seq, Err: err}
		}
		if !fn(rec.Seq, ent) {
			break
		}
	}
	return nil
}

func inSpans(r []span, s uint64) bool {
	_, found := slices.BinarySearchFunc(r, s, func(sp span, s uint64) int {
		switch {
		case sp.hi < s:
			return -1
		case sp.lo > s:
			return 1
		}
		return 0
	})
	return found
}

func decodeDead(raw []byte) (deadEntry, error) {
	var ent deadEntry
	env, err := parseEnvelope(raw)
	if err == nil {
		err = json.Unmarshal(env.value, &ent)
	}
	return ent, err
}

// entry returns dead letter id if it is still there.
func (d *engine) entry(id uint64) (deadEntry, error) {
	d.mu.Lock()
	c := d.consumers[""]
	gone := c == nil || id == 0 || id > d.cache.published || c.resolved(id)
	d.mu.Unlock()
	if gone {
		return deadEntry{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	raw, err := d.message(id)
	if err != nil {
		return deadEntry{}, err
	}
	ent, err := decodeDead(raw)
	if err != nil {
		return ent, &RecordError{Journal: d.msgPath, Seq: id, Err: err}
	}
	return ent, nil
}

// deadLen returns the number of dead letters. It reads no file: Open
// opened the dead-letter queue if there was one (failing on its errors),
// and only this engine, which holds the directory's lock, creates one later.
func (e *engine) deadLen() int {
	e.dlqMu.Lock()
	d := e.dlq
	e.dlqMu.Unlock()
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.consumers[""]; c != nil {
		return int(c.lag(d.cache.published))
	}
	return 0
}

// replay pushes dead letter id again, as a new message for its consumer
// only, then removes it from the dead-letter queue. A crash in between can
// leave it in both: it is then replayed again, never lost.
func (e *engine) replay(id uint64) error {
	return e.settleDead(id, func(ent deadEntry) error {
		e.mu.Lock()
		_, ok := e.consumers[ent.Consumer]
		e.mu.Unlock()
		if !ok {
			return fmt.Errorf("miniqueue: replay dead letter %d: consumer %q: %w", id, ent.Consumer, ErrDeleted)
		}
		msg := appendTargetedEnvelope(nil, ent.Consumer, id, ent.Value)
		_, _, err := e.push(context.Background(), []json.RawMessage{msg}, false)
		return err
	})
}

// deleteDead removes dead letter id.
func (e *engine) deleteDead(id uint64) error {
	return e.settleDead(id, func(deadEntry) error { return nil })
}

// settleDead finds dead letter id, calls before with it, and, if before
// succeeds, acknowledges it in the dead-letter queue, all under replayMu.
func (e *engine) settleDead(id uint64, before func(deadEntry) error) error {
	e.replayMu.Lock()
	defer e.replayMu.Unlock()
	d, err := e.deadQueue(false)
	if err != nil {
		return err
	}
	if d == nil {
		return fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	ent, err := d.entry(id)
	if err != nil {
		return err
	}
	if err := before(ent); err != nil {
		return err
	}
	return d.ack(d.deadConsumer(), id)
}

// deadEntry is a message in the dead-letter queue.
type deadEntry struct {
	Consumer string          `json:"consumer"`
	Seq      uint64          `json:"seq"`
	Attempts int             `json:"attempts"`
	Reason   string          `json:"reason"`
	Time     time.Time       `json:"time"`
	Value    json.RawMessage `json:"value"`
}

// deadLetter moves message seq of consumer c to the dead-letter queue: a
// copy goes there first, then the "dead" record resolves it here. A crash
// between the two is finished by the next Open (finishDeadLetters). The
// caller holds cpMu shared and has the message claimed, so no other
// receiver takes it meanwhile; on error the caller makes it ready again.
func (e *engine) deadLetter(c *cstate, seq uint64, attempts int, reason string, value []byte) error {
	_, err := e.moveDead(c, seq, attempts, reason, value)
	return err
}

// moveDead is deadLetter, reporting whether the message was moved (false:
// an older delivery acknowledged it meanwhile, and the copy was taken out).
func (e *engine) moveDead(c *cstate, seq uint64, attempts int, reason string, value []byte) (bool, error) {
	dlq, err := e.deadQueue(true)
	if err != nil {
		return false, err
	}
	ent, err := json.Marshal(deadEntry{Consumer: c.name, Seq: seq, Attempts: attempts, Reason: reason,
		Time: time.Now().UTC(), Value: json.RawMessage(value)})
	if err != nil {
		return false, fmt.Errorf("miniqueue: encode dead letter: %w", err)
	}
	id, _, err := dlq.push(context.Background(), []json.RawMessage{appendEnvelope(nil, ent)}, false)
	if err != nil {
		return false, err
	}
	if err := e.appendCons(appendSeqRecord(nil, opDead, c.qname, seq, attempts)); err != nil {
		return false, err
	}
	e.mu.Lock()
	moved := c.resolve(seq)
	if moved {
		c.stats.dead++
		e.floorMovedLocked()
	}
	e.mu.Unlock()
	if !moved {
		// An older delivery acknowledged it meanwhile: take the copy out.
		return false, dlq.ack(dlq.deadConsumer(), id)
	}
	e.log.Warn("miniqueue: message moved to the dead-letter queue", "dir", e.dir, "consumer", c.name,
		"seq", seq, "id", id, "reason", reason)
	return true, nil
}
