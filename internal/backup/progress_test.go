// SPDX-License-Identifier: MIT OR Apache-2.0

package backup

import (
	"slices"
	"testing"
)

func TestProgress(t *testing.T) {
	var got [][2]int64
	p := NewProgress(func(done, total int64) { got = append(got, [2]int64{done, total}) })
	p.Note(100)
	p.copied(60)
	rewind := p.Rewind()
	p.Note(50)
	p.copied(50)
	rewind() // that part starts again
	nested := p.Nested()
	nested(0, 30) // a journal copied by another package's call
	nested(30, 30)
	p.copied(40) // back to this one: the nested bytes are kept
	want := [][2]int64{{0, 100}, {60, 100}, {60, 150}, {110, 150}, {60, 100}, {60, 130}, {90, 130}, {130, 130}}
	if !slices.Equal(got, want) {
		t.Fatalf("reports %v\nwant    %v", got, want)
	}

	var none *Progress // no callback: every call is a no-op
	none.Note(1)
	none.copied(1)
	none.Rewind()()
	if none.Nested() != nil || NewProgress(nil) != nil {
		t.Fatal("a nil Progress reports")
	}
}
