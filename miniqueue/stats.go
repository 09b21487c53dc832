package miniqueue

import "github.com/mini-go/mini/ministore"

// Stats are a queue's figures, for monitoring.
type Stats struct {
	FirstSeq    uint64 // the oldest message on disk; 0 if none
	LastSeq     uint64 // the newest message; 0 if none was ever pushed
	Len         int    // as returned by Queue.Len
	Bytes       int64  // bytes counted against MaxBytes (0 without MaxBytes)
	MaxBytes    int64  // Options.MaxBytes
	DeadLetters int    // messages in the dead-letter queue
	Consumers   []ConsumerStats
	// Journal and ConsumerJournal are the figures of the queue's two
	// journals, messages.log and consumers.log (see ministore.Stats):
	// appends, group commits, fsyncs and their latency since Open.
	Journal         ministore.Stats
	ConsumerJournal ministore.Stats
}

// ConsumerStats are one consumer's figures. The counters count since Open.
type ConsumerStats struct {
	Name         string
	Lag          int    // messages not acknowledged, in flight ones included
	InFlight     int    // messages received and neither acknowledged nor released
	Floor        uint64 // every message below this one is acknowledged
	Delivered    uint64 // deliveries
	Redelivered  uint64 // deliveries after the first of a message
	Acked        uint64
	Nacked       uint64
	Expired      uint64 // visibility timeouts that ran out
	DeadLettered uint64 // messages moved to the dead-letter queue
	Discarded    uint64 // messages older than MaxAge, dropped instead of delivered
}

func consumerStats(c *cstate, published uint64) ConsumerStats {
	return ConsumerStats{
		Name:         c.name,
		Lag:          int(c.lag(published)),
		InFlight:     c.inFlight(),
		Floor:        c.floor,
		Delivered:    c.stats.delivered,
		Redelivered:  c.stats.redelivered,
		Acked:        c.stats.acked,
		Nacked:       c.stats.nacked,
		Expired:      c.stats.expired,
		DeadLettered: c.stats.dead,
		Discarded:    c.stats.discarded,
	}
}

// Stats returns the queue's figures.
func (q *Queue[T]) Stats() Stats {
	e := q.e
	dead := e.deadLen()
	e.mu.Lock()
	s := Stats{
		FirstSeq:    e.msgs.FirstSeq(),
		LastSeq:     e.cache.published,
		MaxBytes:    e.opts.MaxBytes,
		DeadLetters: dead,
	}
	if e.cap != nil {
		s.Bytes = e.cap.used
	}
	for _, n := range sortedKeys(e.consumers) {
		s.Consumers = append(s.Consumers, consumerStats(e.consumers[n], e.cache.published))
	}
	e.mu.Unlock()
	s.Len = q.Len()
	s.Journal = e.msgs.Stats()
	s.ConsumerJournal = e.cons.Stats()
	return s
}
