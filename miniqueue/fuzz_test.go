// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

var consumerRecordSeeds = []string{
	`{"op":"new","from":1}`,
	`{"op":"new","c":"audit","from":7}`,
	`{"op":"delete","c":"audit"}`,
	`{"op":"deliver","seq":3,"n":2}`,
	`{"op":"ack","c":"x","seq":3}`,
	`{"op":"dead","seq":3,"n":10}`,
	`{"op":"return","c":"w","seq":4}`,
	`{"op":"term","c":"w","seq":4,"n":2}`,
	`{"op":"nack","c":"w","seq":4,"n":2,"at":946684805000}`,
	`{"op":"dedup","seq":3}`,
	`{"op":"purge","seq":2}`,
	`{"op":"remove","seq":4}`,
	`{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":1}],"removed":[[3,3],[5,5]]}`,
	`{"op":"checkpoint","base":1,"dedup":2,"consumers":[]}`,
	`{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":3,"attempts":[[2,1]],"delays":[[2,946684805000]]}]}`,
	`{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":3,"attempts":[[2,1]],"term":[2]}]}`,
	`{"op":"checkpoint","base":2,"consumers":[{"c":"","floor":2,"next":6,"done":[[4,4]],"attempts":[[2,1],[5,3]]}]}`,
	`{"op":"checkpoint","base":1,"consumers":[]}`,
	`{"op":"ack","seq":18446744073709551615}`,
	`{"op":"checkpoint","base":1,"consumers":[{"c":"","floor":1,"next":18446744073709551615,"done":[[2,18446744073709551614]]}]}`,
}

// FuzzConsumerRecord decodes arbitrary consumer records: decoding never
// panics, applying an accepted record never panics, and accepted records
// survive a round trip through the encoders.
func FuzzConsumerRecord(f *testing.F) {
	for _, s := range consumerRecordSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := parseConsRecord(p)
		if err != nil {
			return
		}
		cs := map[string]*cstate{"": newCState("", 1)}
		applyRecord(cs, 1, r)
		for _, c := range cs {
			if c.next-c.floor < 1<<16 { // rebuild walks the window
				c.rebuild(time.Unix(0, 0))
			}
		}
		var again []byte
		switch r.Op {
		case opDeliver, opAck, opDead, opReturn, opTerm, opDedup, opPurge, opRemove:
			n := r.N
			if r.Op == opAck || r.Op == opReturn {
				n = 0
			}
			again = appendSeqRecord(nil, r.Op, quoteName(r.C), r.Seq, n)
		case opNack:
			again = appendNackRecord(nil, quoteName(r.C), r.Seq, r.N, r.At)
		case opNew:
			again = newRecord(r.C, r.From)
		case opDelete:
			again = deleteRecord(r.C)
		case opCheckpoint:
			again = checkpointRecord(r.Base, r.Dedup, r.Last, r.Consumers, r.Removed)
		}
		r2, err := parseConsRecord(again)
		if err != nil {
			t.Fatalf("re-encoded %s as %s: %v", p, again, err)
		}
		if r.Op == opAck || r.Op == opReturn {
			r.N = 0
		}
		if !reflect.DeepEqual(normal(written(r)), normal(r2)) {
			t.Fatalf("round trip of %s: %+v became %+v", p, r, r2)
		}
	})
}

// written keeps the fields of r that its encoder writes: the others are
// ignored when it is read.
func written(r consRecord) consRecord {
	w := consRecord{Op: r.Op}
	switch r.Op {
	case opCheckpoint:
		w.Base, w.Dedup, w.Consumers, w.Removed = r.Base, r.Dedup, r.Consumers, r.Removed
	case opNew:
		w.C, w.From = r.C, r.From
	case opDelete:
		w.C = r.C
	default:
		w.C, w.Seq, w.N = r.C, r.Seq, r.N
		if r.Op == opNack {
			w.At = r.At
		}
	}
	return w
}

// normal makes nil and empty slices compare equal.
func normal(r consRecord) consRecord {
	if len(r.Consumers) == 0 {
		r.Consumers = nil
	}
	if len(r.Removed) == 0 {
		r.Removed = nil
	}
	for i := range r.Consumers {
		c := &r.Consumers[i]
		if len(c.Done) == 0 {
			c.Done = nil
		}
		if len(c.Attempts) == 0 {
			c.Attempts = nil
		}
		if len(c.Term) == 0 {
			c.Term = nil
		}
		if len(c.Delays) == 0 {
			c.Delays = nil
		}
	}
	return r
}

