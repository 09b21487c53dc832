// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"cmp"
	"container/heap"
	"slices"
	"time"
)

// cstate is the delivery state of one consumer. Every field is guarded by
// the engine's mu.
//
// Messages below floor are resolved (acknowledged, dead-lettered, or meant
// for another consumer); so are those in done. Messages from next on were
// never handed out. Every unresolved message in [floor, next) has a pending
// entry: it is in flight (leased to a receiver until its deadline), ready
// (to be delivered again now), delayed (by Nack, until its time), or
// prefetched (its delivery recorded, waiting for a receiver).
type cstate struct {
	name    string
	qname   []byte // name as a JSON string
	floor   uint64
	next    uint64
	done    rangeSet
	pend    map[uint64]*pending
	ready   pheap // ready entries, lowest sequence number first
	timers  pheap // in-flight and delayed entries, earliest time first
	waiters []chan struct{}
	// prefetched are new messages whose delivery an Ack recorded along with
	// its own record (see engine.ack); the next receivers take them without
	// writing. prefetching counts those whose records are being written.
	prefetched  []*pending
	prefetching int
	deleted     bool
	stats       counters
}

type status uint8

const (
	stReady status = iota
	stInFlight
	stDelayed
	stPrefetched // in no heap
)

// pending is an unresolved message that was handed out at least once (or
// was about to be when the process stopped).
type pending struct {
	seq      uint64
	attempts int       // deliveries so far
	status   status    //
	at       time.Time // lease deadline (in flight) or end of the delay
	idx      int       // index in the heap holding it
	moving   bool      // being moved to the dead-letter queue
	termed   bool      // a Term was cut short after its "term" record (Open finishes the move)
	until    time.Time // recovery: not to be delivered again before (a delayed Nack)
}

// maxPrefetched bounds the messages an Ack prefetches for a consumer, and
// so the deliveries a crash can count that did not happen.
const maxPrefetched = 64

func newPending(seq uint64, attempts int) *pending {
	return &pending{seq: seq, attempts: attempts, idx: -1}
}

// counters are the per-consumer statistics since Open.
type counters struct {
	delivered, redelivered, acked, nacked, expired, dead, discarded uint64
}

func newCState(name string, from uint64) *cstate {
	return &cstate{
		name:   name,
		qname:  quoteName(name),
		floor:  from,
		next:   from,
		pend:   map[uint64]*pending{},
		ready:  pheap{byTime: false},
		timers: pheap{byTime: true},
	}
}

func (c *cstate) resolved(seq uint64) bool { return seq < c.floor || c.done.contains(seq) }

// resolve marks seq resolved and advances the floor over it. It reports
// whether seq was unresolved.
func (c *cstate) resolve(seq uint64) bool {
	if c.resolved(seq) {
		return false
	}
	if p := c.pend[seq]; p != nil {
		c.unqueue(p)
		delete(c.pend, seq)
	}
	c.done.add(seq)
	c.floor = c.done.popFrom(c.floor)
	return true
}

// unqueue removes p from the heap it is in.
func (c *cstate) unqueue(p *pending) {
	if p.idx < 0 {
		return
	}
	if p.status == stReady {
		heap.Remove(&c.ready, p.idx)
	} else {
		heap.Remove(&c.timers, p.idx)
	}
}

// setStatus moves p to the heap for st.
func (c *cstate) setStatus(p *pending, st status, at time.Time) {
	c.unqueue(p)
	p.status, p.at = st, at
	if st == stReady {
		heap.Push(&c.ready, p)
	} else {
		heap.Push(&c.timers, p)
	}
}

// promote makes the leases and delays that ran out by now ready. With a
// back-off, a lease that ran out becomes a delay first.
func (c *cstate) promote(now time.Time, backOff []time.Duration) {
	for c.timers.Len() > 0 && !c.timers.s[0].at.After(now) {
		p := c.timers.s[0]
		if p.status == stInFlight {
			c.stats.expired++
			if d := backoff(backOff, p.attempts); d > 0 {
				c.setStatus(p, stDelayed, p.at.Add(d))
				continue
			}
		}
		c.setStatus(p, stReady, time.Time{})
	}
}

// nextNew returns the first message never handed out.
func (c *cstate) nextNew() uint64 {
	n := max(c.next, c.floor)
	for _, sp := range c.done.r { // skip messages resolved without delivery
		if sp.lo > n {
			break
		}
		if n <= sp.hi {
			n = sp.hi + 1
		}
	}
	return n
}

// claim picks the message to deliver next, if any: a prefetched one (whose
// delivery is recorded already: recorded is true), else the oldest one ready
// for redelivery, else the next new one up to published. It leases it until
// now+lease. Otherwise it returns the time of the next lease or delay to run
// out (zero if none).
func (c *cstate) claim(now time.Time, published uint64, lease time.Duration, backOff []time.Duration) (p *pending, recorded bool, wake time.Time) {
	c.promote(now, backOff)
	for len(c.prefetched) > 0 {
		p := c.prefetched[0]
		c.prefetched = c.prefetched[1:]
		if c.pend[p.seq] == p && p.status == stPrefetched {
			c.setStatus(p, stInFlight, now.Add(lease))
			return p, true, time.Time{}
		}
	}
	if c.ready.Len() > 0 {
		p := c.ready.s[0]
		c.setStatus(p, stInFlight, now.Add(lease))
		return p, false, time.Time{}
	}
	n := c.nextNew()
	c.next = n
	if n <= published {
		c.next = n + 1
		p := newPending(n, 0)
		c.pend[n] = p
		c.setStatus(p, stInFlight, now.Add(lease))
		return p, false, time.Time{}
	}
	if c.timers.Len() > 0 {
		return nil, false, c.timers.s[0].at
	}
	return nil, false, time.Time{}
}

