// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// boundRaceDuration is how long TestFrontBoundRacingReaders runs: 5 s by
// default, MINI_BOUND_RACE_SECONDS to run it longer.
func boundRaceDuration(t *testing.T) time.Duration {
	d := 5 * time.Second
	if s := os.Getenv("MINI_BOUND_RACE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("MINI_BOUND_RACE_SECONDS=%q: want a number of seconds", s)
		}
		d = time.Duration(n) * time.Second
	}
	if testing.Short() {
		d = time.Second
	}
	return d
}

// TestFrontBoundRacingReaders: on real files, readers that take no lock
// (Records, Bounds, Inspect, Stat, FrontSeq) run in a loop while a writer
// appends and calls TruncateFront thousands of times (raft's DeleteRange
// pattern), so they race the in-place updates of NAME.front. No reader
// may report damage (a bound half written is a write in flight, not
// damage), and none may return a record below a bound that was
// acknowledged before it started.
func TestFrontBoundRacingReaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[kv](t, path, &Options{MaxSegmentBytes: 2048})
	defer s.Close()
	appendN(t, s, 1, 10)

	var acked atomic.Uint64 // the last bound TruncateFront acknowledged
	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
		stop.Store(true)
	}
	var reads [5]atomic.Int64
	var inspectErrs atomic.Int64 // a rotation under Inspect
	var gaps atomic.Int64        // a TruncatedError after records read
	reader := func(id int) {
		defer wg.Done()
		for i := id; !stop.Load(); i++ {
			floor := acked.Load()
			kind := i % len(reads)
			reads[kind].Add(1)
			switch kind {
			case 0:
				n := 0
				for r, err := range Records[kv](path, 0) {
					var te *TruncatedError
					if errors.As(err, &te) && n > 0 {
						// Records after those read were deleted before
						// the reader got to them: a gap it must be told
						// of. Not before it read any.
						gaps.Add(1)
						n = -1
						break
					}
					if err != nil {
						fail(fmt.Errorf("Records after %d records: %w", n, err))
						return
					}
					if r.Seq < floor || r.Value.V != int(r.Seq) {
						fail(fmt.Errorf("Records: record %d (value %d) with bound %d acknowledged", r.Seq, r.Value.V, floor))
						return
					}
					if n++; n == 20 {
						break
					}
				}
				if n == 0 && !stop.Load() {
					// The writer keeps five records after the bound.
					fail(fmt.Errorf("Records: no record; bound %d acknowledged", floor))
					return
				}
			case 1:
				first, _, err := Bounds(path)
				if err != nil || first < floor || first == 0 {
					fail(fmt.Errorf("Bounds: first %d, %v; bound %d acknowledged", first, err, floor))
					return
				}
			case 2:
				// Inspect is for a journal at rest: a rotation under it
				// can fail it (a file gone) or give a Problem in the
				// newest file. Never one about the bound, though.
				info, err := Inspect(path, nil)
				if err != nil {
					inspectErrs.Add(1)
					if errors.As(err, new(*JournalError)) {
						fail(fmt.Errorf("Inspect: %w", err))
						return
					}
					continue
				}
				var je *JournalError
				if errors.As(info.Problem, &je) && je.Path == boundPath(path) {
					fail(fmt.Errorf("Inspect: %w", info.Problem))
					return
				}
				if info.Problem != nil {
					inspectErrs.Add(1)
				} else if info.Records > 0 && info.FirstSeq < floor {
					fail(fmt.Errorf("Inspect: first record %d; bound %d acknowledged", info.FirstSeq, floor))
					return
				}
			case 3:
				info, err := Stat(path, nil)
				if err != nil || info.Problem != nil || info.FirstSeq < floor || info.Records == 0 {
					fail(fmt.Errorf("Stat: %+v, %v; bound %d acknowledged", info, err, floor))
					return
				}
			case 4:
				first, err := FrontSeq(path, nil)
				if err != nil || first < floor {
					fail(fmt.Errorf("FrontSeq: %d, %v; bound %d acknowledged", first, err, floor))
					return
				}
			}
		}
	}
	for id := range 2 {
		wg.Add(1)
		go reader(id)
	}

	deadline := time.Now().Add(boundRaceDuration(t))
	cuts := 0
	next := 11
	for !stop.Load() && time.Now().Before(deadline) {
		appendN(t, s, next, 3)
		next += 3
		// Keep the last five records: the bound moves inside a segment
		// most of the time and past one now and then.
		cut := uint64(next - 5)
		if err := s.TruncateFront(cut); err != nil {
			fail(fmt.Errorf("TruncateFront(%d): %w", cut, err))
			break
		}
		acked.Store(cut)
		cuts++
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		var je *JournalError
		t.Errorf("%v (JournalError: %v, ErrCorrupt: %v)", err, errors.As(err, &je), errors.Is(err, ErrCorrupt))
	}
	t.Logf("%d TruncateFront calls; reads: Records %d (%d cut short by a TruncatedError), Bounds %d, Inspect %d (%d failed on a rotation), Stat %d, FrontSeq %d",
		cuts, reads[0].Load(), gaps.Load(), reads[1].Load(), reads[2].Load(), inspectErrs.Load(), reads[3].Load(), reads[4].Load())
	if cuts < 100 {
		t.Errorf("only %d TruncateFront calls: the race did not run", cuts)
	}
}
