// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// maxGroupBytes bounds the records one group log gathers (a call larger
// than that goes in a log of its own).
const maxGroupBytes = 1 << 20

// A grouper puts the calls of concurrent Applies on the leader into as few
// raft logs as it can: while raft stores one log, the calls that arrive
// wait in a queue, and when the store returns they go to raft together, as
// one group log (see group.go). Raft appends, replicates, fsyncs and
// commits a log at the same cost whatever it holds, so the cost per call
// falls with the number of calls in a log; a call waits no longer than it
// would have waited for raft to take it anyway.
//
// A call is sealed once it is in a log handed to raft: from then on raft
// may commit it, so a caller that stops waiting must report the outcome
// unknown. A call still in the queue can be withdrawn: it was never
// applied.
type grouper struct {
	raft     *raft.Raft
	stored   func() <-chan struct{} // closed when the log store's next StoreLogs returns
	max      int                    // calls per log
	classify func(error) error      // raft's Apply error to this package's
	closed   <-chan struct{}

	mu    sync.Mutex
	queue []*call
	wake  chan struct{} // capacity 1: the queue has calls
	wg    sync.WaitGroup
}

// A call is one Apply's record waiting for its log and its result.
type call struct {
	data []byte
	rid  string
	// deadline bounds the time raft may take to accept the log.
	deadline time.Time

	done   chan struct{} // closed when seq, dup and err are set
	seq    uint64
	dup    bool
	err    error
	sealed bool // guarded by grouper.mu
}

func newGrouper(r *raft.Raft, stored func() <-chan struct{}, max int, classify func(error) error, closed <-chan struct{}) *grouper {
	g := &grouper{raft: r, stored: stored, max: max, classify: classify, closed: closed, wake: make(chan struct{}, 1)}
	g.wg.Go(g.run)
	return g
}

// add queues c.
func (g *grouper) add(c *call) {
	g.mu.Lock()
	g.queue = append(g.queue, c)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// withdraw takes c out of the queue if it is not sealed yet, and reports
// whether it did: c is then never applied.
func (g *grouper) withdraw(c *call) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.sealed {
		return false
	}
	for i, q := range g.queue {
		if q == c {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			break
		}
	}
	return true
}

// wait waits for the goroutine of the grouper to end, after closed.
func (g *grouper) wait() { g.wg.Wait() }

func (g *grouper) run() {
	for {
		select {
		case <-g.wake:
		case <-g.closed:
			return
		}
		for {
			batch := g.take()
			if len(batch) == 0 {
				break
			}
			stored := g.stored()
			done := g.send(batch)
			// Let calls gather until raft has stored this log (it takes
			// no other until then), or has answered it.
			select {
			case <-stored:
			case <-done:
			case <-g.closed:
				return
			}
		}
	}
}

// take seals and returns the calls for the next log: up to max of them
// and maxGroupBytes of records, at least one. A call without data goes
// alone (a group cannot hold it).
func (g *grouper) take() []*call {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, size := 0, 0
	for n < len(g.queue) && n < g.max {
		d := len(g.queue[n].data)
		if n > 0 && (d == 0 || size+d > maxGroupBytes) {
			break
		}
		n++
		size += d
		if d == 0 {
			break
		}
	}
	batch := make([]*call, n)
	copy(batch, g.queue)
	for _, c := range batch {
		c.sealed = true
	}
	g.queue = append(g.queue[:0], g.queue[n:]...)
	return batch
}

// send hands the log of batch to raft, and returns a channel closed once
// every call of it has its result.
func (g *grouper) send(batch []*call) <-chan struct{} {
	var l raft.Log
	deadline := batch[0].deadline
	if len(batch) == 1 {
		l.Data = batch[0].data
		l.Extensions, _ = encodeRequestExt(batch[0].rid) // checked by the caller
	} else {
		recs := make([][]byte, len(batch))
		rids := make([]string, len(batch))
		size := 2
		for i, c := range batch {
			recs[i], rids[i] = c.data, c.rid
			size += len(c.data) + 1
			if c.deadline.Before(deadline) {
				deadline = c.deadline
			}
		}
		l.Data = appendGroupData(make([]byte, 0, size), recs)
		l.Extensions = encodeGroupExt(rids)
	}
	// Raft's timeout 0 means none; a call past its deadline that is
	// already sealed gets a short one.
	timeout := max(time.Until(deadline), time.Millisecond)
	f := g.raft.ApplyLog(l, timeout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.finish(f, batch)
	}()
	return done
}

// finish waits for the log of batch and gives each call its result.
func (g *grouper) finish(f raft.ApplyFuture, batch []*call) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	if err := f.Error(); err != nil {
		err = g.classify(err)
		for _, c := range batch {
			c.err = err
		}
		return
	}
	index, resp := f.Index(), f.Response()
	if gr, ok := resp.(groupResult); ok && len(batch) > 1 && len(gr) == len(batch) {
		for i, c := range batch {
			c.seq, c.dup, c.err = callResult(index, gr[i])
		}
		return
	}
	for _, c := range batch {
		c.seq, c.dup, c.err = callResult(index, resp)
	}
}

// callResult turns the fsm's result for one call of the log at index into
// Apply's.
func callResult(index uint64, r any) (seq uint64, dup bool, err error) {
	switch r := r.(type) {
	case nil:
		return index, false, nil
	case dupResult:
		if r.err != nil {
			return 0, true, r.err // as the first call returned it
		}
		return r.seq, true, nil
	case error:
		return 0, false, r
	default:
		return 0, false, fmt.Errorf("%w: %T", errNotApplied, r)
	}
}
