// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/vfs"
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

// prealloc is the size of the file the baselines write into.
const prealloc = 64 << 20

// rawFile returns a new file of prealloc zeros, fsync'd, for a baseline;
// it is closed when b ends.
func rawFile(b *testing.B) vfs.File {
	f, err := vfs.OS.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if err := writeFull(f, make([]byte, prealloc), 0); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkBaselineFdatasync is the physical limit the append benchmarks
// are measured against: write a 100-byte line into a preallocated,
// zero-filled file and fdatasync it, in a loop, in the same folder.
func BenchmarkBaselineFdatasync(b *testing.B) {
	f := rawFile(b)
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
	appendLoop(b, s)
}

// appendLoop is the loop of the one-writer append benchmarks.
func appendLoop(b *testing.B, s *Store[benchRecord]) {
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
	rec := newBenchRecord(0)
	runWriters(b, 64, func() error {
		_, err := s.Append(rec)
		return err
	})
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
// payload: encoding/json into a pooled buffer and the check for invalid
// UTF-8.
func BenchmarkEncode(b *testing.B) {
	rec := newBenchRecord(42)
	b.ReportAllocs()
	for b.Loop() {
		buf := getEncBuf()
		if _, err := encode(nil, rec, buf, 0); err != nil {
			b.Fatal(err)
		}
		putEncBuf(buf)
	}
}

// bigSizes are the record sizes of the big-record benchmarks, with the
// number of concurrent writers each is measured with.
var bigSizes = []struct {
	name    string
	size    int
	writers int
}{
	{"4KiB-64w", 4 << 10, 64},
	{"16KiB-64w", 16 << 10, 64},
	{"1MiB-1w", 1 << 20, 1},
}

// newSizedRecord returns a benchRecord whose JSON is about size bytes.
func newSizedRecord(size int) benchRecord {
	r := newBenchRecord(1_000_000)
	base, _ := json.Marshal(r)
	pad := max(size-len(base), 0)
	v := make([]byte, pad)
	for i := range v {
		v[i] = "the quick brown fox jumps over the lazy dog. "[i%45]
	}
	r.Value = string(v)
	return r
}

// runWriters calls op b.N times in all from writers goroutines; ns/op is
// per call.
func runWriters(b *testing.B, writers int, op func() error) {
	var next atomic.Int64
	n := int64(b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= n {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkBaselineBig is the physical limit for BenchmarkAppendBig: the
// record's JSON, encoded once before the loop, written as a line with one
// pwrite and one fdatasync per batch into a preallocated, zero-filled
// file (64 MiB, written round and round). Concurrent writers hand their
// lines to one loop that writes every line waiting at that moment with one
// pwrite and one fdatasync: the least any group commit can do. Compare the
// two in one run (-bench 'Big'); ns/op is per record.
func BenchmarkBaselineBig(b *testing.B) {
	for _, bs := range bigSizes {
		b.Run(bs.name, func(b *testing.B) { benchRawBig(b, bs.size, bs.writers) })
	}
}

func benchRawBig(b *testing.B, size, writers int) {
	f := rawFile(b)
	line, err := json.Marshal(newSizedRecord(size))
	if err != nil {
		b.Fatal(err)
	}
	line = append(line, '\n')
	b.SetBytes(int64(len(line)))
	var off int64
	write := func(p []byte) error {
		if off+int64(len(p)) > prealloc {
			off = 0
		}
		if err := writeFull(f, p, off); err != nil {
			return err
		}
		off += int64(len(p))
		return f.Sync()
	}
	if writers == 1 {
		runWriters(b, 1, func() error { return write(line) })
		return
	}
	type req struct{ ack chan error }
	reqs := make(chan req, writers)
	done := make(chan struct{})
	batches := 0
	go func() {
		defer close(done)
		var batch []req
		var buf []byte
		for first := range reqs {
			batch = append(batch[:0], first)
		drain:
			for {
				select {
				case r, ok := <-reqs:
					if !ok {
						break drain
					}
					batch = append(batch, r)
				default:
					break drain
				}
			}
			buf = buf[:0]
			for range batch {
				buf = append(buf, line...)
			}
			err := write(buf)
			batches++
			for _, r := range batch {
				r.ack <- err
			}
		}
	}()
	var ackPool = sync.Pool{New: func() any { return make(chan error, 1) }}
	runWriters(b, writers, func() error {
		ack := ackPool.Get().(chan error)
		reqs <- req{ack}
		err := <-ack
		ackPool.Put(ack)
		return err
	})
	close(reqs)
	<-done
	b.ReportMetric(float64(b.N)/float64(max(batches, 1)), "rec/batch")
}

// BenchmarkAppendBig appends big records with the default options:
// 4 KiB and 16 KiB from 64 writers, 1 MiB from one; ns/op is per record.
// BenchmarkBaselineBig is its limit.
func BenchmarkAppendBig(b *testing.B) {
	for _, bs := range bigSizes {
		b.Run(bs.name, func(b *testing.B) { benchAppendBig(b, bs.size, bs.writers, nil) })
	}
	// Without preallocation, for comparison: the file grows with each batch.
	for _, bs := range bigSizes {
		b.Run(bs.name+"-noprealloc", func(b *testing.B) {
			benchAppendBig(b, bs.size, bs.writers, &Options{NoPreallocate: true})
		})
	}
}

func benchAppendBig(b *testing.B, size, writers int, opts *Options) {
	s, err := Open[benchRecord](filepath.Join(b.TempDir(), "j.log"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rec := newSizedRecord(size)
	b.SetBytes(int64(size))
	runWriters(b, writers, func() error {
		_, err := s.Append(rec)
		return err
	})
	b.ReportMetric(s.Stats().RecordsPerBatch(), "rec/batch")
}

// BenchmarkAppendBigPreencoded is BenchmarkAppendBig with the record's
// JSON encoded once, before the loop, as BenchmarkBaselineBig has it: the
// journal's own cost (framing, checksums, group commit, preallocation,
// rotation) without the encoding's.
func BenchmarkAppendBigPreencoded(b *testing.B) {
	for _, bs := range bigSizes {
		b.Run(bs.name, func(b *testing.B) { benchAppendPreencoded(b, bs.size, bs.writers) })
	}
}

func benchAppendPreencoded(b *testing.B, size, writers int) {
	s, err := Open[jsonline.Trusted](filepath.Join(b.TempDir(), "j.log"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rec, err := json.Marshal(newSizedRecord(size))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	runWriters(b, writers, func() error {
		_, err := s.Append(rec)
		return err
	})
	b.ReportMetric(s.Stats().RecordsPerBatch(), "rec/batch")
}

// BenchmarkRecordsSegments reads 100,000 ~100-byte records with Records,
// typed and raw, from a journal of one segment and from one of about 1,000
// segments; ns/op is per record. Many small segments should cost little
// more than one.
func BenchmarkRecordsSegments(b *testing.B) {
	segmentedJournals(b, func(name, path string, n, segs int) {
		b.Run(name+"/typed", func(b *testing.B) {
			benchReplay[benchRecord](b, path, n)
			b.ReportMetric(float64(segs), "segments")
		})
		b.Run(name+"/raw", func(b *testing.B) {
			benchReplay[json.RawMessage](b, path, n)
			b.ReportMetric(float64(segs), "segments")
		})
	})
}
