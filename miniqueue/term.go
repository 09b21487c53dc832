// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"time"
)

// term moves the message of delivery attempt of seq straight to the
// dead-letter queue. It writes a "term" record first (so that Open can
// finish the move if a crash cuts it short), then the dead letter, then the
// "dead" record, all while holding cpMu shared: no checkpoint falls between
// them. It returns when the message is resolved for c and durable in the
// dead-letter queue, once.
func (e *engine) term(c *cstate, seq uint64, attempt int, reason string) error {
	p, err := e.lockCurrent(c, seq, attempt)
	if err != nil {
		return err
	}
	defer e.cpMu.RUnlock()
	// Claimed for the move: no receiver takes it meanwhile, no lease runs out.
	prevStatus, prevAt := p.status, p.at
	p.moving = true
	c.setStatus(p, stInFlight, time.Now().Add(100*365*24*time.Hour))
	e.mu.Unlock()

	moved, err := e.termMove(c, seq, attempt, reason)
	if err != nil || !moved {
		e.mu.Lock()
		if c.pend[seq] == p {
			p.moving = false
			c.setStatus(p, prevStatus, prevAt)
			if prevStatus == stReady {
				c.wakeOne()
			}
		}
		e.mu.Unlock()
	}
	if err == nil && !moved {
		return ErrAcked
	}
	return err
}

func (e *engine) termMove(c *cstate, seq uint64, attempt int, reason string) (bool, error) {
	raw, err := e.message(seq)
	if err != nil {
		return false, err
	}
	value := raw
	if env, perr := parseEnvelope(raw); perr == nil {
		value = env.value
	}
	if err := e.appendCons(appendSeqRecord(nil, opTerm, c.qname, seq, attempt)); err != nil {
		return false, err
	}
	// If the move fails from here on, the dead letter may still be written:
	// checkpoints keep the mark so that Open finishes the move.
	e.mu.Lock()
	if p := c.pend[seq]; p != nil {
		p.termed = true
	}
	e.mu.Unlock()
	return e.moveDead(c, seq, attempt, "Term: "+reason, value)
}