// FuzzEnvelope checks the message envelope: any input decodes or fails
// without panicking, and any JSON value comes back exactly as it went in.
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "", uint64(0))
	f.Add([]byte(`"}"`), "c", uint64(3))
	f.Add([]byte(`[1,{"v":2}]`), "x\"y", uint64(1<<40))
	f.Fuzz(func(t *testing.T, value []byte, to string, dead uint64) {
		parseEnvelope(value) // arbitrary bytes: must not panic
		var buf bytes.Buffer
		if json.Compact(&buf, value) != nil {
			return
		}
		v := buf.Bytes()
		env, err := parseEnvelope(appendEnvelope(nil, v))
		if err != nil || !bytes.Equal(env.value, v) || env.targeted {
			t.Fatalf("plain envelope of %s: %+v, %v", v, env, err)
		}
		env, err = parseEnvelope(appendTargetedEnvelope(nil, to, dead, v))
		var wantTo string // as JSON gives it back: invalid UTF-8 is replaced
		json.Unmarshal(quoteName(to), &wantTo)
		if err != nil || !bytes.Equal(env.value, v) || !env.targeted || env.to != wantTo || env.deadID != dead {
			t.Fatalf("targeted envelope of %s to %q: %+v, %v", v, to, env, err)
		}
		meta := msgMeta{id: to, hasID: dead%2 == 0, t: int64(dead >> 2), at: int64(dead >> 3)}
		env, err = parseEnvelope(appendMetaEnvelope(nil, meta, v))
		if !meta.hasID {
			wantTo = ""
		}
		if err != nil || !bytes.Equal(env.value, v) || env.targeted || env.hasID != meta.hasID || env.id != wantTo ||
			env.t != meta.t || env.at != meta.at {
			t.Fatalf("envelope of %s with %+v: %+v, %v", v, meta, env, err)
		}
	})
}

// FuzzOpenConsumerJournal appends an arbitrary JSON record to the consumer
// journal of a queue with some history, then opens it: Open either refuses
// it with ErrCorrupt or gives a queue that works: every message is
// delivered or was acknowledged, nothing beyond the journal is delivered,
// and Lag reaches 0.
func FuzzOpenConsumerJournal(f *testing.F) {
	for _, s := range consumerRecordSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		if !json.Valid(rec) {
			return
		}
		synctest.Test(t, func(t *testing.T) {
			mem := vfs.NewMem()
			o := withFS(Options{MaxDeliveries: -1}, mem)
			q, err := Open[int]("/q", o)
			if err != nil {
				t.Fatal(err)
			}
			q.Consumer("")
			q.Consumer("audit")
			mustPush(t, q, 1, 2, 3, 4, 5)
			mustAck(t, recvT(t, q.Consumer("")))
			recvT(t, q.Consumer(""))
			q.Close()
			s, err := ministore.Open[json.RawMessage]("/q/consumers.log", &ministore.Options{FS: mem, Logger: testutil.Quiet(), Schema: ministore.AnySchema})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Append(json.RawMessage(rec))
			s.Close()
			if err != nil {
				return // not encodable as a record
			}
			q, err = Open[int]("/q", o)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open = %v, want nil or ErrCorrupt", err)
				}
				return
			}
			defer q.Close()
			for _, name := range q.Consumers() {
				c := q.Consumer(name)
				for i := 0; c.Lag() > 0; i++ {
					if i > 10 {
						t.Fatalf("consumer %q: lag %d after draining", name, c.Lag())
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					m, err := c.Receive(ctx)
					cancel()
					if err != nil {
						t.Fatalf("consumer %q, lag %d: %v", name, c.Lag(), err)
					}
					if m.Value < 1 || m.Value > 5 || uint64(m.Value) != m.Seq {
						t.Fatalf("consumer %q got %d (seq %d)", name, m.Value, m.Seq)
					}
					mustAck(t, m)
				}
			}
			if _, err := q.Push(6); err != nil {
				t.Fatal(err)
			}
		})
	})
}
