// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/miniqueue"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

// countingCodec counts what goes through a codec, so a test can tell that
// the codec it set was used.
type countingCodec struct {
	ministore.Codec
	marshals, decodes *atomic.Int64
}

func (c countingCodec) Marshal(v any) ([]byte, error) {
	c.marshals.Add(1)
	return c.Codec.Marshal(v)
}

func (c countingCodec) NewDecoder(strict bool) ministore.Decoder {
	return countingDecoder{c.Codec.NewDecoder(strict), c.decodes}
}

type countingDecoder struct {
	ministore.Decoder
	n *atomic.Int64
}

func (d countingDecoder) Decode(data []byte, v any) error {
	d.n.Add(1)
	return d.Decoder.Decode(data, v)
}

// Messages pushed with one Codec are received with the other: the
// journals hold the same JSON. Each Queue uses the codec it was given.
func TestCodecCross(t *testing.T) {
	for _, tc := range []struct {
		name           string
		writer, reader ministore.Codec
	}{
		{"encoding/json then jsonv2", ministore.JSONCodec{}, jsonv2codec.New()},
		{"jsonv2 then encoding/json", jsonv2codec.New(), ministore.JSONCodec{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := countingCodec{tc.writer, new(atomic.Int64), new(atomic.Int64)}
			q, err := miniqueue.Open[Order](dir, &miniqueue.Options{Codec: w, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := q.Push(Order{ID: 1, Item: "é", Count: 2}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := q.PushBatch(Order{ID: 2}, Order{ID: 3, Item: "x"}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := q.PushWithID("four", Order{ID: 4}); err != nil {
				t.Fatal(err)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			if w.marshals.Load() != 4 {
				t.Fatalf("the writer's codec encoded %d messages, want 4", w.marshals.Load())
			}
			r := countingCodec{tc.reader, new(atomic.Int64), new(atomic.Int64)}
			q, err = miniqueue.Open[Order](dir, &miniqueue.Options{Codec: r, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			c := q.Consumer("")
			for want := 1; want <= 4; want++ {
				m, err := c.Receive(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if m.Value.ID != want || (want == 1 && (m.Value.Item != "é" || m.Value.Count != 2)) {
					t.Fatalf("message %d = %+v", want, m.Value)
				}
				if err := m.Ack(); err != nil {
					t.Fatal(err)
				}
			}
			if r.decodes.Load() != 4 {
				t.Fatalf("the reader's codec decoded %d messages, want 4", r.decodes.Load())
			}
		})
	}
}
