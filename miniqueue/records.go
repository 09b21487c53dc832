// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// This file holds the two record layouts the queue writes into its
// journals: the envelope around every message, and the consumer records
// (deliveries, acks, checkpoints). The package documentation describes both
// under "# Format".

// Consumer record operations.
const (
	opNew        = "new"        // a consumer is created
	opDelete     = "delete"     // a consumer is deleted
	opDeliver    = "deliver"    // a message is handed out (attempt n)
	opAck        = "ack"        // a message is acknowledged
	opDead       = "dead"       // a message went to the dead-letter queue
	opReturn     = "return"     // a recorded delivery that did not happen (prefetched, not taken)
	opTerm       = "term"       // Message.Term is moving a message to the dead-letter queue
	opNack       = "nack"       // a message is not to be delivered again before a time
	opDedup      = "dedup"      // messages from seq on may carry de-duplication IDs
	opPurge      = "purge"      // every message up to seq is resolved for every consumer
	opRemove     = "remove"     // message seq is resolved for every consumer
	opCheckpoint = "checkpoint" // the whole consumer state
)

// consRecord is one line of the consumer journal, decoded.
type consRecord struct {
	Op        string       `json:"op"`
	C         string       `json:"c,omitempty"`
	Seq       uint64       `json:"seq,omitempty"`
	N         int          `json:"n,omitempty"`
	From      uint64       `json:"from,omitempty"`
	At        int64        `json:"at,omitempty"`    // nack: not before, in ms since the epoch
	Base      uint64       `json:"base,omitempty"`  // checkpoint: the queue floor
	Dedup     uint64       `json:"dedup,omitempty"` // checkpoint: Open reads de-duplication IDs from here
	Last      uint64       `json:"last,omitempty"`  // checkpoint: the last message durable when it was written
	Consumers []cpConsumer `json:"consumers,omitempty"`
	Removed   [][2]uint64  `json:"removed,omitempty"` // checkpoint: messages deleted one by one, as spans
}

// cpConsumer is one consumer in a checkpoint: every message below Floor is
// resolved, so are the spans in Done, and Next is the first message never
// handed out (apart from resolved ones). Attempts lists the delivery count of the unresolved messages
// in [Floor, Next) that were handed out, as [seq, count] pairs.
type cpConsumer struct {
	C        string      `json:"c"`
	Floor    uint64      `json:"floor"`
	Next     uint64      `json:"next"`
	Done     [][2]uint64 `json:"done,omitempty"`
	Attempts [][2]uint64 `json:"attempts,omitempty"`
	Term     []uint64    `json:"term,omitempty"`   // messages a failed Term may have put in the dead-letter queue
	Delays   [][2]uint64 `json:"delays,omitempty"` // [seq, ms since the epoch]: not delivered again before
}

// quoteName returns name as a JSON string.
func quoteName(name string) []byte {
	b, _ := json.Marshal(name) // a string always encodes
	return b
}

// appendSeqRecord appends a deliver, ack or dead record. qname is the
// consumer's name as a JSON string; the default consumer's is left out. n is
// written when positive.
func appendSeqRecord(dst []byte, op string, qname []byte, seq uint64, n int) []byte {
	dst = append(dst, `{"op":"`...)
	dst = append(dst, op...)
	dst = append(dst, '"')
	if len(qname) > 2 {
		dst = append(dst, `,"c":`...)
		dst = append(dst, qname...)
	}
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	if n > 0 {
		dst = append(dst, `,"n":`...)
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	return append(dst, '}')
}

func newRecord(name string, from uint64) []byte {
	b, _ := json.Marshal(consRecord{Op: opNew, C: name, From: from})
	return b
}

func deleteRecord(name string) []byte {
	b, _ := json.Marshal(consRecord{Op: opDelete, C: name})
	return b
}

// checkpointRecord encodes a checkpoint. last is the newest message that
// was durable when it was written (0, left out, if none): the message
// journal can never end before it, so Open refuses one that does.
func checkpointRecord(base, dedup, last uint64, cs []cpConsumer, removed [][2]uint64) []byte {
	if cs == nil {
		cs = []cpConsumer{}
	}
	// Consumers is omitempty; an empty checkpoint still needs the field.
	b, _ := json.Marshal(struct {
		Op        string       `json:"op"`
		Base      uint64       `json:"base"`
		Dedup     uint64       `json:"dedup,omitempty"`
		Last      uint64       `json:"last,omitempty"`
		Consumers []cpConsumer `json:"consumers"`
		Removed   [][2]uint64  `json:"removed,omitempty"`
	}{opCheckpoint, base, dedup, last, cs, removed})
	return b
}

// parseConsRecord decodes and checks one consumer record. The error says
// what is wrong; the caller wraps it in a *RecordError.
func parseConsRecord(p []byte) (consRecord, error) {
	var r consRecord
	if err := json.Unmarshal(p, &r); err != nil {
		return r, err
	}
	switch r.Op {
	case opNew:
		if r.From == 0 {
			return r, fmt.Errorf("%q record without a starting sequence number", r.Op)
		}
	case opDelete:
	case opDeliver:
		if r.Seq == 0 || r.N < 1 {
			return r, fmt.Errorf("%q record needs seq and n >= 1", r.Op)
		}
	case opNack:
		if r.Seq == 0 || r.N < 1 || r.At <= 0 {
			return r, fmt.Errorf("%q record needs seq, n >= 1 and at > 0", r.Op)
		}
	case opAck, opDead, opReturn, opTerm, opDedup, opPurge, opRemove:
		if r.Seq == 0 {
			return r, fmt.Errorf("%q record without seq", r.Op)
		}
	case opCheckpoint:
		if r.Consumers == nil && !bytes.Contains(p, []byte(`"consumers"`)) {
			return r, fmt.Errorf("checkpoint without consumers")
		}
		if r.Base == 0 {
			return r, fmt.Errorf("checkpoint without base")
		}
		for i, d := range r.Removed {
			if d[0] == 0 || d[0] > d[1] || (i > 0 && d[0] <= r.Removed[i-1][1]+1) {
				return r, fmt.Errorf("checkpoint: bad removed span [%d, %d]", d[0], d[1])
			}
		}
		seen := map[string]bool{}
		for _, c := range r.Consumers {
			if seen[c.C] {
				return r, fmt.Errorf("checkpoint lists consumer %q twice", c.C)
			}
			seen[c.C] = true
			if err := c.check(); err != nil {
				return r, fmt.Errorf("checkpoint, consumer %q: %w", c.C, err)
			}
		}
	default:
		return r, fmt.Errorf("unknown operation %q", r.Op)
	}
	return r, nil
}

// check verifies a checkpointed consumer's invariants.
func (c *cpConsumer) check() error {
	if c.Floor == 0 || c.Next < c.Floor {
		return fmt.Errorf("floor %d, next %d", c.Floor, c.Next)
	}
	for i, d := range c.Done {
		// (A span may lie beyond Next: a dead letter can be removed without
		// ever being handed out.)
		if d[0] > d[1] || d[0] < c.Floor || (i > 0 && d[0] <= c.Done[i-1][1]+1) {
			return fmt.Errorf("bad resolved span [%d, %d]", d[0], d[1])
		}
	}
	if !slices.IsSortedFunc(c.Attempts, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) }) {
		return fmt.Errorf("attempts out of order")
	}
	for i, d := range c.Delays {
		if d[0] < c.Floor || d[0] >= c.Next || d[1] == 0 || d[1] > 1<<62 || (i > 0 && c.Delays[i-1][0] >= d[0]) {
			return fmt.Errorf("bad delay [%d, %d]", d[0], d[1])
		}
	}
	for _, s := range c.Term {
		if s < c.Floor || s >= c.Next {
			return fmt.Errorf("bad term entry %d", s)
		}
	}
	for i, a := range c.Attempts {
		if a[0] < c.Floor || a[0] >= c.Next || a[1] == 0 || a[1] > 1<<31 || (i > 0 && c.Attempts[i-1][0] == a[0]) {
			return fmt.Errorf("bad attempt count [%d, %d]", a[0], a[1])
		}
	}
	return nil
}

