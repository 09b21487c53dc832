// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// BenchmarkTruncateFront cuts the front of a journal inside its one big
// segment, one record further each time, on the real disk (every cut is
// durable). Its cost, in time and in bytes written (B-written/op), does not
// depend on the segment size: the cut writes one 512-byte slot of the
// bound file in place, fdatasyncs it, and copies nothing. When the cuts
// reach the segment's end, a new journal is made with the timer stopped. (Before the front bound, each cut copied the rest of the
// segment: about half of it here.)
//
//	go test -run '^$' -bench TruncateFront ./ministore
func BenchmarkTruncateFront(b *testing.B) {
	for _, size := range []int64{1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("segment=%dMiB", size>>20), func(b *testing.B) {
			c := &countingFS{FS: vfs.OS}
			// fill opens a new journal whose one segment is about 90 %
			// full, with records of ~100 bytes, and cuts it in the
			// middle.
			fill := func() (*Store[string], uint64) {
				s, err := Open[string](filepath.Join(b.TempDir(), "j.log"), &Options{FS: c, MaxSegmentBytes: size, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				rec := strings.Repeat("x", 64)
				batch := make([]string, 4096)
				for i := range batch {
					batch[i] = rec
				}
				for s.Segments()[0].End < size*9/10-int64(len(batch))*100 {
					if _, _, err := s.AppendBatch(batch...); err != nil {
						b.Fatal(err)
					}
				}
				if n := len(s.Segments()); n != 1 {
					b.Fatalf("%d segments, want 1", n)
				}
				cut := s.LastSeq() / 2 // the middle of the segment
				if err := s.TruncateFront(cut); err != nil {
					b.Fatal(err)
				}
				return s, cut
			}
			s, cut := fill()
			defer func() { s.Close() }()
			c.written = 0
			ops := 0
			for b.Loop() {
				if cut+1 >= s.LastSeq() {
					// The cuts reached the segment's end: a new journal,
					// its making not timed.
					b.StopTimer()
					s.Close()
					written := c.written
					s, cut = fill()
					c.written = written
					b.StartTimer()
				}
				cut++
				if err := s.TruncateFront(cut); err != nil {
					b.Fatal(err)
				}
				ops++
			}
			b.ReportMetric(float64(c.written)/float64(ops), "B-written/op")
		})
	}
}
