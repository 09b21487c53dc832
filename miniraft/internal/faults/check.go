// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// A Result is what the checks found in one phase's operations.
type Result struct {
	Linearizable porcupine.CheckResult // Ok, Illegal, or Unknown (the check timed out)
	Ops          int                   // operations in the history given to the checker
	Acked        int                   // appends acknowledged
	Lost         int                   // acknowledged appends missing from the final state
	Duplicated   int                   // values found more than once in the final state
	Unknown      int                   // appends with an unknown outcome (timeouts and unknown errors)
	UnknownIn    int                   // of those, found in the final state
	NotApplied   int                   // appends that failed with an error that says "not applied"
	NotAppliedIn int                   // of those, found in the final state: the error lied
	Lied         []string              // the errors of the first few of those
}

type kvInput struct {
	read bool
	key  string
	val  string
}

// A listDigest stands for a list of values in the model: its length and
// a hash of its values in order. Steps are then O(1) whatever the list's
// length, and a read's list equals the model's when the digests do (but
// for a 64-bit hash collision).
type listDigest struct {
	N int
	H uint64
}

// add is the digest of the list with v appended: FNV-1a over the 8 bytes
// of the list's hash, then v's bytes.
func (d listDigest) add(v string) listDigest {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := range 8 {
		h = (h ^ (d.H >> (8 * i) & 0xff)) * prime
	}
	for i := range len(v) {
		h = (h ^ uint64(v[i])) * prime
	}
	return listDigest{N: d.N + 1, H: h}
}

func digest(vals []string) listDigest {
	var d listDigest
	for _, v := range vals {
		d = d.add(v)
	}
	return d
}

// Model is the porcupine model of the KV state: per key (the partition), a
// list of appended values (as a listDigest); a read must return exactly
// the list.
var Model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return listDigest{} },
	Step: func(state, input, output any) (bool, any) {
		s, in := state.(listDigest), input.(kvInput)
		if !in.read {
			return true, s.add(in.val)
		}
		return output.(listDigest) == s, s
	},
	Hash: func(state any) uint64 { return state.(listDigest).H },
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.read {
			d := output.(listDigest)
			return fmt.Sprintf("read(%s) -> %d values (%016x)", in.key, d.N, d.H)
		}
		return fmt.Sprintf("append(%s, %s)", in.key, in.val)
	},
	DescribeState: func(state any) string {
		d := state.(listDigest)
		return fmt.Sprintf("%d values (%016x)", d.N, d.H)
	},
}

// Check checks ops against final, the state every node agreed on at the
// end (only its keys that ops use matter):
//
//   - the appends acknowledged are all in final (Lost), no value is there
//     twice (Duplicated), and, if trustNotApplied, no append that failed
//     "not applied" is there (NotAppliedIn; it is counted either way);
//   - the history, with a read of final at the end, is linearizable.
//     An append whose outcome is unknown is open (it may take effect at any
//     instant after its call) if final holds its value, and left out if it
//     does not: final holds every append ever applied, since values are
//     only ever appended, so such an append never took effect. With
//     trustNotApplied false, an append that failed "not applied" is
//     treated as unknown.
func Check(ops []Op, final map[string][]string, trustNotApplied bool, timeout time.Duration) Result {
	var r Result
	in := map[string]int{} // value -> times in final
	keys := map[string]bool{}
	var end time.Duration
	for _, op := range ops {
		keys[op.Key] = true
		end = max(end, op.Call, op.Return)
	}
	for k := range keys {
		for _, v := range final[k] {
			in[v]++
		}
	}
	for _, n := range in {
		if n > 1 {
			r.Duplicated++
		}
	}
	var hist []porcupine.Operation
	add := func(op Op, input kvInput, output any, ret int64) {
		hist = append(hist, porcupine.Operation{ClientId: op.Client, Input: input, Output: output, Call: int64(op.Call), Return: ret})
	}
	for _, op := range ops {
		if op.Status == StatusNotSent {
			continue
		}
		if op.Kind == "read" {
			if op.Status == StatusOK {
				add(op, kvInput{read: true, key: op.Key}, digest(op.Vals), int64(op.Return))
			}
			continue
		}
		input := kvInput{key: op.Key, val: op.Val}
		switch {
		case op.Status == StatusOK:
			r.Acked++
			if in[op.Val] == 0 {
				r.Lost++
			}
			add(op, input, nil, int64(op.Return))
			continue
		case op.Status == StatusFailed && op.Class == ClassNotApplied:
			r.NotApplied++
			if in[op.Val] > 0 {
				r.NotAppliedIn++
				if len(r.Lied) < 3 {
					r.Lied = append(r.Lied, op.Node+": "+op.Err)
				}
			}
			if trustNotApplied {
				continue
			}
		default:
			r.Unknown++
			if in[op.Val] > 0 {
				r.UnknownIn++
			}
		}
		if in[op.Val] > 0 {
			add(op, input, nil, math.MaxInt64)
		}
	}
	for k := range keys {
		op := Op{Client: -1, Call: end + 1}
		add(op, kvInput{read: true, key: k}, digest(final[k]), int64(end+2))
	}
	r.Ops = len(hist)
	r.Linearizable = porcupine.CheckOperationsTimeout(Model, hist, timeout)
	return r
}

// Failed says what is wrong, or "" if nothing is.
func (r Result) Failed(trustNotApplied bool) string {
	var bad []string
	switch r.Linearizable {
	case porcupine.Illegal:
		bad = append(bad, "not linearizable")
	case porcupine.Unknown:
		bad = append(bad, "linearizability check timed out")
	}
	if r.Lost > 0 {
		bad = append(bad, fmt.Sprintf("%d acknowledged writes lost", r.Lost))
	}
	if r.Duplicated > 0 {
		bad = append(bad, fmt.Sprintf("%d writes applied twice", r.Duplicated))
	}
	if trustNotApplied && r.NotAppliedIn > 0 {
		bad = append(bad, fmt.Sprintf("%d writes applied after an error that says \"not applied\"", r.NotAppliedIn))
	}
	return strings.Join(bad, "; ")
}