// The envelope around a message value: {"v":VALUE} for an ordinary message,
// {"to":"NAME","dead":ID,"v":VALUE} for a message replayed from the
// dead-letter queue to one consumer only, and {"id":"ID","t":MS,"at":MS,
// "v":VALUE} for a message with a de-duplication ID (PushWithID), a push
// time (t, ms since 1970; written with an ID, a delivery time or MaxAge) or
// a delivery time (at, PushAt). id and at are optional.
var envPrefix = []byte(`{"v":`)

func appendEnvelope(dst, value []byte) []byte {
	dst = append(dst, envPrefix...)
	dst = append(dst, value...)
	return append(dst, '}')
}

func appendTargetedEnvelope(dst []byte, to string, deadID uint64, value []byte) []byte {
	dst = append(dst, `{"to":`...)
	dst = append(dst, quoteName(to)...)
	if deadID > 0 {
		dst = append(dst, `,"dead":`...)
		dst = strconv.AppendUint(dst, deadID, 10)
	}
	dst = append(dst, `,"v":`...)
	dst = append(dst, value...)
	return append(dst, '}')
}

// msgMeta is what an envelope may carry besides the value.
type msgMeta struct {
	id    string // de-duplication ID; "" for none
	t     int64  // push time, ms since 1970; 0 for none
	at    int64  // not delivered before, ms since 1970; 0 for none
	hasID bool
}

func appendMetaEnvelope(dst []byte, m msgMeta, value []byte) []byte {
	dst = append(dst, '{')
	if m.hasID {
		dst = append(dst, `"id":`...)
		dst = append(dst, quoteName(m.id)...)
		dst = append(dst, ',')
	}
	dst = append(dst, `"t":`...)
	dst = strconv.AppendInt(dst, m.t, 10)
	if m.at > 0 {
		dst = append(dst, `,"at":`...)
		dst = strconv.AppendInt(dst, m.at, 10)
	}
	dst = append(dst, `,"v":`...)
	dst = append(dst, value...)
	return append(dst, '}')
}

// envelope is a decoded message record.
type envelope struct {
	value    []byte // the message value's JSON
	targeted bool   // only for consumer to
	to       string
	deadID   uint64
	msgMeta
}

// parseEnvelope decodes a message record. The usual {"v":...} is recognised
// without a full decode.
func parseEnvelope(p []byte) (envelope, error) {
	if bytes.HasPrefix(p, envPrefix) && len(p) > len(envPrefix)+1 && p[len(p)-1] == '}' {
		if v := p[len(envPrefix) : len(p)-1]; json.Valid(v) {
			return envelope{value: v}, nil
		}
	}
	var e struct {
		To   *string         `json:"to"`
		Dead uint64          `json:"dead"`
		ID   *string         `json:"id"`
		T    int64           `json:"t"`
		At   int64           `json:"at"`
		V    json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(p, &e); err != nil {
		return envelope{}, err
	}
	if e.V == nil {
		return envelope{}, fmt.Errorf("message record without a value (\"v\")")
	}
	env := envelope{value: e.V, deadID: e.Dead, msgMeta: msgMeta{t: e.T, at: e.At}}
	if e.ID != nil {
		env.id, env.hasID = *e.ID, true
	}
	if e.To != nil {
		env.targeted, env.to = true, *e.To
	}
	return env, nil
}
