// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"path/filepath"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

// Replaying the journal allocates nothing per record when the mutations
// hold no pointers: each record is read without a copy of its own and
// decoded in place into the decoding pipeline's reused slots. Allocations
// that grow with the journal make the garbage collector stop the decoders
// again and again. The test compares two journals' Opens, so what does not
// depend on the journal's length cancels out.
func TestRecoveryAllocationsPerRecord(t *testing.T) {
	const small, large = 2_000, 42_000
	allocs := func(n int) float64 {
		dir := t.TempDir()
		s, err := ministore.Open[Inc](filepath.Join(dir, "state.log"), &ministore.Options{Sync: ministore.SyncNever})
		if err != nil {
			t.Fatal(err)
		}
		batch := make([]Inc, n)
		for i := range batch {
			batch[i] = Inc{By: 1}
		}
		if _, _, err := s.AppendBatch(batch...); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		opts := &ministate.Options{Logger: testutil.Quiet()}
		return testing.AllocsPerRun(3, func() {
			m, err := ministate.Open[Counter, Inc](dir, "state.log", opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := state(m).Value; got != uint32(n) {
				t.Fatalf("state %d after %d records", got, n)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := allocs(small), allocs(large)
	perK := (b - a) / (large - small) * 1000
	t.Logf("Open allocates %.0f times for %d records, %.0f for %d", a, small, b, large)
	if perK > 1 {
		t.Fatalf("Open allocates %.0f times for %d records, %.0f for %d: %.1f per 1,000 records, want at most 1", a, small, b, large, perK)
	}
}
