// SPDX-License-Identifier: MIT OR Apache-2.0

package decodepipe

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRun checks that records come out in order whatever the number of
// workers, and that a decoding error, a reading error and a caller that
// stops each end the run at the right record.
func TestRun(t *testing.T) {
	errRead := errors.New("read failed")
	errBad := errors.New("bad record")
	tests := []struct {
		name      string
		workers   int
		n         int    // records read
		readErr   error  // returned by read after n records
		badAt     uint64 // record whose decoding fails (0: none)
		stopAfter int    // yield returns false after this many (0: never)
		wantSeqs  int    // records yielded without error
		wantErr   error
	}{
		{name: "one worker", workers: 1, n: 3000, wantSeqs: 3000},
		{name: "four workers", workers: 4, n: 5000, wantSeqs: 5000},
		{name: "zero workers means one", workers: 0, n: 10, wantSeqs: 10},
		{name: "empty", workers: 2, n: 0, wantSeqs: 0},
		{name: "decoding error", workers: 3, n: 4000, badAt: 1500, wantSeqs: 1499, wantErr: errBad},
		{name: "reading error", workers: 2, n: 1234, readErr: errRead, wantSeqs: 1234, wantErr: errRead},
		{name: "caller stops", workers: 2, n: 4000, stopAfter: 700, wantSeqs: 700},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read := func(emit func(uint64, []byte) bool) error {
				buf := make([]byte, 0, 20)
				for i := 1; i <= tc.n; i++ {
					buf = strconv.AppendInt(buf[:0], int64(i)*3, 10) // reused: Run must copy
					if !emit(uint64(i), buf) {
						return nil
					}
				}
				return tc.readErr
			}
			newDecoder := func() Decoder[int] {
				return func(seq uint64, p []byte, v *int) error {
					if seq == tc.badAt {
						return errBad
					}
					n, err := strconv.Atoi(string(p))
					*v = n
					return err
				}
			}
			got, gotErr := 0, error(nil)
			Run(tc.workers, read, newDecoder, func(seq uint64, v int, err error) bool {
				if err != nil {
					gotErr = err
					if !errors.Is(err, errRead) && seq != tc.badAt {
						t.Errorf("error at record %d, want %d", seq, tc.badAt)
					}
					return false
				}
				if seq != uint64(got+1) || v != int(seq)*3 {
					t.Fatalf("got record %d = %d after %d records", seq, v, got)
				}
				got++
				return tc.stopAfter == 0 || got < tc.stopAfter
			})
			if got != tc.wantSeqs || !errors.Is(gotErr, tc.wantErr) {
				t.Fatalf("yielded %d records and %v, want %d and %v", got, gotErr, tc.wantSeqs, tc.wantErr)
			}
		})
	}
}

// BenchmarkRun decodes 100,000 small records on every core.
func BenchmarkRun(b *testing.B) {
	payloads := make([][]byte, 100_000)
	for i := range payloads {
		payloads[i] = fmt.Appendf(nil, "%d", i)
	}
	for b.Loop() {
		Run(0, func(emit func(uint64, []byte) bool) error {
			for i, p := range payloads {
				if !emit(uint64(i+1), p) {
					break
				}
			}
			return nil
		}, func() Decoder[int] {
			return func(_ uint64, p []byte, v *int) error {
				n, err := strconv.Atoi(string(p))
				*v = n
				return err
			}
		}, func(uint64, int, error) bool { return true })
	}
}

// TestRunGarbage checks that the batches are not grown record by record:
// a batch grown by append leaves garbage of about its own size behind, and
// in a fresh process (a recovery) that garbage is what starts the first
// garbage collections. The caller holds the first record until every
// batch the pipeline can hold is full, so every batch is made once; the
// bytes allocated are then compared with the payload those batches hold.
func TestRunGarbage(t *testing.T) {
	const workers, records, size = 2, 40 * batchRecords, 100
	payload := make([]byte, size)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	first := true
	Run(workers, func(emit func(uint64, []byte) bool) error {
		for i := range records {
			if !emit(uint64(i+1), payload) {
				break
			}
		}
		return nil
	}, func() Decoder[struct{}] {
		return func(uint64, []byte, *struct{}) error { return nil }
	}, func(uint64, struct{}, error) bool {
		if first {
			first = false
			time.Sleep(100 * time.Millisecond) // the reader fills every batch it can
		}
		return true
	})
	runtime.ReadMemStats(&after)
	// At most 3*workers+2 batches exist (the free list's size), each of
	// batchRecords records: their payloads, ends and sequence numbers.
	held := (3*workers + 2) * batchRecords * (size + 16)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes; the batches hold at most %d bytes", got, held)
	if limit := uint64(held) * 3 / 2; got > limit {
		t.Fatalf("allocated %d bytes for batches holding at most %d bytes; want at most %d", got, held, limit)
	}
}

// TestRunDecoderPanics: a Decoder that panics on a worker goroutine fails
// its record with an error naming the panic (yielded on the caller's
// goroutine), and the records before it come through.
func TestRunDecoderPanics(t *testing.T) {
	read := func(emit func(uint64, []byte) bool) error {
		for seq := uint64(1); seq <= 2000; seq++ {
			if !emit(seq, []byte("x")) {
				break
			}
		}
		return nil
	}
	newDecoder := func() Decoder[uint64] {
		return func(seq uint64, _ []byte, v *uint64) error {
			if seq == 1300 {
				panic("boom")
			}
			*v = seq
			return nil
		}
	}
	next := uint64(1)
	var failed error
	Run(3, read, newDecoder, func(seq uint64, v uint64, err error) bool {
		if err != nil {
			if seq != next {
				t.Errorf("error at record %d, want %d", seq, next)
			}
			failed = err
			return false
		}
		if v != seq || seq != next {
			t.Fatalf("record %d holds %d, want %d", seq, v, next)
		}
		next++
		return true
	})
	if failed == nil || !strings.Contains(failed.Error(), "panicked: boom") || next != 1300 {
		t.Fatalf("after %d records: %v, want the panic of record 1300", next-1, failed)
	}
}
