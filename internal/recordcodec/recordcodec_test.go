// SPDX-License-Identifier: MIT OR Apache-2.0

package recordcodec_test

import (
	"testing"

	"github.com/mini-go/mini/internal/recordcodec"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

type tape struct{ Items []int }

type push struct {
	V int `json:"v"`
}

func (p push) Apply(s *tape) { s.Items = append(s.Items, p.V) }

type pushNew push

func (p pushNew) Apply(s *tape) { push(p).Apply(s) }

// kinds returns the recordcodec.Kinds of a Registry of push and pushNew,
// through KindsOf as miniraft gets it.
func kinds(t *testing.T) recordcodec.Kinds {
	reg := ministate.NewRegistry[tape]()
	ministate.Register[push](reg, "Push")
	ministate.Register[pushNew](reg, "PushNew")
	k := recordcodec.KindsOf(reg)
	if k == nil {
		t.Fatal("KindsOf(a Registry) = nil")
	}
	return k
}

func TestPlainRecords(t *testing.T) {
	c, err := recordcodec.New[tape, push](nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ms   []push
		want string
	}{
		{[]push{{1}}, `{"v":1}`},
		{[]push{{2}, {3}}, `[{"v":2},{"v":3}]`},
	} {
		rec, err := c.Encode(tc.ms)
		if err != nil || string(rec) != tc.want {
			t.Fatalf("Encode(%v) = %s, %v; want %s", tc.ms, rec, err, tc.want)
		}
		back, err := c.Decode(rec, nil)
		if err != nil || len(back) != len(tc.ms) || back[len(back)-1] != tc.ms[len(tc.ms)-1] {
			t.Fatalf("Decode(%s) = %v, %v", rec, back, err)
		}
	}
	if _, err := recordcodec.New[tape, ministate.Mutator[tape]](recordcodec.KindsOf(nil), nil); err == nil {
		t.Fatal("an interface mutation type without kinds was accepted")
	}
	if _, err := recordcodec.New[int, ministate.Mutator[tape]](kinds(t), nil); err == nil {
		t.Fatal("kinds of another state type were accepted")
	}
}

// A codec with jsonv2codec writes the records encoding/json's writes, and
// each reads the other's, with Decode and with a reused decoder.
func TestKindRecordsAcrossJSONCodecs(t *testing.T) {
	var codecs []recordcodec.Codec[tape, ministate.Mutator[tape]]
	for _, jc := range []ministore.Codec{nil, jsonv2codec.New()} {
		c, err := recordcodec.New[tape, ministate.Mutator[tape]](kinds(t), jc)
		if err != nil {
			t.Fatal(err)
		}
		codecs = append(codecs, c)
	}
	ms := []ministate.Mutator[tape]{push{7}, pushNew{8}}
	for w, cw := range codecs {
		rec, err := cw.Encode(ms)
		if err != nil || string(rec) != `[{"Push":{"v":7}},{"PushNew":{"v":8}}]` {
			t.Fatalf("codec %d: Encode = %s, %v", w, rec, err)
		}
		for r, cr := range codecs {
			dec := cr.NewDecoder()
			for range 2 { // the decoder is reused
				back, err := cr.DecodeWith(dec, rec, nil)
				if err != nil || len(back) != 2 || back[0] != ms[0] || back[1] != ms[1] {
					t.Fatalf("written by %d, DecodeWith of %d: %v, %v", w, r, back, err)
				}
			}
			if back, err := cr.Decode(rec, nil); err != nil || len(back) != 2 {
				t.Fatalf("written by %d, Decode of %d: %v, %v", w, r, back, err)
			}
		}
	}
}
