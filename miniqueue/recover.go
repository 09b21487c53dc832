// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"fmt"
	"time"
)

// recover rebuilds the consumer state from the consumer journal: it applies
// every record in order, and a checkpoint replaces everything before it.
// (The journal is only ever cut at a checkpoint, or, by older releases,
// before one, so whatever the journal starts with, the state from its
// newest checkpoint on is whole; a journal that was cut and holds no
// checkpoint lost it.)
// Every message left unresolved and handed out is then ready to be
// delivered again. It returns the message from which Open reads the
// de-duplication IDs (0: none were used).
func (e *engine) recover() (dedupFrom uint64, err error) {
	cs := map[string]*cstate{}
	base := uint64(1)
	var (
		since         int64
		durable, cpAt uint64 // the highest "last" of a checkpoint, and that checkpoint
	)
	var removed rangeSet
	sawCP := false
	for rec, err := range e.consRecords() {
		if err != nil {
			return 0, e.ioErr("read consumer journal", err)
		}
		r, err := parseConsRecord(rec.Value)
		if err != nil {
			return 0, &RecordError{Journal: e.consPath, Seq: rec.Seq, Err: err}
		}
		isNew := r.Op == opNew && cs[r.C] == nil
		base = applyRecord(cs, base, r)
		since += int64(len(rec.Value)) + 48
		switch r.Op {
		case opNew:
			if isNew {
				startRemoved(cs[r.C], &removed)
			}
		case opPurge:
			purgeState(cs, &removed, r.Seq)
			base = max(base, r.Seq+1)
		case opRemove:
			removeState(cs, &removed, r.Seq)
		case opCheckpoint:
			sawCP = true
			since = 0
			dedupFrom = r.Dedup
			if r.Last > durable {
				durable, cpAt = r.Last, rec.Seq
			}
			removed = rangeSet{}
			for _, d := range r.Removed {
				removed.r = append(removed.r, span{d[0], d[1]})
				removed.total += d[1] - d[0] + 1
			}
		case opDedup:
			if dedupFrom == 0 {
				dedupFrom = r.Seq
			}
		}
	}
	e.sinceCP.Store(since)
	if e.ro == nil {
		if first := e.cons.FirstSeq(); !sawCP && (first > 1 || first == 0 && e.cons.NextSeq() > 1) {
			return 0, &RecordError{Journal: e.consPath, Err: fmt.Errorf(
				"the journal was cut at a checkpoint, at record %d, but holds none", max(first, e.cons.NextSeq()))}
		}
	}
	first, last, err := e.msgBounds()
	if err != nil {
		return 0, err
	}
	if durable > last {
		// Not a crash: the checkpoint was written after message durable
		// was fsync'd. The message journal lost records, whether ministore
		// cut them as a torn tail (keeping a .broken copy) or the file was
		// cut short at a line end.
		return 0, &RecordError{Journal: e.msgPath, Err: fmt.Errorf("ends at message %d, but message %d was durable when record %d of %s was written",
			last, durable, cpAt, e.consPath)}
	}
	now := time.Now()
	for _, c := range cs {
		if err := checkAgainstMessages(c, first, last); err != nil {
			return 0, &RecordError{Journal: e.consPath, Err: err}
		}
		c.rebuild(now)
	}
	for _, c := range cs {
		base = max(base, c.floor)
	}
	if base > last+1 {
		return 0, &RecordError{Journal: e.consPath, Err: fmt.Errorf("queue floor %d is beyond the message journal's end, %d", base, last)}
	}
	if n := len(removed.r); n > 0 && removed.r[n-1].hi > last {
		return 0, &RecordError{Journal: e.consPath, Err: fmt.Errorf("message %d removed, but the message journal ends at %d", removed.r[n-1].hi, last)}
	}
	e.consumers = cs
	e.removed = removed
	e.base = base
	if mf, ok := e.minFloorLocked(); ok {
		e.base = max(e.base, mf)
	}
	return dedupFrom, nil
}

