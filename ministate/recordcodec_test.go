// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"testing"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

func TestExportedRecordCodec(t *testing.T) {
	plain, err := ministate.NewRecordCodec[Tape, Push](nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ms   []Push
		want string
	}{
		{[]Push{{1}}, `{"v":1}`},
		{[]Push{{2}, {3}}, `[{"v":2},{"v":3}]`},
	} {
		rec, err := plain.Encode(tc.ms)
		if err != nil || string(rec) != tc.want {
			t.Fatalf("Encode(%v) = %s, %v; want %s", tc.ms, rec, err, tc.want)
		}
		back, err := plain.Decode(rec)
		if err != nil || len(back) != len(tc.ms) || back[len(back)-1] != tc.ms[len(tc.ms)-1] {
			t.Fatalf("Decode(%s) = %v, %v", rec, back, err)
		}
	}

	kinds, err := ministate.NewRecordCodec[Tape, ministate.Mutator[Tape]](tapeRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := kinds.Encode([]ministate.Mutator[Tape]{Push{7}, PushNew{8}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := kinds.Decode(rec)
	if err != nil || len(back) != 2 || back[0] != (Push{7}) {
		t.Fatalf("Decode(%s) = %v, %v", rec, back, err)
	}
	if _, err := ministate.NewRecordCodec[Tape, ministate.Mutator[Tape]](nil); err == nil {
		t.Fatal("an interface mutation type without a registry was accepted")
	}
}

// NewRecordCodecWith writes the records NewRecordCodec writes, and each
// reads the other's, with Decode and with DecodeWith.
func TestExportedRecordCodecWith(t *testing.T) {
	std, err := ministate.NewRecordCodec[Tape, ministate.Mutator[Tape]](tapeRegistry())
	if err != nil {
		t.Fatal(err)
	}
	v2, err := ministate.NewRecordCodecWith[Tape, ministate.Mutator[Tape]](tapeRegistry(), jsonv2codec.New())
	if err != nil {
		t.Fatal(err)
	}
	ms := []ministate.Mutator[Tape]{Push{7}, PushNew{8}}
	codecs := []ministate.RecordCodec[Tape, ministate.Mutator[Tape]]{std, v2}
	for w, cw := range codecs {
		rec, err := cw.Encode(ms)
		if err != nil {
			t.Fatal(err)
		}
		for r, cr := range codecs {
			dec := cr.NewDecoder()
			for range 2 { // the decoder is reused
				back, err := cr.DecodeWith(dec, rec)
				if err != nil || len(back) != 2 || back[0] != ms[0] || back[1] != ms[1] {
					t.Fatalf("written by %d, DecodeWith of %d: %v, %v", w, r, back, err)
				}
			}
			if back, err := cr.Decode(rec); err != nil || len(back) != 2 {
				t.Fatalf("written by %d, Decode of %d: %v, %v", w, r, back, err)
			}
		}
	}
}
