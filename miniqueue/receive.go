// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// receive hands out the next message of consumer c, waiting until there is
// one or ctx ends. accept decodes the message's value; a message it refuses
// goes to the dead-letter queue and the next one is tried.
//
// The delivery record, with the message's new delivery count, is durable
// before receive returns (written here, or by the Ack that prefetched the
// message): a message that crashes its consumer every time still reaches
// MaxDeliveries.
//
// Without wait, it returns errNoneReady instead of waiting.
func (e *engine) receive(ctx context.Context, c *cstate, wait bool, accept func(value []byte) error) (seq uint64, attempt int, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		e.cpMu.RLock()
		e.mu.Lock()
		if err := e.usableLocked(c); err != nil {
			e.mu.Unlock()
			e.cpMu.RUnlock()
			return 0, 0, err
		}
		p, recorded, wake := c.claim(time.Now(), e.cache.published, e.opts.VisibilityTimeout, e.opts.BackOff)
		if p == nil && !wait {
			e.mu.Unlock()
			e.cpMu.RUnlock()
			return 0, 0, errNoneReady
		}
		if p == nil {
			ch := make(chan struct{}, 1)
			c.waiters = append(c.waiters, ch)
			e.mu.Unlock()
			e.cpMu.RUnlock()
			if err := e.wait(ctx, c, ch, wake); err != nil {
				return 0, 0, err
			}
			continue
		}
		attempt = p.attempts + 1
		over := false
		switch {
		case recorded:
			attempt = p.attempts
		case e.opts.MaxDeliveries > 0 && attempt > e.opts.MaxDeliveries:
			// On its way to the dead-letter queue: no lease runs out meanwhile.
			over = true
			p.moving = true
			c.setStatus(p, stInFlight, time.Now().Add(100*365*24*time.Hour))
		default:
			p.attempts = attempt
		}
		if c.available(e.cache.published) {
			c.wakeOne() // more to do: let another receiver take it
		}
		e.mu.Unlock()
		ok, err := e.hand(c, p, attempt, over, recorded, accept)
		if err != nil {
			// Undo the claim before a checkpoint can see it: the delivery
			// did not happen (though a prefetched one stays counted).
			e.mu.Lock()
			if c.pend[p.seq] == p && p.status == stInFlight && (over || p.attempts == attempt) {
				if !over && !recorded {
					p.attempts = attempt - 1
				}
				p.moving = false
				c.setStatus(p, stReady, time.Time{})
				c.wakeOne()
			}
			e.mu.Unlock()
		}
		e.cpMu.RUnlock()
		if err != nil {
			return 0, 0, err
		}
		e.maybeCheckpoint()
		if ok {
			return p.seq, attempt, nil
		}
	}
}

// errNoneReady is receive's answer, without wait, when no message is ready.
var errNoneReady = errors.New("miniqueue: no message ready")

// wait blocks until the receiver is woken, wake passes (a lease or a delay
// runs out), the queue closes or ctx ends.
func (e *engine) wait(ctx context.Context, c *cstate, ch chan struct{}, wake time.Time) error {
	var timeout <-chan time.Time
	if !wake.IsZero() {
		t := time.NewTimer(time.Until(wake))
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case <-ch:
	case <-timeout:
	case <-e.closing:
	case <-ctx.Done():
		err = ctx.Err()
	}
	e.mu.Lock()
	if !c.removeWaiter(ch) && err != nil {
		c.wakeOne() // woken, but leaving: pass the wake-up on
	}
	e.mu.Unlock()
	return err
}

// hand finishes a claim: it reads the message, skips it if it is meant for
// another consumer, dead-letters it if it went over MaxDeliveries or does
// not decode, and otherwise writes the delivery record (unless recorded: a
// prefetched message's is written). It reports whether the message is to be
// returned. The caller holds cpMu shared.
func (e *engine) hand(c *cstate, p *pending, attempt int, over, recorded bool, accept func([]byte) error) (bool, error) {
	raw, err := e.message(p.seq)
	if err != nil {
		return false, err
	}
	env, perr := parseEnvelope(raw)
	switch {
	case perr != nil:
		return false, e.deadLetter(c, p.seq, attempt-1, "undecodable message record: "+perr.Error(), raw)
	case env.targeted && env.to != c.name:
		e.mu.Lock()
		if c.resolve(p.seq) {
			e.floorMovedLocked()
		}
		e.mu.Unlock()
		return false, nil
	case !over && (env.at > 0 || (e.opts.MaxAge > 0 && env.t > 0)):
		if held, err := e.holdBack(c, p, attempt, recorded, env); held || err != nil {
			return false, err
		}
	}
	if over {
		return false, e.deadLetter(c, p.seq, attempt-1, fmt.Sprintf("MaxDeliveries reached (%d deliveries)", attempt-1), env.value)
	}
	if err := accept(env.value); err != nil {
		return false, e.deadLetter(c, p.seq, attempt-1, "decode: "+err.Error(), env.value)
	}
	if !recorded {
		if err := e.appendCons(appendSeqRecord(nil, opDeliver, c.qname, p.seq, attempt)); err != nil {
			return false, err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Meanwhile an older delivery may have acked it, or its lease run out
	// and another receiver taken it.
	if c.pend[p.seq] != p || p.attempts != attempt || p.status != stInFlight {
		return false, nil
	}
	c.stats.delivered++
	if attempt > 1 {
		c.stats.redelivered++
	}
	return true, nil
}

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
	e.cpMu.RLock()
	e.mu.Lock()
	if err := e.usableLocked(c); err != nil {
		e.mu.Unlock()
		e.cpMu.RUnlock()
		return err
	}
	if !c.resolve(seq) {
		e.mu.Unlock()
		e.cpMu.RUnlock()
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
