// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import "sort"

// rangeSet is a set of sequence numbers kept as sorted, disjoint, non-adjacent
// closed intervals. A consumer keeps the messages it has resolved (acked,
// dead-lettered, or skipped) above its floor in one; acks arrive roughly in
// order, so it stays a handful of intervals even when millions of messages
// are acknowledged out of order around one that is stuck.
type rangeSet struct {
	r     []span
	total uint64 // number of elements
}

// span is the closed interval [lo, hi].
type span struct{ lo, hi uint64 }

// add inserts s and reports whether it was missing.
func (rs *rangeSet) add(s uint64) bool {
	// i is the first span with hi >= s-1 (the one s may extend or join).
	i := sort.Search(len(rs.r), func(i int) bool { return rs.r[i].hi+1 >= s })
	if i < len(rs.r) && rs.r[i].lo <= s && s <= rs.r[i].hi {
		return false
	}
	rs.total++
	switch {
	case i < len(rs.r) && rs.r[i].hi+1 == s:
		rs.r[i].hi = s
		if i+1 < len(rs.r) && rs.r[i+1].lo == s+1 {
			rs.r[i].hi = rs.r[i+1].hi
			rs.r = append(rs.r[:i+1], rs.r[i+2:]...)
		}
	case i < len(rs.r) && rs.r[i].lo == s+1:
		rs.r[i].lo = s
	default:
		rs.r = append(rs.r, span{})
		copy(rs.r[i+1:], rs.r[i:])
		rs.r[i] = span{s, s}
	}
	return true
}

// contains reports whether s is in the set.
func (rs *rangeSet) contains(s uint64) bool {
	i := sort.Search(len(rs.r), func(i int) bool { return rs.r[i].hi >= s })
	return i < len(rs.r) && rs.r[i].lo <= s
}

// popFrom removes the span starting at floor, if there is one, and returns
// the first number after it; otherwise it returns floor. It is how a
// consumer's floor advances over the messages resolved just above it.
func (rs *rangeSet) popFrom(floor uint64) uint64 {
	if len(rs.r) > 0 && rs.r[0].lo == floor {
		sp := rs.r[0]
		rs.total -= sp.hi - sp.lo + 1
		rs.r = rs.r[1:]
		if len(rs.r) == 0 {
			rs.r = nil
		}
		return sp.hi + 1
	}
	return floor
}

// gaps calls fn for every number in [lo, hi) that is not in the set.
func (rs *rangeSet) gaps(lo, hi uint64, fn func(uint64)) {
	s := lo
	for _, sp := range rs.r {
		if sp.lo >= hi {
			break
		}
		for ; s < sp.lo && s < hi; s++ {
			fn(s)
		}
		s = max(s, sp.hi+1)
	}
	for ; s < hi; s++ {
		fn(s)
	}
}

// spans returns a copy of the intervals.
func (rs *rangeSet) spans() [][2]uint64 {
	out := make([][2]uint64, len(rs.r))
	for i, sp := range rs.r {
		out[i] = [2]uint64{sp.lo, sp.hi}
	}
	return out
}

// dropBelow removes every number below limit.
func (rs *rangeSet) dropBelow(limit uint64) {
	i := 0
	for ; i < len(rs.r) && rs.r[i].hi < limit; i++ {
		rs.total -= rs.r[i].hi - rs.r[i].lo + 1
	}
	rs.r = rs.r[i:]
	if len(rs.r) > 0 && rs.r[0].lo < limit {
		rs.total -= limit - rs.r[0].lo
		rs.r[0].lo = limit
	}
	if len(rs.r) == 0 {
		rs.r = nil
	}
}
