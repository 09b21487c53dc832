// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"slices"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

// countingCodec counts what goes through a codec, so a test can tell that
// the codec it set was used.
type countingCodec struct {
	ministore.Codec
	marshals, decodes *atomic.Int64
}

func newCounting(c ministore.Codec) countingCodec {
	return countingCodec{c, new(atomic.Int64), new(atomic.Int64)}
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

// A journal written with one JournalCodec opens with the other: the
// records are the same JSON. Each Manager uses the codec it was given.
func TestJournalCodecRegistry(t *testing.T) {
	for _, tc := range []struct {
		name           string
		writer, reader ministore.Codec
	}{
		{"encoding/json then jsonv2", ministore.JSONCodec{}, jsonv2codec.New()},
		{"jsonv2 then encoding/json", jsonv2codec.New(), ministore.JSONCodec{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			open := func(c ministore.Codec) *ministate.Manager[Tape, ministate.Mutator[Tape]] {
				t.Helper()
				m, err := ministate.Open[Tape, ministate.Mutator[Tape]](dir, "state.log",
					&ministate.Options{JournalCodec: c, Registry: tapeRegistry(), Logger: testutil.Quiet()})
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			w := newCounting(tc.writer)
			m := open(w)
			for i := 1; i <= 5; i++ {
				if _, err := m.Apply(Push{i}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := m.ApplyBatch(Push{6}, PushNew{7}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Apply(PushNew{8}); err != nil { // a Validator
				t.Fatal(err)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if w.marshals.Load() != 8 {
				t.Fatalf("the writer's codec encoded %d mutations, want 8", w.marshals.Load())
			}
			r := newCounting(tc.reader)
			m = open(r)
			var items []int
			m.View(func(s *Tape) { items = slices.Clone(s.Items) })
			if want := []int{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(items, want) {
				t.Fatalf("state %v, want %v", items, want)
			}
			if r.decodes.Load() != 8 {
				t.Fatalf("the reader's codec decoded %d mutations, want 8", r.decodes.Load())
			}
			if _, err := m.Apply(Push{9}); err != nil {
				t.Fatal(err)
			}
			m.Close()
			m = open(tc.writer)
			m.View(func(s *Tape) { items = slices.Clone(s.Items) })
			m.Close()
			if len(items) != 9 || items[8] != 9 {
				t.Fatalf("state %v after the reader appended", items)
			}
		})
	}
}

// Without a Registry the codec encodes and decodes the mutations
// themselves.
func TestJournalCodecBare(t *testing.T) {
	for _, tc := range []struct {
		name           string
		writer, reader ministore.Codec
	}{
		{"encoding/json then jsonv2", ministore.JSONCodec{}, jsonv2codec.New()},
		{"jsonv2 then encoding/json", jsonv2codec.New(), ministore.JSONCodec{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := newCounting(tc.writer)
			m, err := ministate.Open[Tape, Push](dir, "state.log", &ministate.Options{JournalCodec: w, Logger: testutil.Quiet()})
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 5; i++ {
				if _, err := m.Apply(Push{i}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := m.ApplyBatch(Push{6}, Push{7}); err != nil {
				t.Fatal(err)
			}
			m.Close()
			r := newCounting(tc.reader)
			m, err = ministate.Open[Tape, Push](dir, "state.log", &ministate.Options{JournalCodec: r, Logger: testutil.Quiet()})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var items []int
			m.View(func(s *Tape) { items = slices.Clone(s.Items) })
			if want := []int{1, 2, 3, 4, 5, 6, 7}; !slices.Equal(items, want) {
				t.Fatalf("state %v, want %v", items, want)
			}
			if w.marshals.Load() != 7 || r.decodes.Load() != 7 {
				t.Fatalf("writer's codec encoded %d mutations, reader's decoded %d; want 7 each",
					w.marshals.Load(), r.decodes.Load())
			}
		})
	}
}
