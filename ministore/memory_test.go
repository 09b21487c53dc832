// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"path/filepath"
	"runtime"
	"testing"
)

// Streaming replay holds one record at a time: the live heap while reading
// a journal must not grow with the journal.
func TestReplayMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 25 MB journal")
	}
	path := filepath.Join(t.TempDir(), "j.log")
	const n = 200_000 // about 25 MB of lines
	writeBenchJournal(t, path, n)

	peak := func(count int) uint64 {
		var live uint64
		var ms runtime.MemStats
		i := 0
		for _, err := range Records[benchRecord](path, 1) {
			if err != nil {
				t.Fatal(err)
			}
			i++
			if i%10_000 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				live = ms.HeapAlloc
				if i >= count {
					break
				}
			}
		}
		return live
	}
	small := peak(20_000)
	large := peak(n)
	t.Logf("live heap after 20,000 records: %d KiB; after %d: %d KiB", small>>10, n, large>>10)
	if large > small+4<<20 {
		t.Fatalf("heap grew from %d KiB to %d KiB while reading", small>>10, large>>10)
	}
}
