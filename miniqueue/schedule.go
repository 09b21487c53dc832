// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"time"
)

// Delayed delivery (PushAt) and MaxAge.
//
// Both go by times in the message's envelope ("at", "t"), so they need no
// consumer record: a message claimed before its time is put back, delayed
// until then, and one older than MaxAge is resolved without delivery; a
// crash before a checkpoint records that leaves the message to be looked
// at again, with the same outcome.

// holdBack is called by hand for a message with a delivery time or a push
// time. It reports whether the message is held back: not due yet (then it
// waits, delayed, and its claim is undone), or older than MaxAge (then it
// is discarded for c). The caller holds cpMu shared.
func (e *engine) holdBack(c *cstate, p *pending, attempt int, recorded bool, env envelope) (bool, error) {
	now := time.Now()
	if env.at > 0 {
		if due := time.UnixMilli(env.at); due.After(now) {
			e.mu.Lock()
			if c.pend[p.seq] != p || p.status != stInFlight || p.attempts != attempt {
				e.mu.Unlock()
				return true, nil // an Ack or a Purge took it meanwhile
			}
			p.attempts = attempt - 1
			c.setStatus(p, stDelayed, due)
			c.wakeOne() // another receiver may wait for something sooner
			e.mu.Unlock()
			if recorded {
				// An Ack prefetched it: take back the delivery it recorded.
				return true, e.appendCons(appendSeqRecord(nil, opReturn, c.qname, p.seq, 0))
			}
			return true, nil
		}
	}
	if e.opts.MaxAge > 0 {
		born := max(env.t, env.at)
		if born > 0 && now.Sub(time.UnixMilli(born)) > e.opts.MaxAge {
			e.mu.Lock()
			if c.resolve(p.seq) {
				c.stats.discarded++
				e.floorMovedLocked()
			}
			e.mu.Unlock()
			return true, nil
		}
	}
	return false, nil
}
