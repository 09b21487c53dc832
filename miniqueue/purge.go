// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"errors"
	"fmt"
)

// Purge and Delete remove messages for every consumer, present and to
// come. Each writes one consumer record ("purge" up to a message, "remove"
// of one message) and returns once it is durable. Recovery applies them
// like acknowledgements of every consumer there is at that point; the
// messages removed one by one are also kept in a set (e.removed, in
// checkpoints "removed") that a consumer created later starts with.

// ErrNoMessage is returned by Delete for a message the queue does not hold
// (any more): beyond its end, or resolved by every consumer.
var ErrNoMessage = errors.New("miniqueue: no such message")

// purge resolves every message up to upTo (every message, if upTo is 0 or
// beyond the end) for every consumer, and makes new consumers start after
// them.
func (e *engine) purge(upTo uint64) error {
	if err := e.lockUsable(nil); err != nil {
		return err
	}
	defer e.cpMu.RUnlock()
	if upTo == 0 || upTo > e.cache.published {
		upTo = e.cache.published
	}
	if upTo == 0 {
		e.mu.Unlock()
		return nil // nothing was ever pushed
	}
	purgeState(e.consumers, &e.removed, upTo)
	e.base = max(e.base, upTo+1)
	e.floorMovedLocked()
	e.mu.Unlock()
	return e.appendCons(appendSeqRecord(nil, opPurge, nil, upTo, 0))
}

// purgeState applies a purge up to upTo to the consumers and removed set.
func purgeState(cs map[string]*cstate, removed *rangeSet, upTo uint64) {
	for _, c := range cs {
		c.resolveBelow(upTo + 1)
	}
	removed.dropBelow(upTo + 1)
}

// remove resolves message seq for every consumer, and for the consumers to
// come.
func (e *engine) remove(seq uint64) error {
	if err := e.lockUsable(nil); err != nil {
		return err
	}
	defer e.cpMu.RUnlock()
	held := seq >= e.base && seq <= e.cache.published && !e.removed.contains(seq)
	if len(e.consumers) > 0 {
		held = false
		for _, c := range e.consumers {
			held = held || (seq <= e.cache.published && !c.resolved(seq))
		}
	}
	if !held {
		e.mu.Unlock()
		return fmt.Errorf("%w: %d", ErrNoMessage, seq)
	}
	removeState(e.consumers, &e.removed, seq)
	e.floorMovedLocked()
	e.mu.Unlock()
	return e.appendCons(appendSeqRecord(nil, opRemove, nil, seq, 0))
}

// removeState applies the removal of seq to the consumers and removed set.
func removeState(cs map[string]*cstate, removed *rangeSet, seq uint64) {
	for _, c := range cs {
		c.resolve(seq)
	}
	removed.add(seq)
}

// startRemoved makes a new consumer skip the messages removed one by one.
func startRemoved(c *cstate, removed *rangeSet) {
	for _, sp := range removed.r {
		for s := max(sp.lo, c.floor); s <= sp.hi && s >= sp.lo; s++ {
			c.done.add(s)
		}
	}
	c.floor = c.done.popFrom(c.floor)
}

// resolveBelow resolves every message below limit.
func (c *cstate) resolveBelow(limit uint64) {
	if c.floor >= limit {
		return
	}
	for s, p := range c.pend {
		if s < limit {
			c.unqueue(p)
			delete(c.pend, s)
		}
	}
	c.done.dropBelow(limit)
	c.floor = c.done.popFrom(limit)
	c.next = max(c.next, c.floor)
}
