// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"maps"
	"slices"

	"github.com/mini-go/mini/ministore"
)

// Stats are a queue's figures, for monitoring.
type Stats struct {
	FirstSeq    uint64          `json:"first_seq"`    // the oldest message on disk; 0 if none
	LastSeq     uint64          `json:"last_seq"`     // the newest message; 0 if none was ever pushed
	Len         int             `json:"len"`          // as returned by Queue.Len
	Bytes       int64           `json:"bytes"`        // bytes counted against MaxBytes (0 without MaxBytes)
	MaxBytes    int64           `json:"max_bytes"`    // Options.MaxBytes
	DeadLetters int             `json:"dead_letters"` // messages in the dead-letter queue
	Consumers   []ConsumerStats `json:"consumers"`
	// Journal and ConsumerJournal are the figures of the queue's two
	// journals, messages.log and consumers.log (see ministore.Stats):
	// appends, group commits, fsyncs and their latency since Open.
	Journal         ministore.Stats `json:"journal"`
	ConsumerJournal ministore.Stats `json:"consumer_journal"`
}

// ConsumerStats are one consumer's figures. The counters count since Open.
type ConsumerStats struct {
	Name         string `json:"name"`
	Lag          int    `json:"lag"`         // messages not acknowledged, in flight ones included
	InFlight     int    `json:"in_flight"`   // messages received and neither acknowledged nor released
	Floor        uint64 `json:"floor"`       // every message below this one is acknowledged
	Delivered    uint64 `json:"delivered"`   // deliveries
	Redelivered  uint64 `json:"redelivered"` // deliveries after the first of a message
	Acked        uint64 `json:"acked"`
	Nacked       uint64 `json:"nacked"`
	Expired      uint64 `json:"expired"`       // visibility timeouts that ran out
	DeadLettered uint64 `json:"dead_lettered"` // messages moved to the dead-letter queue
	Discarded    uint64 `json:"discarded"`     // messages older than MaxAge, dropped instead of delivered
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
	for _, n := range slices.Sorted(maps.Keys(e.consumers)) {
		s.Consumers = append(s.Consumers, consumerStats(e.consumers[n], e.cache.published))
	}
	e.mu.Unlock()
	s.Len = q.Len()
	s.Journal = e.msgs.Stats()
	s.ConsumerJournal = e.cons.Stats()
	return s
}
