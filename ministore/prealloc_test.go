// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// Issue #13, item 5: a nearly full disk. Preallocation asks for 4 MiB; when
// the disk has less, it must ask for less, then for nothing, instead of
// failing the first Append and the Store for good. And every error names a
// file that exists: the active file, not the NAME.tmp it was created as.
//
// Both with files that write a batch with one vectored write and with
// files that take one WriteAt a buffer (vfs.WriteVecAt's fallback).
func TestPreallocationDegradesOnFullDisk(t *testing.T) {
	for _, vectored := range []bool{true, false} {
		t.Run(fmt.Sprintf("vectored=%v", vectored), func(t *testing.T) { testPreallocationDegrades(t, vectored) })
	}
}

func testPreallocationDegrades(t *testing.T, vectored bool) {
	for _, tc := range []struct {
		name     string
		failures int64 // writes after Open that fail with ENOSPC
		prealloc bool  // whether the active file is still preallocated
		fails    bool  // whether the Append fails
	}{
		{"4 MiB does not fit", 1, true, false},
		{"1 MiB does not fit", 2, true, false},
		{"256 KiB does not fit", 3, true, false},
		{"64 KiB does not fit", 4, false, false},
		{"the record does not fit", 1 << 20, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			var inner vfs.FS = mem
			if !vectored {
				inner = plainFileFS{mem}
			}
			fsys := vfs.NewFaulty(inner)
			var armed atomic.Bool
			var left atomic.Int64
			left.Store(tc.failures)
			fsys.FailWhen(func(op vfs.Op) error {
				if armed.Load() && op.Kind == vfs.OpWrite && left.Add(-1) >= 0 {
					return syscall.ENOSPC
				}
				return nil
			})
			s := openT[kv](t, "/d/j.log", quietOptions(Options{}, fsys))
			armed.Store(true)
			seq, err := s.Append(kv{K: "a", V: 1})
			armed.Store(false)
			if tc.fails {
				if err == nil || !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Append = %d, %v; want ENOSPC", seq, err)
				}
				if strings.Contains(err.Error(), ".tmp") || !strings.Contains(err.Error(), "/d/j.log") {
					t.Fatalf("the error does not name the journal: %v", err)
				}
				return
			}
			if err != nil || seq != 1 {
				t.Fatalf("Append = %d, %v; want 1 with %d ENOSPC failures of preallocation", seq, err, tc.failures)
			}
			if left.Load() > 0 {
				t.Fatalf("only %d of %d failures injected", tc.failures-left.Load(), tc.failures)
			}
			appendN(t, s, 2, 50)
			segs := s.Segments()
			if a := segs[len(segs)-1]; (a.Bytes > a.End) != tc.prealloc {
				t.Fatalf("active file %d bytes, records end at %d; want preallocated %v", a.Bytes, a.End, tc.prealloc)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := Open[kv]("/d/j.log", quietOptions(Options{}, mem))
			if err != nil || s2.LastSeq() != 51 {
				t.Fatalf("reopen: %v, last %d", err, s2.LastSeq())
			}
			s2.Close()
		})
	}
}

// A disk with 2 MiB free, as in the issue: the first 30-byte Append
// failed because preallocation asked for 4 MiB, and the Store was failed
// for good. Now the records go on until they themselves do not fit.
func TestNearlyFullDisk(t *testing.T) {
	fsys := &smallDisk{FS: vfs.NewMem(), free: 2 << 20}
	s := openT[kv](t, "/d/j.log", quietOptions(Options{}, fsys))
	n := 0
	for ; n < 1_000_000; n++ {
		if _, err := s.Append(kv{K: "k", V: n}); err != nil {
			if !errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), ".tmp") {
				t.Fatalf("Append %d: %v", n, err)
			}
			break
		}
	}
	// The records fill the disk to within one line.
	if n == 0 || fsys.free >= 128 {
		t.Fatalf("ENOSPC after %d records with %d bytes free", n, fsys.free)
	}
	t.Logf("%d records appended before ENOSPC (%d bytes free)", n, fsys.free)
	s.Close()
	// Every acknowledged record is there; the half-written one is not.
	s2, err := Open[kv]("/d/j.log", quietOptions(Options{}, fsys))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if s2.LastSeq() != uint64(n) {
		t.Fatalf("reopen: last %d, want %d", s2.LastSeq(), n)
	}
	s2.Close()
}

// plainFileFS is a file system whose files have neither WriteVecAt nor
// Allocate: vfs.WriteVecAt writes one buffer at a time.
type plainFileFS struct{ vfs.FS }

func (d plainFileFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := d.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return struct{ vfs.File }{f}, nil
}

// smallDisk is a file system with a fixed number of free bytes: a write
// that would grow the files beyond it fails with ENOSPC and writes
// nothing; a truncation gives the space back.
type smallDisk struct {
	vfs.FS
	mu   sync.Mutex
	free int64
}

func (d *smallDisk) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := d.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &smallFile{File: f, d: d}, nil
}

type smallFile struct {
	vfs.File
	d *smallDisk
}