// applyRecord applies one consumer record to the state being recovered,
// and returns the queue floor (see engine.base). Records about a consumer
// that does not exist are ignored: an Ack can be written just after the
// consumer's deletion.
func applyRecord(cs map[string]*cstate, base uint64, r consRecord) uint64 {
	switch r.Op {
	case opNew:
		if cs[r.C] == nil {
			cs[r.C] = newCState(r.C, r.From)
		}
	case opDelete:
		if _, ok := cs[r.C]; ok && len(cs) == 1 {
			base = max(base, cs[r.C].floor)
		}
		delete(cs, r.C)
	case opDeliver:
		if p := deliveredPending(cs, r); p != nil {
			p.until = time.Time{} // delivered again: an older Nack's delay is over
		}
	case opNack:
		c := cs[r.C]
		if c == nil || c.resolved(r.Seq) {
			return base
		}
		if p := c.pend[r.Seq]; p != nil && p.attempts <= r.N {
			p.attempts = r.N
			p.until = time.UnixMilli(r.At)
		}
	case opAck, opDead:
		if c := cs[r.C]; c != nil {
			c.resolve(r.Seq)
		}
	case opTerm:
		if p := deliveredPending(cs, r); p != nil {
			p.termed = true
		}
	case opReturn:
		if c := cs[r.C]; c != nil {
			if p := c.pend[r.Seq]; p != nil && p.attempts > 0 {
				p.attempts--
			}
		}
	case opCheckpoint:
		clear(cs)
		for _, cc := range r.Consumers {
			cs[cc.C] = fromCheckpoint(cc)
		}
		base = max(base, r.Base)
	}
	return base
}

// checkAgainstMessages verifies that a consumer's state fits the message
// journal, which holds messages first..last (first is 0 when it is empty).
func checkAgainstMessages(c *cstate, first, last uint64) error {
	top := max(c.next, c.floor) - 1
	if n := len(c.done.r); n > 0 {
		top = max(top, c.done.r[n-1].hi)
	}
	for s := range c.pend {
		top = max(top, s)
	}
	if top > last {
		return fmt.Errorf("consumer %q has handled messages up to %d, but the message journal ends at %d",
			c.name, top, last)
	}
	if first > 0 && c.floor < first && c.floor <= last {
		return fmt.Errorf("consumer %q has not resolved message %d, but the message journal starts at %d",
			c.name, c.floor, first)
	}
	return nil
}

// finishDeadLetters completes the moves to the dead-letter queue that a
// crash interrupted: a message that reached MaxDeliveries and is in the
// dead-letter queue already, but whose "dead" record was not written, gets
// that record now instead of a second copy in the dead-letter queue.
//
// A message named by a "term" record (Message.Term was moving it) is
// finished the same way; if its copy is not in the dead-letter queue, Term
// did not return, and the message is delivered again.
func (e *engine) finishDeadLetters() error {
	type key struct {
		c string
		s uint64
	}
	cand := map[key]*cstate{}
	e.mu.Lock()
	for _, c := range e.consumers {
		for s, p := range c.pend {
			if p.termed || (e.opts.MaxDeliveries > 0 && p.attempts >= e.opts.MaxDeliveries) {
				cand[key{c.name, s}] = c
			}
		}
	}
	e.mu.Unlock()
	if len(cand) == 0 {
		return nil
	}
	dlq, err := e.deadQueue(false)
	if err != nil || dlq == nil {
		return err
	}
	var moved []key
	err = dlq.live(func(_ uint64, ent deadEntry) bool {
		if _, ok := cand[key{ent.Consumer, ent.Seq}]; ok {
			moved = append(moved, key{ent.Consumer, ent.Seq})
		}
		return true
	})
	if err != nil {
		return err
	}
	e.cpMu.RLock()
	defer e.cpMu.RUnlock()
	for _, k := range moved {
		c := cand[k]
		e.mu.Lock()
		n := e.opts.MaxDeliveries
		if p := c.pend[k.s]; p != nil {
			n = p.attempts
		}
		e.mu.Unlock()
		if err := e.appendCons(appendSeqRecord(nil, opDead, c.qname, k.s, max(n, 1))); err != nil {
			return err
		}
		e.mu.Lock()
		if c.resolve(k.s) {
			c.stats.dead++
			e.floorMovedLocked()
		}
		e.mu.Unlock()
	}
	return nil
}

// deliveredPending records that record r (a delivery, or a Term of one)
// handed message r.Seq to consumer r.C for attempt r.N, and returns its
// pending entry; nil if the consumer is gone or the message resolved.
func deliveredPending(cs map[string]*cstate, r consRecord) *pending {
	c := cs[r.C]
	if c == nil || c.resolved(r.Seq) {
		return nil
	}
	p := c.pend[r.Seq]
	if p == nil {
		p = newPending(r.Seq, 0)
		c.pend[r.Seq] = p
	}
	p.attempts = max(p.attempts, r.N)
	c.next = max(c.next, r.Seq+1)
	return p
}
