// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mini-go/mini/vfs"
)

func TestStat(t *testing.T) {
	type ev struct{ N int }
	tests := []struct {
		name    string
		records int
		segSize int64
		front   uint64 // TruncateFront before Stat, if not 0
		tear    bool   // append half a line to the active file
	}{
		{name: "empty"},
		{name: "one file", records: 10},
		{name: "rotated", records: 200, segSize: 1024},
		{name: "truncated front", records: 200, segSize: 1024, front: 57},
		{name: "torn tail", records: 30, segSize: 1024, tear: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			s, err := Open[ev](path, &Options{MaxSegmentBytes: tt.segSize})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.records {
				if _, err := s.Append(ev{i}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.front > 0 {
				if err := s.TruncateFront(tt.front); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.tear {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString(`{"seq":31,"sync":30,"rec":{"N":3`)
				f.Close()
			}
			got, err := Stat(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Inspect(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Problem != nil {
				t.Fatalf("Problem = %v, want nil", got.Problem)
			}
			if got.FirstSeq != want.FirstSeq || got.LastSeq != want.LastSeq || got.Records != want.Records ||
				got.Bytes != want.Bytes || len(got.Segments) != len(want.Segments) {
				t.Fatalf("Stat = first %d last %d records %d bytes %d segments %d; Inspect = %d %d %d %d %d",
					got.FirstSeq, got.LastSeq, got.Records, got.Bytes, len(got.Segments),
					want.FirstSeq, want.LastSeq, want.Records, want.Bytes, len(want.Segments))
			}
			for i, g := range got.Segments {
				w := want.Segments[i]
				if g.Path != w.Path || g.FirstSeq != w.FirstSeq || g.Records != w.Records || g.Bytes != w.Bytes {
					t.Fatalf("segment %d: Stat %+v, Inspect %+v", i, g, w)
				}
			}
		})
	}
}

// Damage in the newest file is an error naming the file, not the end.
func TestStatDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s, err := Open[int](path, &Options{NoPreallocate: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.Append(i); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := splitLines(b)
	off := len(lines[0]) + 1 + len(lines[1]) + 1 + 10 // inside record 2
	b[off] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Stat(path, nil)
	var je *JournalError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &je) || je.Path != path {
		t.Fatalf("Stat of a damaged journal = %v, want a *JournalError on %s matching ErrCorrupt", err, path)
	}
}

// Stat beside a writer that rotates and truncates the front all the time
// never fails, and what it reports is a consistent journal.
func TestStatLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	s := openT[string](t, path, &Options{MaxSegmentBytes: 512})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			seq, err := s.Append("a record of some length to rotate often")
			if err != nil {
				t.Error(err)
				return
			}
			if i%20 == 19 {
				if err := s.TruncateFront(seq - 10); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	deadline := time.Now().Add(time.Second)
	var prevLast uint64
	n := 0
	for time.Now().Before(deadline) {
		info, err := Stat(path, nil)
		if err != nil {
			t.Fatalf("Stat beside a live writer: %v", err)
		}
		if info.Problem != nil {
			t.Fatalf("Problem: %v", info.Problem)
		}
		if info.LastSeq < prevLast || (info.Records > 0 && info.LastSeq-info.FirstSeq+1 != info.Records) {
			t.Fatalf("Stat: first %d last %d records %d after last %d", info.FirstSeq, info.LastSeq, info.Records, prevLast)
		}
		prevLast = info.LastSeq
		n++
	}
	close(stop)
	wg.Wait()
	if prevLast == 0 || n < 10 {
		t.Fatalf("%d Stats, last seen %d: the test did not run", n, prevLast)
	}
}

// BenchmarkStat compares Stat (headers and the newest file) with Inspect
// (every record) on a journal of 100,000 records in 64 KiB segments.
func BenchmarkStat(b *testing.B) {
	path := filepath.Join(b.TempDir(), "j.log")
	s, err := Open[string](path, &Options{MaxSegmentBytes: 64 << 10, Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]string, 1000)
	for i := range batch {
		batch[i] = "a record of forty bytes or so, as usual"
	}
	for range 100 {
		if _, _, err := s.AppendBatch(batch...); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		fn   func() (*JournalInfo, error)
	}{
		{"Stat", func() (*JournalInfo, error) { return Stat(path, nil) }},
		{"Inspect", func() (*JournalInfo, error) { return Inspect(path, nil) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				info, err := bc.fn()
				if err != nil || info.Records != 100000 {
					b.Fatal(info, err)
				}
			}
		})
	}
}

// rotateOnOpen is a file system on which the first open of the active file
// at path first runs rotate: the reader then opens the new active file,
// not the one it listed.
type rotateOnOpen struct {
	vfs.FS
	path   string
	rotate func()
	done   bool
}

func (r *rotateOnOpen) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if name == r.path && !r.done {
		r.done = true
		r.rotate()
	}
	return r.FS.OpenFile(name, flag, perm)
}

// TestStatRotationWhileListed: a rotation between Stat's listing and its
// opening the active file does not make Stat miss the file renamed (the
// listing is taken again until it holds still).
func TestStatRotationWhileListed(t *testing.T) {
	m := vfs.NewMem()
	s := openT[kv](t, dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
	defer s.Close()
	appendN(t, s, 1, 2)
	fsys := &rotateOnOpen{FS: m, path: dirPath, rotate: func() {
		appendN(t, s, 3, 6) // rotates at least once
	}}
	info, err := Stat(dirPath, &Options{FS: fsys})
	if !fsys.done {
		t.Fatal("Stat did not open the active file")
	}
	if err != nil || info.FirstSeq != 1 || info.LastSeq != 8 || info.Records != 8 || len(info.Segments) < 2 {
		t.Fatalf("Stat = %+v, %v; want records 1 to 8 in two segments or more", info, err)
	}
}
