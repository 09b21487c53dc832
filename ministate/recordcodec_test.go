// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"testing"

	"github.com/mini-go/mini/ministate"
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