func (f *smallFile) WriteAt(b []byte, off int64) (int, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	size, err := f.File.Size()
	if err != nil {
		return 0, err
	}
	grow := max(0, off+int64(len(b))-size)
	if grow > f.d.free {
		return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.d.free -= grow
	return f.File.WriteAt(b, off)
}

func (f *smallFile) Truncate(n int64) error {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	size, err := f.File.Size()
	if err != nil {
		return err
	}
	if n > size && n-size > f.d.free {
		return &fs.PathError{Op: "truncate", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.d.free -= n - size
	return f.File.Truncate(n)
}

// Issue #15: the zeros a batch is written into are written and fsync'd
// before, by the leader of an earlier batch after it acknowledged its
// records: no zeros are written in an acknowledged writer's path, and each
// batch's fdatasync overwrites blocks that are already durable, as a loop
// rewriting a file in place does. Only the first batch after Open is
// written without: into zeros written just before it (a small batch) or
// past the end of the file (a big one). Batches of aheadBatch and more
// grow the file instead: no zeros at all.
func TestZerosPreparedAhead(t *testing.T) {
	rec := func(pad int) kv { return kv{K: strings.Repeat("x", pad)} }
	for _, tc := range []struct {
		name  string
		n     int // AppendBatch calls
		batch int // records in each
		pad   int
		grows bool // batches too big for zeros ahead
	}{
		{"4 KiB records", 1100, 1, 4 << 10, false},
		{"60 KiB batches", 120, 15, 4 << 10, false},
		{"200 KiB batches", 25, 50, 4 << 10, false},
		{"1 MiB records", 5, 1, 1 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := &opLogFS{FS: vfs.NewMem()}
			s, err := Open[kv]("/d/j.log", quietOptions(Options{}, fsys))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fsys.armed.Store(true)
			recs := make([]kv, tc.batch)
			for i := range recs {
				recs[i] = rec(tc.pad)
			}
			for range tc.n {
				if _, _, err := s.AppendBatch(recs...); err != nil {
					t.Fatal(err)
				}
			}
			fsys.armed.Store(false)
			ops := fsys.log
			// Skip the first batch: up to its fsync.
			first := slices.IndexFunc(ops, func(o loggedOp) bool { return o.kind == 'S' })
			if first < 0 {
				t.Fatal("no fsync")
			}
			var zeroEnd, syncedEnd int64
			for _, o := range ops[:first] {
				if o.kind == 'Z' {
					zeroEnd = max(zeroEnd, o.off+o.n)
				}
			}
			syncedEnd = zeroEnd
			batches, aheads := 1, 0
			for i := first + 1; i < len(ops); i++ {
				switch o := ops[i]; o.kind {
				case 'Z':
					zeroEnd = max(zeroEnd, o.off+o.n)
				case 'S':
					if ops[i-1].kind == 'Z' {
						aheads++
					}
					syncedEnd = zeroEnd
				case 'D':
					batches++
					if ops[i-1].kind != 'S' {
						t.Fatalf("op %d: batch %d written after %c, not right after an fsync: zeros in its writer's path", i, batches, ops[i-1].kind)
					}
					if tc.grows {
						if o.off < zeroEnd || o.off != ops[i-2].off+ops[i-2].n {
							t.Fatalf("op %d: batch %d at [%d, %d), not at the end of the file", i, batches, o.off, o.off+o.n)
						}
						zeroEnd = o.off + o.n
						syncedEnd = zeroEnd
						break
					}
					if o.off+o.n > syncedEnd {
						t.Fatalf("op %d: batch %d at [%d, %d) goes past the durable zeros, which end at %d",
							i, batches, o.off, o.off+o.n, syncedEnd)
					}
				default:
					t.Fatalf("op %d: unexpected %c", i, o.kind)
				}
			}
			if batches != tc.n || (aheads == 0) != tc.grows {
				t.Fatalf("%d batches written, %d steps of zeros prepared ahead; want %d and some (none if it grows: %v)", batches, aheads, tc.n, tc.grows)
			}
			t.Logf("%d batches, %d steps of zeros prepared ahead", batches, aheads)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := Open[kv]("/d/j.log", quietOptions(Options{}, fsys))
			if err != nil || s2.LastSeq() != uint64(tc.n*tc.batch) {
				t.Fatalf("reopen: %v, last %d", err, s2.LastSeq())
			}
			s2.Close()
		})
	}
}

// opLogFS is a file system that logs, while armed, the writes and fsyncs
// of its files: 'Z' a write of zeros, 'D' a write of anything else, 'S' an
// fsync, 'T' a truncation.
type opLogFS struct {
	vfs.FS
	armed atomic.Bool
	mu    sync.Mutex
	log   []loggedOp
}

type loggedOp struct {
	kind   byte
	off, n int64
}

func (d *opLogFS) add(kind byte, off, n int64) {
	if !d.armed.Load() {
		return
	}
	d.mu.Lock()
	d.log = append(d.log, loggedOp{kind, off, n})
	d.mu.Unlock()
}

func (d *opLogFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := d.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &opLogFile{File: f, d: d}, nil
}

type opLogFile struct {
	vfs.File
	d *opLogFS
}

func (f *opLogFile) WriteAt(b []byte, off int64) (int, error) {
	return f.WriteVecAt([][]byte{b}, off)
}

func (f *opLogFile) WriteVecAt(bufs [][]byte, off int64) (int, error) {
	kind, n := byte('Z'), int64(0)
	for _, b := range bufs {
		if !allZero(b) {
			kind = 'D'
		}
		n += int64(len(b))
	}
	f.d.add(kind, off, n)
	return vfs.WriteVecAt(f.File, bufs, off)
}

func (f *opLogFile) Sync() error {
	f.d.add('S', 0, 0)
	return f.File.Sync()
}

func (f *opLogFile) Truncate(size int64) error {
	f.d.add('T', size, 0)
	return f.File.Truncate(size)
}
