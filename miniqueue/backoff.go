// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"strconv"
	"time"
)

// Back-off: a Nack with a delay (given, or taken from Options.BackOff)
// writes a "nack" record with the time from which the message may be
// delivered again, and returns once it is durable; recovery and
// checkpoints keep that time, so the delay survives a restart or a crash.
// A visibility timeout that runs out, with BackOff set, delays the message
// in memory the same way (a checkpoint keeps it; a crash may not).

// backoff returns the delay Options.BackOff gives after delivery attempt
// n, or 0.
func backoff(list []time.Duration, n int) time.Duration {
	if len(list) == 0 || n < 1 {
		return 0
	}
	return list[min(n, len(list))-1]
}

// unixMilliCeil returns t in milliseconds since the epoch, rounded up, so
// that a time read back is never earlier than the one written.
func unixMilliCeil(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// appendNackRecord appends {"op":"nack","c":...,"seq":S,"n":N,"at":MS}.
func appendNackRecord(dst, qname []byte, seq uint64, n int, at int64) []byte {
	dst = appendSeqRecord(dst, opNack, qname, seq, n)
	dst = append(dst[:len(dst)-1], `,"at":`...)
	dst = strconv.AppendInt(dst, at, 10)
	return append(dst, '}')
}

// nack makes a delivery's message available again after delay: at once if
// delay < 0, or if it is 0 and BackOff is not set; else after delay, or
// BackOff's delay for the attempt when delay is 0. A delayed Nack returns
// when its "nack" record is durable; one that is not delayed writes nothing
// (the delivery count was recorded when the message was handed out).
func (e *engine) nack(c *cstate, seq uint64, attempt int, delay time.Duration) error {
	if delay == 0 {
		delay = backoff(e.opts.BackOff, attempt)
	}
	if delay <= 0 {
		e.mu.Lock()
		defer e.mu.Unlock()
		p, err := e.currentLocked(c, seq, attempt)
		if err != nil {
			return err
		}
		c.stats.nacked++
		c.setStatus(p, stReady, time.Time{})
		c.wakeOne()
		return nil
	}
	p, err := e.lockCurrent(c, seq, attempt)
	if err != nil {
		return err
	}
	defer e.cpMu.RUnlock()
	c.stats.nacked++
	at := time.Now().Add(delay)
	c.setStatus(p, stDelayed, at)
	c.wakeOne() // a waiting receiver sets its timer to the new time
	e.mu.Unlock()
	return e.appendCons(appendNackRecord(nil, c.qname, seq, attempt, unixMilliCeil(at)))
}
