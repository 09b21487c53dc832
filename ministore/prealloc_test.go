// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io/fs"
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
