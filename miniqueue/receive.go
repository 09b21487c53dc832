// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
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
		if err := e.lockUsable(c); err != nil {
			return 0, 0, err
		}
		p, recorded, wake := c.claim(time.Now(), e.cache.published, e.opts.VisibilityTimeout, e.opts.BackOff)
		if p == nil && !wait {
			e.unlockBoth()
			return 0, 0, errNoneReady
		}
		if p == nil {
			ch := make(chan struct{}, 1)
			c.waiters = append(c.waiters, ch)
			e.unlockBoth()
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
