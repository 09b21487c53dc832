// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"sync/atomic"
	"time"
)

// Stats are a Store's figures, for monitoring: counters since Open, a few
// gauges, and the fsync latency histogram. Stats returns a copy; Sub gives
// the change between two copies. They are always on: each group commit
// costs a few atomic additions and two reads of the clock around its fsync.
type Stats struct {
	Appends      uint64    `json:"appends"`      // records appended (and written)
	AppendBytes  uint64    `json:"append_bytes"` // bytes of record lines written, framing included
	Batches      uint64    `json:"batches"`      // group commits: writes that carried one or more records
	Fsyncs       uint64    `json:"fsyncs"`       // fsyncs of the active file: batches, Sync, rotation, Close
	FsyncLatency Histogram `json:"fsync_latency"`
	Rotations    uint64    `json:"rotations"` // active files sealed
	Segments     int       `json:"segments"`  // gauge: files of the journal now, the active one included
	Bytes        int64     `json:"bytes"`     // gauge: bytes of the journal's files, preallocated zeros excluded
	// PreallocSteps counts the extensions of the active file with zeros
	// (see Options.NoPreallocate).
	PreallocSteps uint64 `json:"prealloc_steps"`
	// TornTailRepairs is 1 if Open cut a torn tail off (see TornTail),
	// else 0.
	TornTailRepairs uint64 `json:"torn_tail_repairs"`
	// Recovery is how long Open took: reading the files, checking them and
	// repairing a torn tail. Unlike the counters it is not reset by Sub.
	Recovery time.Duration `json:"recovery_ns"`
}

// RecordsPerBatch returns the mean number of records a group commit
// carried, or 0 before the first.
func (s Stats) RecordsPerBatch() float64 {
	if s.Batches == 0 {
		return 0
	}
	return float64(s.Appends) / float64(s.Batches)
}

// Sub returns the change of the counters and the histogram from prev to
// s; the gauges (Segments, Bytes) and Recovery are s's.
func (s Stats) Sub(prev Stats) Stats {
	d := s
	d.Appends -= prev.Appends
	d.AppendBytes -= prev.AppendBytes
	d.Batches -= prev.Batches
	d.Fsyncs -= prev.Fsyncs
	d.FsyncLatency = s.FsyncLatency.Sub(prev.FsyncLatency)
	d.Rotations -= prev.Rotations
	d.PreallocSteps -= prev.PreallocSteps
	d.TornTailRepairs -= prev.TornTailRepairs
	return d
}

// LatencyBuckets are the upper bounds of a Histogram's buckets, the last
// one being +Inf: from 50µs (an fsync absorbed by a battery-backed cache)
// to 1s (a disk in trouble).
var LatencyBuckets = [HistogramBuckets - 1]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	time.Second,
}

// HistogramBuckets is the number of a Histogram's buckets.
const HistogramBuckets = 14

// A Histogram counts durations in fixed buckets. Counts[i] holds the
// durations d with LatencyBuckets[i-1] < d <= LatencyBuckets[i]; the last
// bucket holds those above LatencyBuckets' last bound. The counts are not
// cumulative.
type Histogram struct {
	Counts [HistogramBuckets]uint64 `json:"counts"`
	Count  uint64                   `json:"count"`  // the sum of Counts
	Sum    time.Duration            `json:"sum_ns"` // the sum of the durations
}

// Sub returns the durations counted in h and not in prev.
func (h Histogram) Sub(prev Histogram) Histogram {
	for i := range h.Counts {
		h.Counts[i] -= prev.Counts[i]
	}
	h.Count -= prev.Count
	h.Sum -= prev.Sum
	return h
}

// Mean returns the mean duration, or 0 if none was counted.
func (h Histogram) Mean() time.Duration {
	if h.Count == 0 {
		return 0
	}
	return h.Sum / time.Duration(h.Count)
}

// A Timer is a Histogram that many goroutines can add to without a lock.
// The zero Timer is empty and ready to use. Other packages of this module
// time their own operations with it.
type Timer struct {
	counts [HistogramBuckets]atomic.Uint64
	sum    atomic.Int64
}

// Observe counts d.
func (t *Timer) Observe(d time.Duration) {
	i := 0
	for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
		i++
	}
	t.counts[i].Add(1)
	t.sum.Add(int64(d))
}

// Histogram returns what t counted. Taken while others observe, Count may
// run ahead of Sum by the durations being added.
func (t *Timer) Histogram() Histogram {
	var h Histogram
	for i := range t.counts {
		h.Counts[i] = t.counts[i].Load()
		h.Count += h.Counts[i]
	}
	h.Sum = time.Duration(t.sum.Load())
	return h
}

// counters are the Store's counters; the leader adds to them without a
// lock, Stats reads them at any time.
type counters struct {
	appends, appendBytes, batches, fsyncs atomic.Uint64
	rotations, preallocSteps, tornRepairs atomic.Uint64
	fsync                                 Timer
	recovery                              time.Duration // set once by Open
	// off stops the counting of appends and fsyncs, for the benchmark
	// that measures what counting costs (BenchmarkAppendStats).
	off bool
}

// batch counts a group commit of n records, size bytes.
func (c *counters) batch(n, size int) {
	if c.off {
		return
	}
	c.batches.Add(1)
	c.appends.Add(uint64(n))
	c.appendBytes.Add(uint64(size))
}

// fsync syncs f and counts it.
func (w *wal) fsync(f interface{ Sync() error }) error {
	if w.stats.off {
		return f.Sync()
	}
	start := time.Now()
	err := f.Sync()
	w.stats.fsync.Observe(time.Since(start))
	w.stats.fsyncs.Add(1)
	return err
}

// Stats returns the Store's figures. It takes no lock that an append
// waits on for more than a moment, so it may be called often.
func (s *Store[R]) Stats() Stats {
	w := s.w
	c := &w.stats
	st := Stats{
		Appends:         c.appends.Load(),
		AppendBytes:     c.appendBytes.Load(),
		Batches:         c.batches.Load(),
		Fsyncs:          c.fsyncs.Load(),
		FsyncLatency:    c.fsync.Histogram(),
		Rotations:       c.rotations.Load(),
		PreallocSteps:   c.preallocSteps.Load(),
		TornTailRepairs: c.tornRepairs.Load(),
		Recovery:        c.recovery,
	}
	w.segMu.RLock()
	st.Segments = len(w.segs)
	for _, seg := range w.segs {
		st.Bytes += seg.size
	}
	w.segMu.RUnlock()
	return st
}
