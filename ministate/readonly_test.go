// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"io/fs"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mini-go/mini/ministate"
)

func treeSizes(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Load beside the Manager that has the folder open: the Manager's state,
// and nothing written.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if s, seq, err := ministate.Load[Counter, Inc](dir, "c.log", nil); err != nil || seq != 0 || s.Value != 0 {
		t.Fatalf("Load of an empty folder: %+v %d %v", s, seq, err)
	}
	m, err := ministate.Open[Counter, Inc](dir, "c.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := 1; i <= 10; i++ {
		if _, err := m.Apply(Inc{By: uint32(i)}); err != nil {
			t.Fatal(err)
		}
		if i == 6 {
			if _, err := m.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := treeSizes(t, dir)
	s, seq, err := ministate.Load[Counter, Inc](dir, "c.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Value != 55 || seq != 10 || seq != m.Sequence() {
		t.Fatalf("Load = %+v at %d; the Manager is at %d", s, seq, m.Sequence())
	}
	after := treeSizes(t, dir)
	if len(before) != len(after) {
		t.Fatalf("Load changed the folder:\n%v\n%v", before, after)
	}
	for p, n := range before {
		if after[p] != n {
			t.Fatalf("Load changed %s", p)
		}
	}
}

// Load over and over beside a Manager that snapshots and compacts its
// journal every few records (keeping one snapshot): never an error, and
// always a state that its sequence number explains.
func TestLoadLive(t *testing.T) {
	dir := t.TempDir()
	m, err := ministate.Open[Counter, Inc](dir, "c.log", &ministate.Options{SnapshotEvery: 10, KeepSnapshots: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := m.Apply(Inc{By: 1}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()
	// Widen the window between the two reads, where a compaction makes
	// the journal start after the snapshot read: Load must read again.
	defer ministate.SetLoadPause(20 * time.Millisecond)()
	// At least a second, and until the Manager has compacted a few times
	// (a loaded machine applies slowly); at most 15 s.
	start := time.Now()
	var prev uint64
	n := 0
	for (time.Since(start) < time.Second || prev < 40) && time.Since(start) < 15*time.Second {
		s, seq, err := ministate.Load[Counter, Inc](dir, "c.log", nil)
		if err != nil {
			t.Fatalf("Load beside a live Manager: %v", err)
		}
		if uint64(s.Value) != seq || seq < prev {
			t.Fatalf("Load = %+v at %d (before: %d)", s, seq, prev)
		}
		prev = seq
		n++
	}
	if n < 5 || prev < 40 {
		t.Fatalf("%d loads, last at %d: the test did not run", n, prev)
	}
}
