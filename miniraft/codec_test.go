// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"slices"
	"testing"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

// Records written with Options.Codec read with the default codec and the
// other way round, to the same mutations: nodes with different codecs
// work together.
func TestCodecInterop(t *testing.T) {
	std := newTestCodec(t)
	v2, err := newCodec[ledger, add](nil, jsonv2codec.New())
	if err != nil {
		t.Fatal(err)
	}
	codecs := []struct {
		name string
		c    codec[ledger, add]
	}{{"encoding/json", std}, {"jsonv2codec", v2}}
	for _, ms := range [][]add{
		{{ID: 1}},
		{{ID: 2, Limit: 5, Wait: true}},
		{{ID: 3}, {ID: 4, Boom: true}},
	} {
		for _, w := range codecs {
			rec, err := w.c.Encode(ms)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range codecs {
				got, err := r.c.DecodeWith(r.c.NewDecoder(), rec, nil)
				if err != nil || !slices.Equal(got, ms) {
					t.Fatalf("%v written by %s, read by %s: %v, %v", ms, w.name, r.name, got, err)
				}
			}
		}
	}
	// The same refusals: undecodable records, null, an empty batch.
	for _, rec := range []string{`{"id":"x"}`, `null`, `[]`, `[{"id":1},null]`, `[{"id":1}`, `{"id":1}}`} {
		for _, r := range codecs {
			if got, err := r.c.DecodeWith(r.c.NewDecoder(), []byte(rec), nil); err == nil {
				t.Errorf("%s decodes %s as %v", r.name, rec, got)
			}
		}
	}
	// With a Registry too.
	reg, err := newCodec[ledger, ministate.Mutator[ledger]](ledgerRegistry(t), jsonv2codec.New())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := reg.Encode([]ministate.Mutator[ledger]{add{ID: 3}})
	if err != nil || string(rec) != `{"Add":{"id":3}}` {
		t.Fatalf("%s, %v", rec, err)
	}
	if got, err := reg.DecodeWith(reg.NewDecoder(), rec, nil); err != nil || len(got) != 1 || got[0] != (add{ID: 3}) {
		t.Fatalf("%v, %v", got, err)
	}
}

func ledgerRegistry(t *testing.T) ministate.Kinds {
	t.Helper()
	r := ministate.NewRegistry[ledger]()
	ministate.Register[add](r, "Add")
	return r
}

// A cluster whose nodes use different codecs agrees on the state.
func TestClusterMixedCodecs(t *testing.T) {
	var n int
	c := newCluster(t, 3, func(o *Options) {
		n++
		if n%2 == 0 {
			o.Codec = jsonv2codec.New()
		}
	})
	acked := c.applyMany(1, 60, 8)
	st := c.converge(acked)
	if len(st.IDs) != 60 {
		t.Fatalf("state holds %d mutations", len(st.IDs))
	}
}
