// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mini-go/mini/vfs"
)

func TestRecordsParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	dir := t.TempDir()
	path := filepath.Join(dir, "j.log")
	const n = 5000 // about ten decode batches
	s := openT[any](t, path, &Options{Sync: SyncNever, MaxSegmentBytes: 100 << 10})
	for i := 1; i <= n; i++ {
		var rec any = kv{K: "k", V: i}
		if i == 3000 {
			rec = map[string]string{"v": "not a number"}
		}
		if _, err := s.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	settled := func(t *testing.T, goroutines int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > goroutines {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Fatalf("%d goroutines left behind:\n%s", runtime.NumGoroutine()-goroutines, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(time.Millisecond)
		}
	}

	t.Run("order and decode error", func(t *testing.T) {
		base := runtime.NumGoroutine()
		next := 1
		for rec, err := range Records[kv](path, 1) {
			if err != nil {
				if next != 3000 || rec.Seq != 3000 {
					t.Fatalf("error at seq %d after %d records: %v", rec.Seq, next-1, err)
				}
				break
			}
			if rec.Seq != uint64(next) || rec.Value.V != next {
				t.Fatalf("got seq %d value %d, want %d", rec.Seq, rec.Value.V, next)
			}
			next++
		}
		if next != 3000 {
			t.Fatalf("stopped at %d", next)
		}
		settled(t, base)
	})
	t.Run("from and early break", func(t *testing.T) {
		base := runtime.NumGoroutine()
		count := 0
		for rec, err := range Records[kv](path, 3001) {
			if err != nil {
				t.Fatal(err)
			}
			if rec.Seq != uint64(3001+count) {
				t.Fatalf("seq %d at position %d", rec.Seq, count)
			}
			count++
			if count == 1234 {
				break
			}
		}
		settled(t, base)
	})
	t.Run("damage mid-log", func(t *testing.T) {
		base := runtime.NumGoroutine()
		files, _ := listSegments(vfsOS, path)
		b, _ := os.ReadFile(files[1].path)
		off := lineOffset(b, 100)
		b[off+30] ^= 1
		os.WriteFile(files[1].path, b, 0o644)
		count := 0
		var last error
		for rec, err := range Records[kv](path, 3001) {
			if err != nil {
				last = err
				break
			}
			_ = rec
			count++
		}
		if !errors.Is(last, ErrCorrupt) {
			t.Fatalf("read %d records then %v", count, last)
		}
		settled(t, base)
	})
}

// records reads the journal and decodes its records into R strictly (see
// readRecords), yielding them in order.
func records[R any](fsys vfs.FS, path string, from, limit uint64, hint *seekHint, yield func(Record[R], error) bool) {
	readRecords(fsys, path, from, limit, hint, false, decoding{strict: true}, yield)
}
