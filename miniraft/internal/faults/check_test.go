// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestCheck feeds Check histories with a known verdict, so that the
// harness's checks are shown to fail when they should.
func TestCheck(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	app := func(client int, val string, call, ret int, status, class string) Op {
		return Op{Client: client, Kind: "append", Key: "k", Val: val, Status: status, Class: class, Call: ms(call), Return: ms(ret)}
	}
	read := func(client int, call, ret int, vals ...string) Op {
		return Op{Client: client, Kind: "read", Key: "k", Vals: vals, Status: StatusOK, Call: ms(call), Return: ms(ret)}
	}
	tests := []struct {
		name  string
		ops   []Op
		final []string
		trust bool
		want  porcupine.CheckResult
		check func(Result) bool // further expectations
		fails bool              // Result.Failed is not empty
	}{
		{
			name:  "concurrent appends, reads in order",
			ops:   []Op{app(0, "a", 0, 10, StatusOK, ""), app(1, "b", 5, 15, StatusOK, ""), read(2, 20, 25, "a", "b")},
			final: []string{"a", "b"}, want: porcupine.Ok,
			check: func(r Result) bool { return r.Acked == 2 && r.Lost == 0 },
		},
		{
			name:  "overlapping appends may apply in either order",
			ops:   []Op{app(0, "a", 0, 10, StatusOK, ""), app(1, "b", 5, 15, StatusOK, ""), read(2, 20, 25, "b", "a")},
			final: []string{"b", "a"}, want: porcupine.Ok,
		},
		{
			name:  "stale read: misses an append acknowledged before it began",
			ops:   []Op{app(0, "a", 0, 10, StatusOK, ""), read(1, 20, 25)},
			final: []string{"a"}, want: porcupine.Illegal, fails: true,
		},
		{
			name:  "acknowledged append lost",
			ops:   []Op{app(0, "a", 0, 10, StatusOK, ""), app(0, "b", 20, 30, StatusOK, "")},
			final: []string{"a"}, want: porcupine.Illegal, fails: true,
			check: func(r Result) bool { return r.Lost == 1 },
		},
		{
			name:  "append applied twice",
			ops:   []Op{app(0, "a", 0, 10, StatusOK, "")},
			final: []string{"a", "a"}, want: porcupine.Illegal, fails: true,
			check: func(r Result) bool { return r.Duplicated == 1 },
		},
		{
			name:  "timed-out append applied later",
			ops:   []Op{app(0, "a", 0, 10, StatusTimeout, ""), read(1, 20, 25), read(1, 30, 35, "a")},
			final: []string{"a"}, want: porcupine.Ok,
			check: func(r Result) bool { return r.Unknown == 1 && r.UnknownIn == 1 },
		},
		{
			name:  "timed-out append never applied",
			ops:   []Op{app(0, "a", 0, 10, StatusTimeout, ""), read(1, 20, 25)},
			final: nil, want: porcupine.Ok,
			check: func(r Result) bool { return r.Unknown == 1 && r.UnknownIn == 0 },
		},
		{
			name:  "not applied, and indeed absent",
			ops:   []Op{app(0, "a", 0, 10, StatusFailed, ClassNotApplied), read(1, 20, 25)},
			final: nil, trust: true, want: porcupine.Ok,
			check: func(r Result) bool { return r.NotApplied == 1 && r.NotAppliedIn == 0 },
		},
		{
			name:  "said not applied, but applied (trusted: a failure)",
			ops:   []Op{app(0, "a", 0, 10, StatusFailed, ClassNotApplied), read(1, 20, 25, "a")},
			final: []string{"a"}, trust: true, want: porcupine.Illegal, fails: true,
			check: func(r Result) bool { return r.NotAppliedIn == 1 },
		},
		{
			name:  "said not applied, but applied (not trusted: counted only)",
			ops:   []Op{app(0, "a", 0, 10, StatusFailed, ClassNotApplied), read(1, 20, 25, "a")},
			final: []string{"a"}, want: porcupine.Ok,
			check: func(r Result) bool { return r.NotAppliedIn == 1 },
		},
		{
			name:  "value read before its append was called",
			ops:   []Op{read(1, 0, 5, "a"), app(0, "a", 10, 20, StatusOK, "")},
			final: []string{"a"}, want: porcupine.Illegal, fails: true,
		},
		{
			name:  "unsent append is not history",
			ops:   []Op{app(0, "a", 0, 10, StatusNotSent, ""), read(1, 20, 25)},
			final: nil, want: porcupine.Ok,
			check: func(r Result) bool { return r.Ops == 2 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.ops, map[string][]string{"k": tt.final}, tt.trust, 10*time.Second)
			if r.Linearizable != tt.want {
				t.Errorf("linearizable %s, want %s", r.Linearizable, tt.want)
			}
			if tt.check != nil && !tt.check(r) {
				t.Errorf("result %+v", r)
			}
			if got := r.Failed(tt.trust) != ""; got != tt.fails {
				t.Errorf("Failed() = %q, want failure %v", r.Failed(tt.trust), tt.fails)
			}
		})
	}
}

// TestCheckLong checks that a long history (minutes of a run, with an
// append of unknown outcome that took effect much later) is checked in
// seconds: the model's steps do not grow with the lists.
func TestCheckLong(t *testing.T) {
	const n = 3000
	var ops []Op
	var vals []string
	for i := range n {
		v := fmt.Sprint("v", i)
		call := time.Duration(i) * 10 * time.Microsecond
		ops = append(ops, Op{Client: i % 4, Kind: "append", Key: "k", Val: v, Status: StatusOK, Call: call, Return: call + 15*time.Microsecond})
		vals = append(vals, v)
		if i == n/2 { // the open append takes effect here
			vals = append(vals, "open")
		}
		if i%10 == 0 { // a read after append i returned, while i+1 is pending
			ops = append(ops, Op{Client: 4, Kind: "read", Key: "k", Vals: slices.Clone(vals), Status: StatusOK, Call: call + 16*time.Microsecond, Return: call + 17*time.Microsecond})
		}
	}
	ops = append(ops, Op{Client: 5, Kind: "append", Key: "k", Val: "open", Status: StatusTimeout, Call: 0, Return: time.Second})
	start := time.Now()
	r := Check(ops, map[string][]string{"k": vals}, true, time.Minute)
	if r.Linearizable != porcupine.Ok || r.Acked != n || r.UnknownIn != 1 {
		t.Fatalf("%s, %d acked, %d unknown applied", r.Linearizable, r.Acked, r.UnknownIn)
	}
	t.Logf("%d operations checked in %v", r.Ops, time.Since(start))
}
