// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// collectSeqs reads Records(path, from) and returns the sequence numbers
// and the error that ended it.
func collectSeqs(path string, from uint64) ([]uint64, error) {
	var seqs []uint64
	for rec, err := range Records[int](path, from) {
		if err != nil {
			return seqs, err
		}
		seqs = append(seqs, rec.Seq)
	}
	return seqs, nil
}

// TestRecordsTruncated: a from below the first record left is a
// *TruncatedError for Records and Follow; 0 means the first record left.
func TestRecordsTruncated(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.log") // never truncated
	cut := filepath.Join(dir, "cut.log")     // records 1..10, front truncated to 5, over segments
	empty := filepath.Join(dir, "empty.log") // every record truncated: starts at 21
	for _, p := range []string{plain, cut, empty} {
		s, err := Open[int](p, &Options{MaxSegmentBytes: 256})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 10; i++ {
			if _, err := s.Append(i); err != nil {
				t.Fatal(err)
			}
		}
		switch p {
		case cut:
			err = s.TruncateFront(5)
		case empty:
			err = s.TruncateFront(21)
		}
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	for _, tc := range []struct {
		name  string
		path  string
		from  uint64
		want  []uint64
		first uint64 // a *TruncatedError with this First; 0: no error
	}{
		{"plain from 0", plain, 0, seqRange[uint64](1, 10), 0},
		{"plain from 1", plain, 1, seqRange[uint64](1, 10), 0},
		{"plain from 4", plain, 4, seqRange[uint64](4, 10), 0},
		{"plain past the end", plain, 11, nil, 0},
		{"cut from 0", cut, 0, seqRange[uint64](5, 10), 0},
		{"cut from 1", cut, 1, nil, 5},
		{"cut from 4", cut, 4, nil, 5},
		{"cut from 5", cut, 5, seqRange[uint64](5, 10), 0},
		{"cut from 8", cut, 8, seqRange[uint64](8, 10), 0},
		{"empty from 0", empty, 0, nil, 0},
		{"empty from 1", empty, 1, nil, 21},
		{"empty from 21", empty, 21, nil, 0},
		{"missing from 1", filepath.Join(dir, "none.log"), 1, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collectSeqs(tc.path, tc.from)
			if !slices.Equal(got, tc.want) {
				t.Errorf("records %v, want %v", got, tc.want)
			}
			checkTruncated(t, err, tc.path, tc.from, tc.first)
			// Follow reads the same, then waits: stop it at once.
			ctx, cancel := context.WithTimeout(context.Background(), 3*FollowPoll)
			defer cancel()
			got, err = nil, nil
			for rec, e := range Follow[int](ctx, tc.path, tc.from) {
				if e != nil {
					err = e
					break
				}
				got = append(got, rec.Seq)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Follow: records %v, want %v", got, tc.want)
			}
			checkTruncated(t, err, tc.path, tc.from, tc.first)
		})
	}
	// Replay returns what is left.
	if got, err := Replay[int](cut); err != nil || !slices.Equal(got, []int{5, 6, 7, 8, 9, 10}) {
		t.Errorf("Replay = %v, %v", got, err)
	}
}

func checkTruncated(t *testing.T, err error, path string, from, first uint64) {
	t.Helper()
	if first == 0 {
		if err != nil {
			t.Errorf("error %v", err)
		}
		return
	}
	var te *TruncatedError
	if !errors.As(err, &te) || !errors.Is(err, ErrTruncated) {
		t.Fatalf("error %v, want a *TruncatedError", err)
	}
	if te.First != first || te.From != from || te.Path != path {
		t.Errorf("got %+v, want first %d from %d path %s", te, first, from, path)
	}
}

