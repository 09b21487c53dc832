package ministore

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/internal/vfs"
)

// benchRecord encodes to about 100 bytes of JSON.
type benchRecord struct {
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value string `json:"value"`
	N     int    `json:"n"`
}

func newBenchRecord(i int) benchRecord {
	return benchRecord{Op: "put", Key: "user/000000000042", Value: "the quick brown fox jumps over the lazy dog", N: i}
}

// BenchmarkBaselineFdatasync is the physical limit the append benchmarks
// are measured against: write a 100-byte line into a preallocated,
// zero-filled file and fdatasync it, in a loop, in the same folder.
func BenchmarkBaselineFdatasync(b *testing.B) {
	path := filepath.Join(b.TempDir(), "raw")
	f, err := vfs.OS.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const prealloc = 64 << 20
	if err := writeFull(f, make([]byte, prealloc), 0); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	line := make([]byte, 100)
	for i := range line {
		line[i] = 'x'
	}
	line[99] = '\n'
	var off int64
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if off+100 > prealloc {
			off = 0
		}
		if _, err := f.WriteAt(line, off); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		off += 100
	}
}

// BenchmarkAppend is one writer, fsync on every append, ~100-byte records.
func BenchmarkAppend(b *testing.B) {
	s, err := Open[benchRecord](filepath.Join(b.TempDir(), "j.log"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rec := newBenchRecord(0)
	b.SetBytes(100)
	for b.Loop() {
		if _, err := s.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel64 is 64 goroutines appending at once; every
// Append still returns only when its own record is durable. ns/op is per
// record, so the rate is comparable with BenchmarkAppend.
func BenchmarkAppendParallel64(b *testing.B) {
	s, err := Open[benchRecord](filepath.Join(b.TempDir(), "j.log"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(100)
	const writers = 64
	var next atomic.Int64
	n := int64(b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			rec := newBenchRecord(0)
			for next.Add(1) <= n {
				if _, err := s.Append(rec); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkReplay streams a journal of ~100-byte records; ns/op is per
// record. The journal is written once, outside the timed region.
func BenchmarkReplay(b *testing.B) {
	path := filepath.Join(b.TempDir(), "j.log")
	const n = 200_000
	writeBenchJournal(b, path, n)
	b.Run("typed", func(b *testing.B) { benchReplay[benchRecord](b, path, n) })
	b.Run("raw", func(b *testing.B) { benchReplay[json.RawMessage](b, path, n) })
}

func benchReplay[R any](b *testing.B, path string, n int) {
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(info.Size()) // one op reads the whole journal
	b.ReportAllocs()
	count := 0
	for b.Loop() {
		for _, err := range Records[R](path, 1) {
			if err != nil {
				b.Fatal(err)
			}
			count++
		}
	}
	if count%n != 0 {
		b.Fatalf("read %d records, want a multiple of %d", count, n)
	}
	b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(0, "ns/op")
}

func writeBenchJournal(tb testing.TB, path string, n int) {
	s, err := Open[benchRecord](path, &Options{Sync: SyncNever})
	if err != nil {
		tb.Fatal(err)
	}
	batch := make([]benchRecord, 1000)
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			batch[j] = newBenchRecord(i + j)
		}
		if _, _, err := s.AppendBatch(batch...); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkOpen opens (and closes) a journal of 200,000 ~100-byte records:
// closed cleanly, and as a crashed process leaves it, with the 4 MiB of
// preallocated zeros after the last record.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	clean := filepath.Join(dir, "clean", "j.log")
	const n = 200_000
	writeBenchJournal(b, clean, n)
	data, err := os.ReadFile(clean)
	if err != nil {
		b.Fatal(err)
	}
	unclosed := filepath.Join(dir, "unclosed", "j.log")
	if err := os.MkdirAll(filepath.Dir(unclosed), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(unclosed, append(data, make([]byte, 4<<20)...), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{clean, unclosed} {
		b.Run(filepath.Base(filepath.Dir(path)), func(b *testing.B) {
			opts := &Options{NoPreallocate: true}
			for b.Loop() {
				s, err := Open[benchRecord](path, opts)
				if err != nil {
					b.Fatal(err)
				}
				if s.LastSeq() != n || s.TornTail() != nil {
					b.Fatalf("last %d, torn %v", s.LastSeq(), s.TornTail())
				}
				// Close without trimming the zeros: the next Open sees them too.
				s.w.closeFiles()
				s.w.lock.Close()
			}
		})
	}
}

// BenchmarkEncode is the CPU cost of turning a ~100-byte record into its
// payload: json.Marshal and the check for invalid UTF-8.
func BenchmarkEncode(b *testing.B) {
	rec := newBenchRecord(42)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encode(rec); err != nil {
			b.Fatal(err)
		}
	}
}
