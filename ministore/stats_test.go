// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The counters follow what the Store does: records, bytes, group commits,
// fsyncs, rotations, preallocation.
func TestStatsCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, quietOptions(Options{MaxSegmentBytes: 4 << 10}, nil))
	st0 := s.Stats()
	if st0.Appends != 0 || st0.Batches != 0 || st0.Segments != 1 || st0.Recovery <= 0 || st0.TornTailRepairs != 0 {
		t.Fatalf("after Open: %+v", st0)
	}
	if _, err := s.Append(kv{"a", 1}); err != nil {
		t.Fatal(err)
	}
	st1 := s.Stats()
	d := st1.Sub(st0)
	if d.Appends != 1 || d.Batches != 1 || d.Fsyncs != 1 || d.FsyncLatency.Count != 1 || d.FsyncLatency.Sum <= 0 {
		t.Fatalf("one Append: %+v", d)
	}
	if d.AppendBytes == 0 || int64(d.AppendBytes) != st1.Bytes-st0.Bytes {
		t.Fatalf("one Append wrote %d bytes, the files grew by %d", d.AppendBytes, st1.Bytes-st0.Bytes)
	}
	if d.PreallocSteps != 1 {
		t.Fatalf("first write preallocated %d times, want 1", d.PreallocSteps)
	}
	if _, _, err := s.AppendBatch(kv{"b", 2}, kv{"c", 3}, kv{"d", 4}); err != nil {
		t.Fatal(err)
	}
	d = s.Stats().Sub(st1)
	if d.Appends != 3 || d.Batches != 1 || d.RecordsPerBatch() != 3 {
		t.Fatalf("AppendBatch of 3: %+v", d)
	}
	for i := range 200 {
		if _, err := s.Append(kv{"k", i}); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Rotations == 0 || st.Segments != int(st.Rotations)+1 || st.Segments != len(s.Segments()) {
		t.Fatalf("200 appends with 4 KiB segments: %d rotations, %d segments, %d listed",
			st.Rotations, st.Segments, len(s.Segments()))
	}
	// Every rotation fsyncs the sealed file once more.
	if st.Appends != 204 || st.Batches != 202 || st.Fsyncs != st.Batches+st.Rotations ||
		st.FsyncLatency.Count != st.Fsyncs || st.PreallocSteps < st.Rotations {
		t.Fatalf("after 204 records: %+v", st)
	}
	var files int64
	for _, seg := range s.Segments() {
		files += seg.End
	}
	if st.Bytes != files {
		t.Fatalf("Bytes %d, segments end at %d in all", st.Bytes, files)
	}
}

// Open's repair of a torn tail is counted.
func TestStatsTornTail(t *testing.T) {
	path, _ := damaged(t, 5, func(b []byte) []byte { return b[:len(b)-9] })
	s := openT[kv](t, path, quietOptions(Options{}, nil))
	if st := s.Stats(); st.TornTailRepairs != 1 || st.Recovery <= 0 {
		t.Fatalf("Stats after a repair: %+v", st)
	}
}

// Under SyncNever appends make no fsync; Sync does, once.
func TestStatsSyncNever(t *testing.T) {
	s := openT[kv](t, filepath.Join(t.TempDir(), "j.log"), quietOptions(Options{Sync: SyncNever}, nil))
	for i := range 10 {
		if _, err := s.Append(kv{"k", i}); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Appends != 10 || st.Fsyncs != 0 {
		t.Fatalf("10 appends under SyncNever: %+v", st)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Fsyncs != 1 {
		t.Fatalf("after Sync: %d fsyncs, want 1", st.Fsyncs)
	}
}

// Stats may be called while many goroutines append; no append is lost from
// the counts, and group commit shows as fewer batches than records.
func TestStatsConcurrent(t *testing.T) {
	s := openT[kv](t, filepath.Join(t.TempDir(), "j.log"), quietOptions(Options{}, nil))
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Append(kv{"w", w*each + i}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() {
		var prev Stats
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := s.Stats()
			if st.Appends < prev.Appends || st.Batches < prev.Batches || st.Fsyncs < prev.Fsyncs {
				t.Errorf("counters went back: %+v after %+v", st, prev)
				return
			}
			prev = st
		}
	})
	wg.Wait()
	close(stop)
	reader.Wait()
	st := s.Stats()
	if st.Appends != writers*each || st.Batches == 0 || st.Batches > st.Appends || st.FsyncLatency.Count != st.Fsyncs {
		t.Fatalf("after %d appends: %+v", writers*each, st)
	}
}

func TestTimerBuckets(t *testing.T) {
	tests := []struct {
		d      time.Duration
		bucket int
	}{
		{0, 0},
		{50 * time.Microsecond, 0},
		{50*time.Microsecond + 1, 1},
		{time.Millisecond, 4},
		{3 * time.Millisecond, 6},
		{time.Second, len(LatencyBuckets) - 1},
		{time.Second + 1, len(LatencyBuckets)},
		{time.Hour, HistogramBuckets - 1},
	}
	for _, tc := range tests {
		var tm Timer
		tm.Observe(tc.d)
		h := tm.Histogram()
		if h.Counts[tc.bucket] != 1 || h.Count != 1 || h.Sum != tc.d {
			t.Errorf("Observe(%v): %+v, want bucket %d", tc.d, h, tc.bucket)
		}
	}
	var tm Timer
	tm.Observe(time.Millisecond)
	before := tm.Histogram()
	tm.Observe(3 * time.Millisecond)
	tm.Observe(5 * time.Millisecond)
	d := tm.Histogram().Sub(before)
	if d.Count != 2 || d.Sum != 8*time.Millisecond || d.Counts[6] != 2 || d.Counts[4] != 0 || d.Mean() != 4*time.Millisecond {
		t.Fatalf("Sub: %+v", d)
	}
}

// BenchmarkAppendStats measures what counting costs an Append: "on" is
// the Store as it ships, "off" the same with the counting skipped. Under
// SyncNever no fsync hides the cost.
func BenchmarkAppendStats(b *testing.B) {
	for _, sync := range []struct {
		name string
		mode SyncMode
	}{{"always", SyncAlways}, {"never", SyncNever}} {
		for _, off := range []bool{false, true} {
			name := sync.name + "/on"
			if off {
				name = sync.name + "/off"
			}
			b.Run(name, func(b *testing.B) {
				s, err := Open[benchRecord](filepath.Join(b.TempDir(), "j.log"), &Options{Sync: sync.mode})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				s.w.stats.off = off
				appendLoop(b, s)
			})
		}
	}
}

// BenchmarkStatsCounting is what counting adds to one group commit: the
// two clock reads around the fsync, the histogram and the counters.
func BenchmarkStatsCounting(b *testing.B) {
	var c counters
	for b.Loop() {
		start := time.Now()
		c.fsync.Observe(time.Since(start))
		c.fsyncs.Add(1)
		c.batch(1, 100)
	}
}
