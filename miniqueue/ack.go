// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"container/heap"
	"time"
)

// Settling a delivery: Ack (with the prefetch of the next message),
// Extend, and the return of unused prefetches at Close. Nack is in
// backoff.go, Term in term.go.

// ack resolves message seq for consumer c. The first Ack of a message wins,
// whichever delivery it comes from; later ones get ErrAcked. Ack returns
// when the ack record is durable.
//
// Ack also prefetches: if a new message is waiting, it records that
// message's first delivery in the same write and fsync as the ack, and
// leaves it for the consumer's next Receive, which then writes nothing.
// Without it a receiver that acks and receives waits for two fsyncs per
// message; with it, for one. The delivery count stays durable before the
// message is handed out; a crash before it is handed out counts one
// delivery too many (never one too few), and Close writes a "return" record
// that takes it back.
func (e *engine) ack(c *cstate, seq uint64) error {
	if err := e.lockUsable(c); err != nil {
		return err
	}
	if !c.resolve(seq) {
		e.unlockBoth()
		return ErrAcked
	}
	c.stats.acked++
	e.floorMovedLocked()
	var pre *pending
	if e.opts.MaxDeliveries != 1 {
		pre = c.prefetch(e.cache.published)
	}
	e.mu.Unlock()
	rec := appendSeqRecord(nil, opAck, c.qname, seq, 0)
	var err error
	if pre == nil {
		err = e.appendCons(rec)
	} else {
		err = e.appendConsBatch(rec, appendSeqRecord(nil, opDeliver, c.qname, pre.seq, 1))
		e.mu.Lock()
		c.prefetching--
		switch {
		case c.pend[pre.seq] != pre || pre.status != stPrefetched:
		case err == nil:
			c.prefetched = append(c.prefetched, pre)
			c.wakeOne()
		default: // not recorded: an ordinary new message again
			pre.attempts = 0
			c.setStatus(pre, stReady, time.Time{})
		}
		e.mu.Unlock()
	}
	e.cpMu.RUnlock()
	if err == nil {
		e.maybeCheckpoint()
	}
	return err
}

// returnPrefetched writes a "return" record for every prefetched message
// no receiver took, so that its recorded delivery does not count. Close
// calls it.
func (e *engine) returnPrefetched() error {
	e.cpMu.RLock()
	defer e.cpMu.RUnlock()
	var recs [][]byte
	e.mu.Lock()
	for _, c := range e.consumers {
		for _, p := range c.prefetched {
			if c.pend[p.seq] == p && p.status == stPrefetched {
				p.attempts--
				p.status = stReady
				heap.Push(&c.ready, p)
				recs = append(recs, appendSeqRecord(nil, opReturn, c.qname, p.seq, 0))
			}
		}
		c.prefetched = nil
	}
	e.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	return e.appendConsBatch(recs...)
}

// current returns the pending entry of delivery attempt of seq, or the
// reason it cannot take a Nack or an Extend.
func (e *engine) currentLocked(c *cstate, seq uint64, attempt int) (*pending, error) {
	if err := e.usableLocked(c); err != nil {
		return nil, err
	}
	if c.resolved(seq) {
		return nil, ErrAcked
	}
	p := c.pend[seq]
	if p == nil || p.attempts != attempt || p.moving {
		return nil, ErrStale // (moving: on its way to the dead-letter queue)
	}
	return p, nil
}

// extend sets a delivery's lease to end d from now.
func (e *engine) extend(c *cstate, seq uint64, attempt int, d time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.currentLocked(c, seq, attempt)
	if err != nil {
		return err
	}
	c.setStatus(p, stInFlight, time.Now().Add(d))
	if d <= 0 {
		c.wakeOne()
	}
	return nil
}