// prefetch claims the next new message, if there is one up to published,
// for a receiver to come: its delivery (attempt 1) is recorded with the Ack
// that calls this, so that the goroutine that acked finds its next message
// recorded already. Only new messages are prefetched, when none is waiting
// for redelivery, and at most maxPrefetched at a time.
func (c *cstate) prefetch(published uint64) *pending {
	if c.ready.Len() > 0 || len(c.prefetched)+c.prefetching >= maxPrefetched {
		return nil // redeliveries go first
	}
	n := c.nextNew()
	c.next = n
	if n > published {
		return nil
	}
	c.next = n + 1
	p := newPending(n, 1)
	p.status = stPrefetched
	c.pend[n] = p
	c.prefetching++
	return p
}

// available reports whether claim would find a message right now.
func (c *cstate) available(published uint64) bool {
	return len(c.prefetched) > 0 || c.ready.Len() > 0 || c.nextNew() <= published
}

// lag is the number of messages up to published not yet resolved.
func (c *cstate) lag(published uint64) uint64 {
	if published+1 <= c.floor {
		return 0
	}
	n := published + 1 - c.floor
	return n - min(n, c.done.total)
}

func (c *cstate) inFlight() int {
	n := 0
	for _, p := range c.timers.s {
		if p.status == stInFlight {
			n++
		}
	}
	return n
}

// wakeOne wakes the longest-waiting receiver, if any.
func (c *cstate) wakeOne() {
	if len(c.waiters) == 0 {
		return
	}
	ch := c.waiters[0]
	c.waiters = c.waiters[1:]
	ch <- struct{}{} // buffered; each waiter is woken at most once
}

func (c *cstate) wakeAll() {
	for len(c.waiters) > 0 {
		c.wakeOne()
	}
}

// removeWaiter takes ch off the list and reports whether it was still on
// it (false: it was woken).
func (c *cstate) removeWaiter(ch chan struct{}) bool {
	i := slices.Index(c.waiters, ch)
	if i < 0 {
		return false
	}
	c.waiters = slices.Delete(c.waiters, i, i+1)
	return true
}

// snapshot returns the state to write in a checkpoint.
func (c *cstate) snapshot() cpConsumer {
	cp := cpConsumer{C: c.name, Floor: c.floor, Next: max(c.next, c.floor), Done: c.done.spans()}
	for s, p := range c.pend {
		if p.attempts > 0 {
			cp.Attempts = append(cp.Attempts, [2]uint64{s, uint64(p.attempts)})
		}
		if p.termed {
			cp.Term = append(cp.Term, s)
		}
		if p.status == stDelayed {
			cp.Delays = append(cp.Delays, [2]uint64{s, uint64(max(unixMilliCeil(p.at), 1))})
		}
	}
	slices.SortFunc(cp.Delays, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) })
	slices.SortFunc(cp.Attempts, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) })
	slices.Sort(cp.Term)
	return cp
}

// fromCheckpoint returns the state a checkpoint describes, before rebuild.
func fromCheckpoint(cp cpConsumer) *cstate {
	c := newCState(cp.C, cp.Floor)
	c.next = cp.Next
	for _, d := range cp.Done {
		c.done.r = append(c.done.r, span{d[0], d[1]})
		c.done.total += d[1] - d[0] + 1
	}
	c.floor = c.done.popFrom(c.floor)
	for _, a := range cp.Attempts {
		if !c.resolved(a[0]) {
			c.pend[a[0]] = newPending(a[0], int(a[1]))
		}
	}
	for _, d := range cp.Delays {
		if p := c.pend[d[0]]; p != nil {
			p.until = time.UnixMilli(int64(d[1]))
		}
	}
	for _, s := range cp.Term {
		if !c.resolved(s) {
			if c.pend[s] == nil {
				c.pend[s] = newPending(s, 0)
			}
			c.pend[s].termed = true
		}
	}
	return c
}

// rebuild runs after recovery: every unresolved message in [floor, next) is
// ready to be delivered again, whether it was in flight or handed out when
// the process stopped before its delivery record was durable, except that
// one whose delayed Nack has not run out by now waits until it does.
func (c *cstate) rebuild(now time.Time) {
	c.next = max(c.next, c.floor)
	c.done.gaps(c.floor, c.next, func(s uint64) {
		if c.pend[s] == nil {
			c.pend[s] = newPending(s, 0)
		}
	})
	for s, p := range c.pend {
		if s < c.floor || s >= c.next || c.done.contains(s) {
			delete(c.pend, s)
			continue
		}
		p.idx = -1
		if p.until.After(now) {
			c.setStatus(p, stDelayed, p.until)
		} else {
			c.setStatus(p, stReady, time.Time{})
		}
		p.until = time.Time{}
	}
}

// pheap is a heap of pending entries that keeps each entry's index, so an
// entry can be removed or moved in O(log n).
type pheap struct {
	s      []*pending
	byTime bool
}

func (h *pheap) Len() int { return len(h.s) }
func (h *pheap) Less(i, j int) bool {
	if h.byTime && !h.s[i].at.Equal(h.s[j].at) {
		return h.s[i].at.Before(h.s[j].at)
	}
	return h.s[i].seq < h.s[j].seq
}
func (h *pheap) Swap(i, j int) {
	h.s[i], h.s[j] = h.s[j], h.s[i]
	h.s[i].idx, h.s[j].idx = i, j
}
func (h *pheap) Push(x any) {
	p := x.(*pending)
	p.idx = len(h.s)
	h.s = append(h.s, p)
}
func (h *pheap) Pop() any {
	p := h.s[len(h.s)-1]
	h.s[len(h.s)-1] = nil
	h.s = h.s[:len(h.s)-1]
	p.idx = -1
	return p
}