// followAll follows path from 1 until it has read n records or ctx is
// done, checking that they are 1..n, each once, in order, with value ==
// seq; progress is stored after each.
func followAll(ctx context.Context, t *testing.T, path string, n uint64, progress *atomic.Uint64) {
	t.Helper()
	want := uint64(1)
	for rec, err := range Follow[uint64](ctx, path, 1) {
		if err != nil {
			t.Fatalf("after record %d: %v", want-1, err)
		}
		if rec.Seq != want || rec.Value != want {
			t.Fatalf("record %d = %d, want record %d", rec.Seq, rec.Value, want)
		}
		progress.Store(want)
		if want == n {
			return
		}
		want++
	}
	t.Fatalf("Follow ended after record %d of %d: %v", want-1, n, ctx.Err())
}

// TestFollowRotateTruncate: a follower reads every record of a writer in
// another goroutine once, in order, while the writer rotates every few
// records and truncates the front behind the follower.
func TestFollowRotateTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	const n = 3000
	s := openT[uint64](t, path, &Options{MaxSegmentBytes: 1 << 10, Sync: SyncNever})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var progress atomic.Uint64
	var truncations, rotations atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for i := uint64(1); i <= n; i++ {
				segs := len(s.Segments())
				if _, err := s.Append(i); err != nil {
					return err
				}
				if len(s.Segments()) > segs {
					rotations.Add(1)
				}
				if i%97 == 0 {
					// Drop what the follower has read, but one record
					// into a segment: whole files deleted, one rewritten.
					if p := progress.Load(); p > 1 {
						if err := s.TruncateFront(p); err != nil {
							return err
						}
						truncations.Add(1)
					}
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond) // let the follower catch up now and then
				}
			}
			return nil
		}()
	}()
	followAll(ctx, t, path, n, &progress)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if truncations.Load() == 0 || rotations.Load() < 10 {
		t.Fatalf("%d truncations, %d rotations: the test did not exercise them", truncations.Load(), rotations.Load())
	}
	t.Logf("%d records, %d rotations, %d front truncations", n, rotations.Load(), truncations.Load())
}

// TestFollowFallsBehind: a TruncateFront past what a follower has read is
// a *TruncatedError, not a silent jump.
func TestFollowFallsBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[uint64](t, path, &Options{MaxSegmentBytes: 512})
	for i := uint64(1); i <= 20; i++ {
		s.Append(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var last uint64
	for rec, err := range Follow[uint64](ctx, path, 0) {
		if err != nil {
			var te *TruncatedError
			if !errors.As(err, &te) || te.From != 21 || te.First != 30 {
				t.Fatalf("error %v, want records truncated from 21 to 30", err)
			}
			return
		}
		last = rec.Seq
		if rec.Seq == 20 {
			for i := uint64(21); i <= 40; i++ {
				s.Append(i)
			}
			if err := s.TruncateFront(30); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatalf("Follow ended after %d without an error", last)
}

// TestFollowCancel: a follower waiting at the end stops soon after ctx is
// done, without an error.
func TestFollowCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	for _, err := range Follow[int](ctx, path, 0) { // no journal yet: waits
		t.Fatalf("yielded %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v to stop", d)
	}
}

// TestFollowTornTail: a record half written at the end of the active file
// is not yielded; when the rest of it arrives it is.
func TestFollowTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s, err := Open[int](path, &Options{Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	s.Append(1)
	s.Close()
	line := appendLine(nil, FormatV1, 2, 1, []byte("2"))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(line[:len(line)/2]) // a write in flight
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []int
	for rec, err := range Follow[int](ctx, path, 1) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.Value)
		if rec.Seq == 1 {
			time.Sleep(5 * FollowPoll) // several polls see the half line
			f.Write(line[len(line)/2:])
		}
		if rec.Seq == 2 {
			cancel()
		}
	}
	if !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("got %v, want [1 2]", got)
	}
}

