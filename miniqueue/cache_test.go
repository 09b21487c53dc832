// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"slices"
	"testing"
)

// compactFront moves the live items to the front once the dropped head is
// at least 1024 items and half of the slice, and not before.
func TestCompactFront(t *testing.T) {
	for _, tc := range []struct {
		n, head  int
		compacts bool
	}{
		{0, 0, false},
		{2000, 1023, false}, // head below 1024
		{3000, 1024, false}, // head below half
		{2048, 1024, true},
		{1024, 1024, true}, // everything dropped
		{5000, 4000, true},
	} {
		s := make([]int, tc.n)
		for i := range s {
			s[i] = i
		}
		got, head := compactFront(s, tc.head)
		if tc.compacts != (head == 0 && tc.head > 0) {
			t.Fatalf("n %d, head %d: head after = %d, want compacted %v", tc.n, tc.head, head, tc.compacts)
		}
		want := make([]int, 0, tc.n)
		for i := tc.head; i < tc.n; i++ {
			want = append(want, i)
		}
		if !slices.Equal(got[head:], want) {
			t.Fatalf("n %d, head %d: live items %v..., want %v...", tc.n, tc.head, got[head:min(head+3, len(got))], want[:min(3, len(want))])
		}
		if tc.compacts && len(got) != tc.n-tc.head {
			t.Fatalf("n %d, head %d: len %d after compaction, want %d", tc.n, tc.head, len(got), tc.n-tc.head)
		}
	}
}
