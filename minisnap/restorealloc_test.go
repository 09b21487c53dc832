// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/mini-go/mini/minisnap"
)

// TestRestoreGarbage checks that a JSON snapshot is decoded where it lies
// in the Store's read buffer: through a json.Decoder, which copies it into
// a buffer of its own grown in steps, restoring it allocated more than four
// times its size, and in a recovering process that garbage is what starts
// the first garbage collections. The state is one long string, so what
// the decoded state itself takes is known: its size.
func TestRestoreGarbage(t *testing.T) {
	const size = 200 << 10
	type state struct{ S string }
	s, err := minisnap.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Create(state{strings.Repeat("x", size)}, 1); err != nil {
		t.Fatal(err)
	}
	var got state
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := s.Restore(&got); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if len(got.S) != size {
		t.Fatalf("restored a string of %d bytes, want %d", len(got.S), size)
	}
	// The read buffer and the string: twice the size, and a little more.
	alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(2*size+size/2)
	t.Logf("restoring a %d-byte state allocated %d bytes", size, alloc)
	if alloc > limit {
		t.Fatalf("restoring a %d-byte state allocated %d bytes, want at most %d", size, alloc, limit)
	}
}