// TestFollowProcess: the writer is another process (this test binary run
// again); it rotates and truncates behind the follower, whose progress it
// reads from a file.
func TestFollowProcess(t *testing.T) {
	if dir := os.Getenv("MINI_FOLLOW_WRITER"); dir != "" {
		followWriter(t, dir)
		return
	}
	dir := t.TempDir()
	const n = 2000
	cmd := exec.Command(os.Args[0], "-test.run=^TestFollowProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MINI_FOLLOW_WRITER="+dir, "MINI_FOLLOW_N="+strconv.Itoa(n))
	out := make(chan []byte, 1)
	go func() { b, _ := cmd.CombinedOutput(); out <- b }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var progress atomic.Uint64
	stop := make(chan struct{})
	go func() { // publish progress for the writer
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			os.WriteFile(filepath.Join(dir, "progress.tmp"), []byte(strconv.FormatUint(progress.Load(), 10)), 0o644)
			os.Rename(filepath.Join(dir, "progress.tmp"), filepath.Join(dir, "progress"))
		}
	}()
	followAll(ctx, t, filepath.Join(dir, "j.log"), n, &progress)
	close(stop)
	b := <-out
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		t.Fatalf("writer: %s", b)
	}
	t.Logf("writer: %s", b)
}

func followWriter(t *testing.T, dir string) {
	n, _ := strconv.ParseUint(os.Getenv("MINI_FOLLOW_N"), 10, 64)
	s := openT[uint64](t, filepath.Join(dir, "j.log"), &Options{MaxSegmentBytes: 1 << 10, Sync: SyncNever})
	truncations := 0
	for i := uint64(1); i <= n; i++ {
		if _, err := s.Append(i); err != nil {
			t.Fatal(err)
		}
		if i%97 == 0 {
			b, _ := os.ReadFile(filepath.Join(dir, "progress"))
			if p, err := strconv.ParseUint(string(b), 10, 64); err == nil && p > 1 {
				if err := s.TruncateFront(p); err != nil {
					t.Fatal(err)
				}
				truncations++
			}
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	fmt.Printf("wrote %d records, %d segments left, %d front truncations\n", n, len(s.Segments()), truncations)
}

// BenchmarkFollowLatency: the time from Append returning to Follow, in
// another goroutine, yielding the record (at most about FollowPoll when
// the follower is waiting).
func BenchmarkFollowLatency(b *testing.B) {
	path := filepath.Join(b.TempDir(), "j.log")
	s, err := Open[uint64](path, &Options{Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan uint64)
	go func() {
		for rec, err := range Follow[uint64](ctx, path, 0) {
			if err != nil {
				b.Error(err)
				return
			}
			got <- rec.Seq
		}
	}()
	for b.Loop() {
		seq, err := s.Append(1)
		if err != nil {
			b.Fatal(err)
		}
		if r := <-got; r != seq {
			b.Fatalf("followed %d, appended %d", r, seq)
		}
	}
}

// BenchmarkFollowBacklog: reading a backlog of 100 000 records with Follow
// (which then waits; cancelled at the last) against Records.
func BenchmarkFollowBacklog(b *testing.B) {
	path := filepath.Join(b.TempDir(), "j.log")
	s, err := Open[uint64](path, &Options{Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	for i := range uint64(n) {
		s.Append(i)
	}
	s.Close()
	b.Run("Records", func(b *testing.B) {
		for b.Loop() {
			k := 0
			for _, err := range Records[uint64](path, 0) {
				if err != nil {
					b.Fatal(err)
				}
				k++
			}
			if k != n {
				b.Fatal(k)
			}
		}
	})
	b.Run("Follow", func(b *testing.B) {
		for b.Loop() {
			ctx, cancel := context.WithCancel(context.Background())
			k := 0
			for rec, err := range Follow[uint64](ctx, path, 0) {
				if err != nil {
					b.Fatal(err)
				}
				if k++; rec.Seq == n {
					cancel()
				}
			}
			cancel()
			if k != n {
				b.Fatal(k)
			}
		}
	})
}
